/**
 * The request path's pre-bound counters and histograms expose exactly what prom-client's own would
 * for the same observations, alone and summed over workers (AggregatorRegistry).
 */
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram } from '../src/observability/bound-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0.0005, 0.001, 0.002, 0.05, 0.5, 0.5, 3, 12];

/** A registry with prom-client's metrics (`lib_…`) and the bound ones (`bound_…`), fed alike. */
function registries(observed: readonly number[]) {
  const registry = new Registry();
  const labelNames = ['method', 'route'] as const;
  const counter = new Counter({ name: 'lib_total', help: 'h', labelNames, registers: [registry] });
  const histogram = new Histogram({
    name: 'lib_seconds',
    help: 'h',
    labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  const boundCounter = new BoundCounter({
    name: 'bound_total',
    help: 'h',
    labelNames,
    registers: [registry],
  });
  const boundHistogram = new BoundHistogram({
    name: 'bound_seconds',
    help: 'h',
    labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [i, value] of observed.entries()) {
    const labels = { method: 'GET', route: i % 3 === 0 ? '/a' : '/b/:id' };
    counter.inc(labels);
    histogram.observe(labels, value);
    boundCounter.child(labels).value++;
    boundHistogram.child(labels).observe(value);
  }
  return registry;
}

/** The exposition's sample lines of one metric family, renamed to `x`, label order normalised. */
function samples(text: string, prefix: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .map((line) => {
      const match = /^(\w+?)(?:\{(.*)\})? (.+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const [, name, labels = '', value] = match;
      const sorted = labels.split(',').filter(Boolean).sort().join(',');
      return `${(name as string).replace(prefix, 'x')}{${sorted}} ${value}`;
    })
    .sort();
}

describe('pre-bound metrics', () => {
  it('expose the same samples as prom-client for the same observations', async () => {
    const text = await registries(OBSERVED).metrics();
    expect(samples(text, 'bound_seconds')).toEqual(samples(text, 'lib_seconds'));
    expect(samples(text, 'bound_total')).toEqual(samples(text, 'lib_total'));
    expect(samples(text, 'bound_seconds')).toContain('x_bucket{le="0.01",method="GET",route="/b/:id"} 2');
    expect(text).toContain('# TYPE bound_seconds histogram');
    expect(text).toContain('# TYPE bound_total counter');
  });

  it('sum over workers like prom-client metrics do', async () => {
    const a = await registries(OBSERVED).getMetricsAsJSON();
    const b = await registries(OBSERVED.slice(0, 5)).getMetricsAsJSON();
    const text = await AggregatorRegistry.aggregate([a, b]).metrics();
    expect(samples(text, 'bound_seconds')).toEqual(samples(text, 'lib_seconds'));
    expect(samples(text, 'bound_total')).toEqual(samples(text, 'lib_total'));
    expect(samples(text, 'bound_total')).toContain('x{method="GET",route="/a"} 5');
  });

  it('reset zeroes every series and children already handed out keep counting', async () => {
    const registry = new Registry();
    const histogram = new BoundHistogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['api'],
      buckets: BUCKETS,
      registers: [registry],
    });
    const child = histogram.child({ api: 'x' });
    child.observe(0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('h_seconds_count{api="x"} 0');
    child.observe(0.05);
    const text = await registry.metrics();
    expect(text).toContain('h_seconds_count{api="x"} 1');
    expect(text).toContain('h_seconds_bucket{api="x",le="0.1"} 1');
    expect(histogram.child({ api: 'x' })).toBe(child);
  });
});
