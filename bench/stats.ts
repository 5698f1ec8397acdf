/** Order statistics of the benches' per-slice and per-pair figures. */

/** The q-quantile, interpolating linearly between the two nearest values. */
export function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = sorted[Math.floor(at)] as number;
  return low + ((sorted[Math.ceil(at)] as number) - low) * (at - Math.floor(at));
}

/**
 * With an even count (the benches run 6 or 10 pairs) the mean of the middle two: the upper one
 * alone, which bench:auth took before 2026-12-05, biased every ratio upwards by up to half their gap.
 */
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);
