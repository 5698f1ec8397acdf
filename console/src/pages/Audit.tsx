import { Button, Code, Group, Modal, Pagination, Stack, Table, Text, TextInput } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconFilter, IconHistory } from '@tabler/icons-react';
import { useState } from 'react';
import { type AuditEntry, client } from '../api';
import { hiddenColumn, ListScaffold, ListTable } from '../components/ListScaffold';
import { formatDateTime } from '../format';
import { useLoad } from '../shared';

const PAGE = 25;

interface Filters {
  action: string;
  actorId: string;
  targetType: string;
  targetId: string;
  since: string;
  until: string;
}

const EMPTY: Filters = { action: '', actorId: '', targetType: '', targetId: '', since: '', until: '' };

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

const TYPE_LABELS: Record<string, string> = {
  user: 'User',
  service_account: 'Service account',
  access_key: 'Access key',
  group: 'Group',
  role: 'Role',
  tenant: 'Tenant',
  system: 'Operator (CLI)',
};

type Party = AuditEntry['actor'];

/** The words for an actor or target: its name, or why there is none. */
function partyName(p: Party): string {
  if (p.name) return p.name;
  return p.type === 'system' ? 'Operator' : 'no longer exists';
}

/** An actor or target: its current name (from the server), what it is and its id. */
function PartyCell({ party }: { party: Party }) {
  return (
    <>
      <Text size="sm" fs={party.name ? undefined : 'italic'} c={party.name ? undefined : 'dimmed'}>
        {partyName(party)}
      </Text>
      <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
        {TYPE_LABELS[party.type] ?? party.type} · {party.id}
      </Text>
    </>
  );
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const phone = useMediaQuery('(max-width: 48em)');
  const [filtersShown, setFiltersShown] = useState(false);
  const entries = useLoad(
    (signal) =>
      client.listAudit(
        {
          query: {
            action: filters.action,
            actorId: filters.actorId,
            targetType: filters.targetType,
            targetId: filters.targetId,
            since: toIso(filters.since),
            until: toIso(filters.until),
            limit: PAGE,
            offset: (page - 1) * PAGE,
          },
        },
        { signal },
      ),
    [filters, page],
  );
  const field = (k: keyof Filters, label: string, extra: Record<string, unknown> = {}) => (
    <TextInput
      label={label}
      value={draft[k]}
      onChange={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
      {...extra}
    />
  );
  const activeFilters = Object.values(filters).filter(Boolean).length;
  return (
    <ListScaffold
      title="Audit log"
      toolbar={
        <>
          {/* A phone shows the entries first; its filters open on demand. */}
          {phone ? (
            <Button
              variant="default"
              leftSection={<IconFilter size={16} aria-hidden />}
              aria-expanded={filtersShown}
              aria-controls="audit-filters"
              onClick={() => setFiltersShown((v) => !v)}
            >
              {filtersShown ? 'Hide filters' : 'Filters'}
              {activeFilters > 0 ? ` (${activeFilters} applied)` : ''}
            </Button>
          ) : null}
          {phone && !filtersShown ? null : (
            <form
              id="audit-filters"
              onSubmit={(e) => {
                e.preventDefault();
                setPage(1);
                setFilters(draft);
              }}
            >
              <Group align="flex-end">
                {field('action', 'Action', { placeholder: 'access_key. (prefix)' })}
                {field('actorId', 'Actor ID')}
                {field('targetType', 'Target type', { placeholder: 'access_key, user…' })}
                {field('targetId', 'Target ID')}
                {field('since', 'Since', { type: 'datetime-local' })}
                {field('until', 'Until', { type: 'datetime-local' })}
                <Button type="submit">Apply filters</Button>
                <Button
                  variant="default"
                  onClick={() => {
                    setDraft(EMPTY);
                    setFilters(EMPTY);
                    setPage(1);
                  }}
                >
                  Clear
                </Button>
              </Group>
            </form>
          )}
        </>
      }
      list={entries}
      loadingLabel="Loading audit log"
      empty={{
        icon: <IconHistory aria-hidden />,
        title: 'No entries',
        description: 'Nothing matches these filters. Widen the time range or clear the filters.',
      }}
      extra={
        <Modal opened={open !== null} onClose={() => setOpen(null)} title={open?.action ?? ''} size="xl">
          {open ? (
            <Stack>
              <Text size="sm">{formatDateTime(open.at)}</Text>
              <Text size="sm">
                By {partyName(open.actor)} ({TYPE_LABELS[open.actor.type] ?? open.actor.type} {open.actor.id}
                ), on {partyName(open.target)} ({TYPE_LABELS[open.target.type] ?? open.target.type}{' '}
                {open.target.id})
              </Text>
              <Text size="sm">
                Request id <Code>{open.requestId ?? '—'}</Code>
              </Text>
              <Text fw={500}>Before</Text>
              <Code block>{JSON.stringify(open.before, null, 2)}</Code>
              <Text fw={500}>After</Text>
              <Code block>{JSON.stringify(open.after, null, 2)}</Code>
            </Stack>
          ) : null}
        </Modal>
      }
    >
      {(items, data) => (
        <>
          <ListTable
            label="Audit log"
            minWidth={800}
            striped
            columns={['When', 'Action', 'Actor', 'Target', 'Source', hiddenColumn('Details')]}
          >
            {items.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>{formatDateTime(a.at)}</Table.Td>
                <Table.Td>
                  <Code>{a.action}</Code>
                </Table.Td>
                <Table.Td data-testid="audit-actor">
                  <PartyCell party={a.actor} />
                </Table.Td>
                <Table.Td data-testid="audit-target">
                  <PartyCell party={a.target} />
                </Table.Td>
                <Table.Td>
                  <Text size="xs">{a.sourceIp ?? '—'}</Text>
                </Table.Td>
                <Table.Td>
                  <Button
                    size="xs"
                    variant="subtle"
                    onClick={() => setOpen(a)}
                    aria-label={`Details of ${a.action} at ${formatDateTime(a.at)}`}
                  >
                    Details
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </ListTable>
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              {data.total} entries
            </Text>
            <Pagination
              total={Math.max(1, Math.ceil(data.total / PAGE))}
              value={page}
              onChange={setPage}
              getControlProps={(control) => ({ 'aria-label': `${control} page` })}
            />
          </Group>
        </>
      )}
    </ListScaffold>
  );
}
