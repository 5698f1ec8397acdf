/** The README's error table, generated from the catalogue (src/errors.ts). */
import { ERROR_CODES, ERRORS } from '../errors.js';

export const ERROR_TABLE_START = '<!-- error-table:start (npm run docs:errors) -->';
export const ERROR_TABLE_END = '<!-- error-table:end -->';

export function errorTableMarkdown(): string {
  const rows = ERROR_CODES.map(
    (code) => `| \`${code}\` | ${ERRORS[code].status} | ${ERRORS[code].meaning} |`,
  );
  return ['| Code | Status | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The README with its error table replaced by the generated one. */
export function withErrorTable(readme: string): string {
  const start = readme.indexOf(ERROR_TABLE_START);
  const end = readme.indexOf(ERROR_TABLE_END);
  if (start === -1 || end < start) throw new Error('README.md has no error-table markers');
  return `${readme.slice(0, start + ERROR_TABLE_START.length)}\n${errorTableMarkdown()}\n${readme.slice(end)}`;
}
