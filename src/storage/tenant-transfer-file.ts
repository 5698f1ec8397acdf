/**
 * The tenant export file (`latchkey export` / `latchkey import`): one readable header line, then
 * the tenant's rows as encrypted JSON Lines.
 *
 *   line 1     {"format":"latchkey-tenant-export","version":1,"schema":…,"tenantId":…,"encryption":{…}}
 *   line 2…n   base64(iv ‖ tag ‖ AES-256-GCM(record JSON)), one record per line
 *   last line  the `end` record: how many rows of each table came before it
 *
 * Why the whole body is encrypted, not only the secrets: besides the access keys' secrets (which must
 * travel in a form the target can seal again under its own master key), the rows hold password
 * hashes, email addresses, the audit trail and the tenant's accounting data. One key derived from a
 * passphrase the operator chooses (scrypt, parameters in the header) protects all of it, and GCM's
 * tag makes any change to the file detectable: each record's associated data is the SHA-256 of the
 * header line and the record's position, so a changed header, a changed, dropped, reordered or
 * spliced record, or a record from another export fails to open. A file cut short lacks its `end`
 * record. The header stays readable (`head -1`) so an operator can see what a file is, and so
 * import can refuse a wrong format or schema before asking scrypt for anything.
 *
 * JSON Lines rather than one JSON document: export and import stream a page of rows at a time, so a
 * tenant with millions of audit or document rows never sits in memory whole.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt } from 'node:crypto';
import fs from 'node:fs';
import { AppError } from '../errors.js';
import type { Engine } from './dialect.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

export const EXPORT_FORMAT = 'latchkey-tenant-export';
/** Bumped when a reader of an older version could misread a newer file. */
export const EXPORT_VERSION = 1;

/** scrypt cost for new files: 2^17 × 8 × 128 bytes = 128 MiB and about half a second, per passphrase guess. */
const LOG_N = 17;
const R = 8;
const P = 1;
/** What a file may ask of scrypt (a crafted header must not make import allocate gigabytes). */
const SCRYPT_MAX_BYTES = 2 ** 30;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The header line is small; a record line holds at most a page of rows (see RECORD_BYTES_TARGET). */
const HEADER_MAX_BYTES = 64 * 1024;
const LINE_MAX_BYTES = 64 * 1024 * 1024;
/** A record is flushed once its JSON passes this size (a page is also at most PAGE_ROWS rows). */
export const RECORD_BYTES_TARGET = 4 * 1024 * 1024;

export interface ExportEncryption {
  readonly cipher: 'aes-256-gcm';
  readonly kdf: 'scrypt';
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  /** base64 */
  readonly salt: string;
  /**
   * HMAC of a fixed string under a second key from the same scrypt output (base64, 16 bytes): tells
   * "wrong passphrase" apart from "changed file". It lets a guess be checked no faster than opening
   * the first record would.
   */
  readonly check: string;
}

export interface ExportHeader {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: number;
  /** The last migration the source had applied: the schema the rows are in. */
  readonly schema: string;
  /** Every migration the source had applied, in order. */
  readonly migrations: readonly string[];
  readonly exportedAt: string;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly sourceEngine: Engine;
  readonly encryption: ExportEncryption;
}

/** A page of one table's rows; values are text, integers or null, as both engines store them. */
export interface RowsRecord {
  readonly type: 'rows';
  readonly table: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number | null>>;
}

/** The last record: rows per table and records before it (a file cut short has none). */
export interface EndRecord {
  readonly type: 'end';
  readonly records: number;
  readonly tables: Readonly<Record<string, number>>;
}

export type ExportRecord = RowsRecord | EndRecord;

const bad = (message: string) => new AppError('VALIDATION_FAILED', message);

function deriveKeys(
  passphrase: string,
  salt: Buffer,
  params: { logN: number; r: number; p: number },
): Promise<{ data: Buffer; check: string }> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      64,
      { N, r: params.r, p: params.p, maxmem: 2 * 128 * N * params.r },
      (error, out) => {
        if (error) return reject(error);
        const check = createHmac('sha256', out.subarray(32))
          .update(`${EXPORT_FORMAT} passphrase check`)
          .digest()
          .subarray(0, 16)
          .toString('base64');
        resolve({ data: out.subarray(0, 32), check });
      },
    );
  });
}

/** Associated data of record `index`: binds it to this file's header and to its position. */
function recordAad(headerDigest: Buffer, index: number): Buffer {
  const position = Buffer.alloc(8);
  position.writeBigUInt64BE(BigInt(index));
  return Buffer.concat([Buffer.from(`${EXPORT_FORMAT}/${EXPORT_VERSION}\n`), headerDigest, position]);
}

/**
 * Writes an export file: created 0600 and exclusively (an existing file is never overwritten), a
 * record per line, removed again when the export fails half-way.
 */
export class ExportFileWriter {
  private index = 0;
  private readonly counts = new Map<string, number>();

  private constructor(
    private readonly file: fs.promises.FileHandle,
    readonly path: string,
    private readonly key: Buffer,
    private readonly headerDigest: Buffer,
  ) {}

  static async create(
    path: string,
    passphrase: string,
    header: Omit<ExportHeader, 'format' | 'version' | 'encryption'>,
  ): Promise<ExportFileWriter> {
    const salt = randomBytes(SALT_BYTES);
    const keys = await deriveKeys(passphrase, salt, { logN: LOG_N, r: R, p: P });
    const full: ExportHeader = {
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      ...header,
      encryption: {
        cipher: 'aes-256-gcm',
        kdf: 'scrypt',
        logN: LOG_N,
        r: R,
        p: P,
        salt: salt.toString('base64'),
        check: keys.check,
      },
    };
    let file: fs.promises.FileHandle;
    try {
      // 'wx': never replace a file (an earlier export, or something else entirely). The mode is
      // masked by the umask, which can only remove bits.
      file = await fs.promises.open(path, 'wx', PRIVATE_FILE_MODE);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        throw new AppError(
          'ALREADY_EXISTS',
          `${path} exists: choose another file name (it is not overwritten)`,
        );
      throw bad(`cannot create ${path} (${code ?? String(error)})`);
    }
    const headerLine = JSON.stringify(full);
    const writer = new ExportFileWriter(
      file,
      path,
      keys.data,
      createHash('sha256').update(headerLine, 'utf8').digest(),
    );
    await file.write(`${headerLine}\n`);
    return writer;
  }

  /** Append a page of rows (the JSON of each row already made, so the caller can size pages). */
  async writeRows(table: string, columns: readonly string[], rowJson: readonly string[]): Promise<void> {
    if (rowJson.length === 0) return;
    const json = `{"type":"rows","table":${JSON.stringify(table)},"columns":${JSON.stringify(columns)},"rows":[${rowJson.join(',')}]}`;
    await this.writeRecord(json);
    this.counts.set(table, (this.counts.get(table) ?? 0) + rowJson.length);
  }

  /** Write the end record and make the file durable; returns the rows written per table. */
  async finish(): Promise<Record<string, number>> {
    const tables = Object.fromEntries(this.counts);
    const end: EndRecord = { type: 'end', records: this.index, tables };
    await this.writeRecord(JSON.stringify(end));
    await this.file.sync();
    await this.file.close();
    return tables;
  }

  /** Close and delete the file (an export that failed leaves nothing half-written behind). */
  async abandon(): Promise<void> {
    await this.file.close().catch(() => {});
    await fs.promises.rm(this.path, { force: true });
  }

  private async writeRecord(json: string): Promise<void> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(recordAad(this.headerDigest, this.index));
    const body = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    this.index += 1;
    await this.file.write(`${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}\n`);
  }
}

/** Lines of a file, read a megabyte at a time; a line longer than `max` bytes is refused. */
async function* lines(path: string, maxFirst: number, max: number): AsyncGenerator<Buffer> {
  let file: fs.promises.FileHandle;
  try {
    file = await fs.promises.open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `${path}: no such file`);
    throw bad(`cannot read ${path} (${code ?? String(error)})`);
  }
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let first = true;
    const limit = () => (first ? maxFirst : max);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null).catch((error: unknown) => {
        throw bad(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      });
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (pendingBytes + nl - start > limit()) throw tooLong(path, first);
        const line = Buffer.concat([...pending, chunk.subarray(start, nl)]);
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        first = false;
        yield line;
      }
      // The buffer is reused for the next read: keep a copy of the unfinished line.
      pending.push(Buffer.from(chunk.subarray(start)));
      pendingBytes += chunk.length - start;
      if (pendingBytes > limit()) throw tooLong(path, first);
    }
    if (pendingBytes > 0) yield Buffer.concat(pending);
  } finally {
    await file.close();
  }
}

function tooLong(path: string, header: boolean): AppError {
  return bad(
    header
      ? `${path} is not a latchkey tenant export (its first line is not an export header)`
      : `${path} is damaged: a line is longer than any export writes`,
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check a header line: the format, the version this code reads, sane encryption parameters. */
function parseHeader(path: string, line: Buffer): ExportHeader {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isRecord(value) || value.format !== EXPORT_FORMAT)
    throw bad(`${path} is not a latchkey tenant export (no "${EXPORT_FORMAT}" header)`);
  if (value.version !== EXPORT_VERSION)
    throw bad(
      `${path} is a version ${JSON.stringify(value.version)} export; this latchkey reads version ${EXPORT_VERSION}: import it with the latchkey release that exported it, or a later one`,
    );
  const e = value.encryption;
  const text = (v: unknown) => typeof v === 'string' && v.length > 0;
  const int = (v: unknown, min: number, max: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (
    !text(value.schema) ||
    !Array.isArray(value.migrations) ||
    !value.migrations.every(text) ||
    !text(value.exportedAt) ||
    typeof value.tenantId !== 'string' ||
    !/^\d{12}$/.test(value.tenantId) ||
    typeof value.tenantName !== 'string' ||
    (value.sourceEngine !== 'sqlite' && value.sourceEngine !== 'postgres') ||
    !isRecord(e) ||
    e.cipher !== 'aes-256-gcm' ||
    e.kdf !== 'scrypt' ||
    !int(e.logN, 10, 24) ||
    !int(e.r, 1, 32) ||
    !int(e.p, 1, 16) ||
    !text(e.salt) ||
    !text(e.check)
  )
    throw bad(`${path}: the export header is incomplete or malformed`);
  if (128 * 2 ** (e.logN as number) * (e.r as number) > SCRYPT_MAX_BYTES)
    throw bad(`${path}: the export header asks for more scrypt memory than latchkey allows`);
  return value as unknown as ExportHeader;
}

/** The header of an export file (readable without the passphrase). */
export async function readExportHeader(path: string): Promise<ExportHeader> {
  for await (const line of lines(path, HEADER_MAX_BYTES, LINE_MAX_BYTES)) return parseHeader(path, line);
  throw bad(`${path} is empty: not a latchkey tenant export`);
}

/** An export opened with its passphrase: its header, and its records, read (again) from the file. */
export interface OpenedExport {
  readonly header: ExportHeader;
  /**
   * Every record in order, each one decrypted and authenticated; throws on the first that does not
   * open, is out of place, or when the file ends before its `end` record or goes on after it.
   * Each call reads the file afresh (import reads it once to check it, once to write).
   */
  records(): AsyncGenerator<ExportRecord>;
}

export async function openExportFile(path: string, passphrase: string): Promise<OpenedExport> {
  const header = await readExportHeader(path);
  const e = header.encryption;
  const keys = await deriveKeys(passphrase, Buffer.from(e.salt, 'base64'), e);
  if (keys.check !== e.check)
    throw new AppError(
      'INVALID_CREDENTIALS',
      `the passphrase does not open ${path} (it is not the one the export was made with)`,
    );
  async function* records(): AsyncGenerator<ExportRecord> {
    let index = -1;
    let headerDigest: Buffer | undefined;
    let ended = false;
    for await (const line of lines(path, HEADER_MAX_BYTES, LINE_MAX_BYTES)) {
      if (headerDigest === undefined) {
        // The header as it is now: a file changed since readExportHeader fails to open below.
        headerDigest = createHash('sha256').update(line).digest();
        continue;
      }
      index += 1;
      if (ended) throw bad(`${path} was changed: there is data after its end record`);
      const raw = Buffer.from(line.toString('latin1'), 'base64');
      let json: string;
      try {
        if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('short');
        const decipher = createDecipheriv('aes-256-gcm', keys.data, raw.subarray(0, IV_BYTES));
        decipher.setAAD(recordAad(headerDigest, index));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        json = Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw bad(
          `${path} was changed or is damaged: record ${index + 1} does not open (its header, that record, or the order of records differs from what was exported)`,
        );
      }
      const record = parseRecord(path, index, json);
      if (record.type === 'end') {
        if (record.records !== index)
          throw bad(`${path} was changed: its end record counts ${record.records} records, not ${index}`);
        ended = true;
      }
      yield record;
    }
    if (!ended) throw bad(`${path} is incomplete: it ends before its end record (was it cut short?)`);
  }
  return { header, records };
}

function parseRecord(path: string, index: number, json: string): ExportRecord {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  const wrong = () => bad(`${path}: record ${index + 1} is not a valid export record`);
  if (!isRecord(value)) throw wrong();
  if (value.type === 'end') {
    if (
      typeof value.records !== 'number' ||
      !isRecord(value.tables) ||
      !Object.values(value.tables).every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)
    )
      throw wrong();
    return value as unknown as EndRecord;
  }
  if (value.type !== 'rows' || typeof value.table !== 'string' || !Array.isArray(value.columns))
    throw wrong();
  const columns = value.columns;
  if (
    columns.length === 0 ||
    !columns.every((c) => typeof c === 'string' && /^[a-z_][a-z0-9_]*$/.test(c)) ||
    new Set(columns).size !== columns.length
  )
    throw wrong();
  if (!Array.isArray(value.rows) || value.rows.length === 0) throw wrong();
  for (const row of value.rows) {
    if (!Array.isArray(row) || row.length !== columns.length) throw wrong();
    for (const v of row)
      if (!(v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))))
        throw wrong();
  }
  return value as unknown as RowsRecord;
}
