/**
 * Cross-instance tests measure how long a change takes to reach another instance: poll a check
 * until it holds, and answer how many milliseconds that took (Infinity once `limitMs` has passed).
 */
export async function msUntil(
  holds: () => Promise<boolean> | boolean,
  { limitMs = 3000, everyMs = 10 }: { limitMs?: number; everyMs?: number } = {},
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await holds()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return Number.POSITIVE_INFINITY;
}
