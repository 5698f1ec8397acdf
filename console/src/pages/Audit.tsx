import {
  Button,
  Code,
  EmptyState,
  Group,
  Loader,
  Modal,
  Pagination,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconHistory } from '@tabler/icons-react';
import { useState } from 'react';
import { type AuditEntry, api, type Page, query } from '../api';
import { formatDateTime } from '../format';
import { ErrorAlert, useLoad } from '../shared';

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

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const entries = useLoad(
    (signal) =>
      api.get<Page<AuditEntry>>(
        `/iam/audit${query({
          action: filters.action,
          actorId: filters.actorId,
          targetType: filters.targetType,
          targetId: filters.targetId,
          since: toIso(filters.since),
          until: toIso(filters.until),
          limit: PAGE,
          offset: (page - 1) * PAGE,
        })}`,
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
  return (
    <Stack>
      <Title order={2}>Audit log</Title>
      <form
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
      <ErrorAlert error={entries.error} />
      {entries.loading && !entries.data ? <Loader aria-label="Loading audit log" /> : null}
      {entries.data && entries.data.items.length === 0 ? (
        <EmptyState
          icon={<IconHistory aria-hidden />}
          title="No entries"
          description="Nothing matches these filters. Widen the time range or clear the filters."
        />
      ) : null}
      {entries.data && entries.data.items.length > 0 ? (
        <>
          <Table.ScrollContainer minWidth={800}>
            <Table aria-label="Audit log" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Actor</Table.Th>
                  <Table.Th>Target</Table.Th>
                  <Table.Th>Source</Table.Th>
                  <Table.Th>
                    <span className="visually-hidden">Details</span>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {entries.data.items.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>{formatDateTime(a.at)}</Table.Td>
                    <Table.Td>
                      <Code>{a.action}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs">{a.actor.type}</Text>
                      <Text size="xs" c="dimmed">
                        {a.actor.id}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs">{a.target.type}</Text>
                      <Text size="xs" c="dimmed">
                        {a.target.id}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs">{a.sourceIp ?? '—'}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="subtle"
                        onClick={() => setOpen(a)}
                        aria-label={`Details of ${a.action} at ${a.at}`}
                      >
                        Details
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              {entries.data.total} entries
            </Text>
            <Pagination
              total={Math.max(1, Math.ceil(entries.data.total / PAGE))}
              value={page}
              onChange={setPage}
              getControlProps={(control) => ({ 'aria-label': `${control} page` })}
            />
          </Group>
        </>
      ) : null}
      <Modal opened={open !== null} onClose={() => setOpen(null)} title={open?.action ?? ''} size="xl">
        {open ? (
          <Stack>
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
    </Stack>
  );
}
