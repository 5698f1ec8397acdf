/**
 * The README's error table is the catalogue's (src/errors.ts), and every "<status> `<code>`" the
 * README mentions is a code the server sends, with that status.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withErrorTable } from '../src/devtools/error-table.js';
import { ERRORS, type ErrorCode } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the README and the error catalogue', () => {
  it('has the generated error table (run `npm run docs:errors` after changing src/errors.ts)', () => {
    expect(readme).toBe(withErrorTable(readme));
  });

  it('names only codes the server sends, with their status', () => {
    const wrong: string[] = [];
    for (const m of readme.matchAll(/\b([1-5]\d\d) `([A-Za-z][A-Za-z0-9_]+)`/g)) {
      const [, status, code] = m as unknown as [string, string, string];
      const entry = ERRORS[code as ErrorCode];
      if (!entry || String(entry.status) !== status) wrong.push(`${status} ${code}`);
    }
    expect(wrong).toEqual([]);
  });
});
