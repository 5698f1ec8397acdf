export const iso = (date: Date): string => date.toISOString();
export const DAY_MS = 86_400_000;
export const addMs = (date: Date, ms: number): Date => new Date(date.getTime() + ms);
export const addDays = (date: Date, days: number): Date => addMs(date, days * DAY_MS);

/** `promise`, or a rejection once `ms` have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
