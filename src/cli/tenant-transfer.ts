/**
 * The CLI side of `latchkey export` / `latchkey import` (the work is in storage/tenant-transfer.ts):
 * where the passphrase comes from, opening the target of an import, and the human output.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createServices, type Services } from '../services.js';
import { createChangeFeed } from '../storage/change-feed.js';
import { migrateToLatest } from '../storage/migrate.js';
import type { ExportResult, ImportResult } from '../storage/tenant-transfer.js';

/** The environment variable that may hold the passphrase (for scripts; a file is the other way). */
export const PASSPHRASE_ENV = 'LATCHKEY_EXPORT_PASSPHRASE';

/**
 * The passphrase from `--passphrase-file` (its first line) or LATCHKEY_EXPORT_PASSPHRASE. Never
 * an argument: a command line stays in shell history and is visible to every user in `ps`.
 */
export function readPassphrase(
  passphraseFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (passphraseFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(passphraseFile, 'utf8');
    } catch (error) {
      throw new AppError(
        'VALIDATION_FAILED',
        `--passphrase-file ${passphraseFile} cannot be read (${(error as NodeJS.ErrnoException).code})`,
      );
    }
    // `echo … > file` and editors end the file with a newline that is not part of the passphrase.
    return text.replace(/\r?\n$/, '');
  }
  const fromEnv = env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new AppError(
    'VALIDATION_FAILED',
    `give the passphrase that protects the file with --passphrase-file <file> or in ${PASSPHRASE_ENV} (not on the command line)`,
  );
}

/**
 * The deployment an import writes to: migrated, and publishing to the change feed so running servers
 * hear of the new tenant. Unlike the other commands it does not create a first tenant in an empty
 * database: moving a tenant to a new deployment leaves that tenant as its only one.
 */
export async function withImportTarget<T>(
  config: Config,
  logger: Logger,
  fn: (svc: Services) => Promise<T>,
): Promise<T> {
  const svc = createServices(config, { logger });
  try {
    await migrateToLatest(svc.db);
    const feed = createChangeFeed(svc);
    feed.publish();
    try {
      return await fn(svc);
    } finally {
      // Waits until the events of the import have reached the other processes.
      await feed.close();
    }
  } finally {
    await svc.close();
  }
}

const rowsLine = (rows: Readonly<Record<string, number>>) =>
  Object.entries(rows)
    .map(([table, n]) => `${table} ${n}`)
    .join(', ');

export function exportSummary(r: ExportResult): string {
  return [
    `Exported tenant ${r.tenantId} (${r.tenantName}) to ${r.file}`,
    `Schema:   ${r.schema}`,
    `Rows:     ${rowsLine(r.rows)}`,
    '',
    'The file holds the secret keys of the tenant, encrypted under the passphrase: keep the two apart.',
    `Import it with \`npx latchkey import ${r.file}\` on the target deployment.`,
  ].join('\n');
}

export function importSummary(r: ImportResult): string {
  return [
    `Imported tenant ${r.tenantId} (${r.tenantName}) from ${r.file} (exported from ${r.sourceEngine} at ${r.exportedAt})`,
    `Rows:     ${rowsLine(r.rows)}`,
    '',
    'Access keys and passwords work here as they did there; tokens and console sessions do not carry',
    `over (people sign in again). Other commands act in this tenant with \`--tenant ${r.tenantId}\`.`,
  ].join('\n');
}
