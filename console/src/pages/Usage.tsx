import {
  Anchor,
  Card,
  Code,
  EmptyState,
  Group,
  Loader,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconChartBar } from '@tabler/icons-react';
import { useId, useState } from 'react';
import { OWN_ROUTES_NAME } from '../../../src/contract/views';
import { client } from '../api';
import { KeyDetailsDrawer } from '../components/KeyDetails';
import { ListTable } from '../components/ListScaffold';
import { UsageChart } from '../components/UsageChart';
import { ConsoleLink, ErrorAlert, useLoad } from '../shared';
import { formatCount, OUTCOMES, type UsageGroupBy, type UsageItem } from '../usage';

const HOUR_MS = 3_600_000;

const RANGES = [
  { value: '24h', label: '24 hours', hours: 24, caption: 'last 24 hours' },
  { value: '7d', label: '7 days', hours: 7 * 24, caption: 'last 7 days' },
  { value: '30d', label: '30 days', hours: 30 * 24, caption: 'last 30 days' },
] as const;
type Range = (typeof RANGES)[number]['value'];

const GROUPS: Array<{ value: UsageGroupBy; label: string; table: string; first: string }> = [
  { value: 'key', label: 'Keys', table: 'Most used keys', first: 'Key' },
  {
    value: 'principal',
    label: 'Owners',
    table: 'Most used owners (users and service accounts)',
    first: 'Owner',
  },
  { value: 'api', label: 'APIs', table: 'Most used APIs', first: 'API' },
];

/** How many of the most used the table lists. */
const TOP = 50;

/** A labelled choice of a few (a radio group with a visible name). */
function Choice<V extends string>({
  label,
  value,
  onChange,
  data,
}: {
  label: string;
  value: V;
  onChange: (value: V) => void;
  data: ReadonlyArray<{ value: V; label: string }>;
}) {
  const id = useId();
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500} id={id}>
        {label}
      </Text>
      <SegmentedControl
        aria-labelledby={id}
        value={value}
        onChange={(v) => onChange(v as V)}
        data={data.map((d) => ({ value: d.value, label: d.label }))}
      />
    </Stack>
  );
}

/** The first cell of a row: what the row counts, a link where it has a page. */
function ItemName({
  item,
  groupBy,
  onOpenKey,
}: {
  item: UsageItem;
  groupBy: UsageGroupBy;
  onOpenKey: (id: string) => void;
}) {
  if (groupBy === 'api' && item.id === null) return <Text size="sm">{item.name ?? OWN_ROUTES_NAME}</Text>;
  const name = item.name ?? 'Deleted';
  if (item.id === null) return <Text size="sm">{name}</Text>;
  if (groupBy === 'key') {
    const id = item.id;
    return (
      <Stack gap={2} align="flex-start">
        <Anchor
          component="button"
          type="button"
          size="sm"
          className="tap-target"
          onClick={() => onOpenKey(id)}
        >
          {name}
        </Anchor>
        <Code>{id}</Code>
      </Stack>
    );
  }
  if (groupBy === 'principal') {
    const base = item.type === 'service_account' ? '/service-accounts' : '/users';
    return <ConsoleLink to={`${base}/${item.id}`}>{name}</ConsoleLink>;
  }
  return <ConsoleLink to={`/apis/${item.id}`}>{name}</ConsoleLink>;
}

function secondColumn(groupBy: UsageGroupBy): string | null {
  return groupBy === 'key' ? 'Owner' : groupBy === 'principal' ? 'Type' : null;
}

/** The tenant's requests: totals, outcomes over time, and the most used keys, owners or APIs. */
export function UsagePage() {
  const [range, setRange] = useState<Range>('7d');
  const [groupBy, setGroupBy] = useState<UsageGroupBy>('key');
  const [openKey, setOpenKey] = useState<string | null>(null);
  const chosen = RANGES.find((r) => r.value === range) ?? RANGES[1];
  const group = GROUPS.find((g) => g.value === groupBy) ?? (GROUPS[0] as (typeof GROUPS)[number]);
  const usage = useLoad(
    (signal) =>
      client.getUsage(
        {
          query: {
            groupBy,
            // Whole hours: the server counts by the hour.
            from: new Date(
              Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (chosen.hours - 1) * HOUR_MS,
            ).toISOString(),
            limit: TOP,
          },
        },
        { signal },
      ),
    [groupBy, chosen.hours],
  );
  const data = usage.data?.groupBy === groupBy ? usage.data : undefined;
  const second = secondColumn(groupBy);
  return (
    <Stack>
      <Title order={2}>Usage</Title>
      <Text size="sm" c="dimmed">
        Requests signed with the tenant's keys, by outcome: admitted (OK), throttled by a rate limit or quota,
        denied (a permission, route or network), or refused for a bad signature, an expired or an inactive
        key.
      </Text>
      <Group align="flex-end" gap="lg">
        <Choice label="Period" value={range} onChange={setRange} data={RANGES} />
        <Choice label="Most used" value={groupBy} onChange={setGroupBy} data={GROUPS} />
      </Group>
      <ErrorAlert error={usage.error} />
      {usage.loading && !data ? <Loader aria-label="Loading usage" /> : null}
      {data ? (
        <>
          <SimpleGrid
            cols={{ base: 2, xs: 4, md: 7 }}
            spacing="xs"
            component="dl"
            m={0}
            data-testid="usage-totals"
          >
            {[{ key: 'total', label: 'Total' } as const, ...OUTCOMES].map((o) => (
              <Card key={o.key} withBorder padding="xs" radius="md">
                <Text size="xs" c="dimmed" component="dt">
                  {o.label}
                </Text>
                <Text fw={600} size="lg" component="dd" m={0}>
                  {formatCount(data.totals[o.key])}
                </Text>
              </Card>
            ))}
          </SimpleGrid>
          <UsageChart
            series={data.series}
            granularity={data.granularity}
            label={`Requests in the tenant, ${chosen.caption}`}
          />
          <Title order={3}>{group.table}</Title>
          {data.items.length === 0 ? (
            <EmptyState
              icon={<IconChartBar aria-hidden />}
              title="No requests in this period"
              description="Requests signed with a key show here within a few seconds."
            />
          ) : (
            <ListTable
              label={group.table}
              minWidth={second ? 960 : 860}
              columns={[group.first, second, 'Total', ...OUTCOMES.map((o) => o.label)]}
              data-testid="usage-items"
            >
              {data.items.map((item) => (
                <Table.Tr key={`${item.id ?? 'own'}`} data-testid="usage-item">
                  <Table.Td>
                    <ItemName item={item} groupBy={groupBy} onOpenKey={setOpenKey} />
                  </Table.Td>
                  {groupBy === 'key' ? <Table.Td>{item.owner?.label ?? '—'}</Table.Td> : null}
                  {groupBy === 'principal' ? (
                    <Table.Td>{item.type === 'service_account' ? 'Service account' : 'User'}</Table.Td>
                  ) : null}
                  <Table.Td>
                    <strong>{formatCount(item.total)}</strong>
                  </Table.Td>
                  {OUTCOMES.map((o) => (
                    <Table.Td key={o.key}>{formatCount(item[o.key])}</Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </ListTable>
          )}
        </>
      ) : null}
      <KeyDetailsDrawer accessKeyId={openKey} onClose={() => setOpenKey(null)} onChanged={usage.reload} />
    </Stack>
  );
}
