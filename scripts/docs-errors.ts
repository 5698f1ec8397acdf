/** `npm run docs:errors`: write the catalogue's error table into README.md. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withErrorTable } from '../src/devtools/error-table.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, withErrorTable(readFileSync(path, 'utf8')));
