export const iso = (date: Date): string => date.toISOString();
export const DAY_MS = 86_400_000;
export const addMs = (date: Date, ms: number): Date => new Date(date.getTime() + ms);
export const addDays = (date: Date, days: number): Date => addMs(date, days * DAY_MS);
