import {
  Button,
  EmptyState,
  Group,
  Loader,
  Modal,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconKey, IconPlus, IconSearch } from '@tabler/icons-react';
import { useState } from 'react';
import { api, type CreatedKey, type KeyView, type Page, query } from '../api';
import { ownerPath } from '../components/ApiAccessPanel';
import { KeyDetailsDrawer, KeyTable } from '../components/KeyDetails';
import { KeyForm } from '../components/KeyForm';
import { ErrorAlert, useConsole, useLoad } from '../shared';

/** The tenant-wide Access keys tab. */
export function AccessKeysPage() {
  const { can } = useConsole();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  const [status, setStatus] = useState<string | null>(null);
  const [type, setType] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [details, setDetails] = useState<string | null>(null);
  const [revealed, setRevealed] = useState<CreatedKey | null>(null);
  const keys = useLoad(
    (signal) =>
      api.get<Page<KeyView>>(`/iam/keys${query({ search: debounced, status, type, limit: 200 })}`, {
        signal,
      }),
    [debounced, status, type],
  );
  const filtered = Boolean(debounced || status || type);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Access keys</Title>
        <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
          Add key
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        {can('iam:keys:read')
          ? 'Every access key of the tenant. Open Actions on a key for its details, expiry, secret, permissions and status.'
          : 'Your access keys.'}
      </Text>
      <Group align="flex-end">
        <TextInput
          label="Search keys"
          placeholder="Name or access key"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
        />
        <Select
          label="Status"
          placeholder="Any status"
          clearable
          value={status}
          onChange={setStatus}
          data={[
            { value: 'active', label: 'Active' },
            { value: 'inactive', label: 'Inactive' },
            { value: 'expiring_soon', label: 'Expiring soon' },
            { value: 'expired', label: 'Expired' },
          ]}
        />
        <Select
          label="Key type"
          placeholder="Any type"
          clearable
          value={type}
          onChange={setType}
          data={[
            { value: 'access', label: 'Access' },
            { value: 'api', label: 'API' },
          ]}
        />
      </Group>
      <ErrorAlert error={keys.error} />
      {keys.loading && !keys.data ? <Loader aria-label="Loading keys" /> : null}
      {keys.data && keys.data.items.length === 0 ? (
        <EmptyState
          icon={<IconKey aria-hidden />}
          title={filtered ? 'No key matches these filters' : 'No access keys yet'}
          description={
            filtered ? 'Clear the filters to see every key.' : 'Click Add key to create the first access key.'
          }
        />
      ) : null}
      {keys.data && keys.data.items.length > 0 ? (
        <KeyTable
          keys={keys.data.items}
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
      ) : null}
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add key" size="lg">
        <KeyForm
          submitLabel="Confirm"
          onCancel={() => setAdding(false)}
          onSubmit={async ({ owner, body }) => {
            const created = await api.post<CreatedKey>(`${ownerPath(owner)}/keys`, body);
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
      />
    </Stack>
  );
}
