import { BarChart } from '@mantine/charts';
import { Stack, Text } from '@mantine/core';
import { useId, useMemo } from 'react';
import {
  bucketLabel,
  formatCount,
  OUTCOMES,
  pointTotal,
  sumSeries,
  type UsageGranularity,
  type UsagePoint,
  usageSummary,
} from '../usage';

/**
 * Requests over time, stacked by outcome, with its text alternative: a summary everyone reads
 * ("312 requests: 300 OK, 12 throttled.") and, for screen readers, a table of every hour or day
 * that had requests. The drawing itself is hidden from assistive technology (the table says the
 * same) and is no Tab stop. Colours: `--usage-<outcome>` (theme.ts), 3:1 on the page in either
 * scheme. The chart takes the width it is given, so it never widens a phone's page.
 */
export function UsageChart({
  series,
  granularity,
  label,
  height = 220,
}: {
  series: readonly UsagePoint[];
  granularity: UsageGranularity;
  /** What the chart shows ("Requests with this key, last 7 days"): the table's caption. */
  label: string;
  height?: number;
}) {
  const captionId = useId();
  const totals = useMemo(() => sumSeries(series), [series]);
  const data = useMemo(
    () => series.map((p) => ({ ...p, when: bucketLabel(p.t, granularity) })),
    [series, granularity],
  );
  const busy = data.filter((p) => pointTotal(p) > 0);
  return (
    <Stack gap="xs" component="figure" m={0} aria-labelledby={captionId} data-testid="usage-chart">
      <Text size="sm" component="figcaption" id={captionId} data-testid="usage-summary">
        {label}: {usageSummary(totals)}
      </Text>
      <div aria-hidden="true" style={{ minWidth: 0, width: '100%' }} data-testid="usage-drawing">
        <BarChart
          h={height}
          data={data}
          dataKey="when"
          type="stacked"
          series={OUTCOMES.map((o) => ({ name: o.key, label: o.label, color: `var(--usage-${o.key})` }))}
          withLegend
          // In the order of the stack and the table (recharts sorts by name otherwise).
          legendProps={{ verticalAlign: 'bottom', itemSorter: null }}
          // The table below is the way through the numbers without a mouse.
          accessibilityLayer={false}
          tickLine="y"
          gridAxis="y"
          valueFormatter={formatCount}
          xAxisProps={{ minTickGap: 24, interval: 'preserveStartEnd' }}
          yAxisProps={{ allowDecimals: false, width: 40 }}
          tooltipAnimationDuration={0}
          barChartProps={{ barCategoryGap: granularity === 'hour' ? 0 : '15%' }}
        />
      </div>
      {busy.length > 0 ? (
        // Wrapped: a table's box grows to its content whatever its width, a div's does not.
        <div className="visually-hidden">
          <table data-testid="usage-table">
            <caption>
              {label}, by {granularity === 'hour' ? 'hour' : 'day'} (only those with requests)
            </caption>
            <thead>
              <tr>
                <th scope="col">{granularity === 'hour' ? 'Hour' : 'Day'}</th>
                <th scope="col">Total</th>
                {OUTCOMES.map((o) => (
                  <th scope="col" key={o.key}>
                    {o.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {busy.map((p) => (
                <tr key={p.t}>
                  <th scope="row">{p.when}</th>
                  <td>{formatCount(pointTotal(p))}</td>
                  {OUTCOMES.map((o) => (
                    <td key={o.key}>{formatCount(p[o.key])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Stack>
  );
}
