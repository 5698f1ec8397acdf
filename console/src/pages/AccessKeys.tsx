import { Button, Group, Modal, Select } from '@mantine/core';
import { IconKey, IconPlus } from '@tabler/icons-react';
import { useRef, useState } from 'react';
import { PAGE_SIZE } from '../../../src/limits';
import { type CreatedKey, client, type KeyState, type KeyType } from '../api';
import { KeyDetailsDrawer, KeyTable } from '../components/KeyDetails';
import { KeyForm } from '../components/KeyForm';
import { ListScaffold, SearchBox, useSearch } from '../components/ListScaffold';
import { principalClient } from '../principals';
import { useRefreshWhileVisible } from '../refresh';
import { useConsole, useLoad } from '../shared';

const STATES: Array<{ value: KeyState; label: string }> = [
  { value: 'active', label: 'Active' },
  { value: 'inactive', label: 'Inactive' },
  { value: 'expiring_soon', label: 'Expiring soon' },
  { value: 'expired', label: 'Expired' },
];

const TYPES: Array<{ value: KeyType; label: string }> = [
  { value: 'access', label: 'Access' },
  { value: 'api', label: 'API' },
];

/** "Unused for …": keys not used (never used: not created) in the last N days. */
const UNUSED: Array<{ value: string; label: string }> = [
  { value: '30', label: '30 days or more' },
  { value: '90', label: '90 days or more' },
  { value: '180', label: '180 days or more' },
];

/** A filter of the key list: one value or any. */
function FilterSelect<V extends string>({
  label,
  placeholder,
  value,
  onChange,
  data,
}: {
  label: string;
  placeholder: string;
  value: V | null;
  onChange: (value: V | null) => void;
  data: Array<{ value: V; label: string }>;
}) {
  return (
    <Select
      label={label}
      placeholder={placeholder}
      clearable
      value={value}
      onChange={(v) => onChange(v as V | null)}
      data={data}
    />
  );
}

/** The tenant-wide Access keys tab. */
export function AccessKeysPage() {
  const { can } = useConsole();
  const search = useSearch();
  const [status, setStatus] = useState<KeyState | null>(null);
  const [type, setType] = useState<KeyType | null>(null);
  const [unused, setUnused] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [details, setDetails] = useState<string | null>(null);
  const [revealed, setRevealed] = useState<CreatedKey | null>(null);
  const keys = useLoad(
    (signal) =>
      client.listKeys(
        {
          query: {
            search: search.debounced,
            status: status ?? undefined,
            type: type ?? undefined,
            unusedDays: unused ? Number(unused) : undefined,
            limit: PAGE_SIZE.max,
          },
        },
        { signal },
      ),
    [search.debounced, status, type, unused],
  );
  // "Last used" and states move while the page is open: read the list again.
  useRefreshWhileVisible(keys.reload);
  const filtered = Boolean(search.debounced || status || type || unused);
  const addRef = useRef<HTMLButtonElement>(null);
  return (
    <ListScaffold
      title="Access keys"
      action={
        <Button ref={addRef} leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
          Add key
        </Button>
      }
      description={
        can('iam:keys:read')
          ? 'Every access key of the tenant. Open Actions on a key for its details, expiry, secret, permissions and status.'
          : 'Your access keys.'
      }
      toolbar={
        <Group align="flex-end">
          <SearchBox label="Search keys" placeholder="Name or access key" search={search} />
          <FilterSelect
            label="Status"
            placeholder="Any status"
            value={status}
            onChange={setStatus}
            data={STATES}
          />
          <FilterSelect
            label="Key type"
            placeholder="Any type"
            value={type}
            onChange={setType}
            data={TYPES}
          />
          <FilterSelect
            label="Unused for"
            placeholder="Any"
            value={unused}
            onChange={setUnused}
            data={UNUSED}
          />
        </Group>
      }
      list={keys}
      loadingLabel="Loading keys"
      empty={{
        icon: <IconKey aria-hidden />,
        title: filtered ? 'No key matches these filters' : 'No access keys yet',
        description: filtered
          ? 'Clear the filters to see every key.'
          : 'Click Add key to create the first access key.',
      }}
      extra={
        <>
          <Modal opened={adding} onClose={() => setAdding(false)} title="Add key" size="lg">
            <KeyForm
              submitLabel="Confirm"
              onCancel={() => setAdding(false)}
              onSubmit={async ({ owner, body }) => {
                const created = await principalClient(owner).createKey(body);
                setAdding(false);
                setRevealed(created);
                setDetails(created.accessKeyId);
                keys.reload();
              }}
            />
          </Modal>
          <KeyDetailsDrawer
            accessKeyId={details}
            revealed={revealed}
            onClose={() => {
              setDetails(null);
              setRevealed(null);
            }}
            onChanged={keys.reload}
            fallbackFocus={addRef}
          />
        </>
      }
    >
      {(items) => (
        <KeyTable
          keys={items}
          showOwner
          onChanged={keys.reload}
          onOpenDetails={(k) => {
            setRevealed(null);
            setDetails(k.accessKeyId);
          }}
          onSecret={(created) => {
            setRevealed(created);
            setDetails(created.accessKeyId);
          }}
        />
      )}
    </ListScaffold>
  );
}
