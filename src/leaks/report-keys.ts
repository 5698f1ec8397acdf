/**
 * The public keys GitHub signs secret-scanning reports with, configured by the operator (the
 * service runs offline, so it never fetches https://api.github.com/meta/public_keys/secret_scanning
 * itself): LATCHKEY_LEAK_REPORT_KEYS_FILE holds that document as GitHub serves it,
 * `{"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…","is_current":true}]}`.
 *
 * Read at start (a file that cannot be used stops the start, with a clear message) and again on
 * the first report after the file changed (its size, modification time or inode): replacing the
 * file is enough, no restart or signal. A changed file that cannot be used is logged and the keys
 * read before stay in force.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';

const MAX_KEYS = 100;

/** The keys of a keys document, by identifier; throws Error naming what is wrong. */
export function parseReportKeys(text: string): Map<string, KeyObject> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('is not JSON');
  }
  const list = (doc as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list) || list.length > MAX_KEYS)
    throw new Error(`must be {"public_keys":[…]} with at most ${MAX_KEYS} keys`);
  const keys = new Map<string, KeyObject>();
  for (const [i, entry] of list.entries()) {
    const { key_identifier: id, key: pem } = (entry ?? {}) as { key_identifier?: unknown; key?: unknown };
    if (typeof id !== 'string' || id.length === 0 || id.length > 256 || typeof pem !== 'string')
      throw new Error(`public_keys[${i}] needs "key_identifier" and "key" (PEM) strings`);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new Error(`public_keys[${i}].key is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new Error(`public_keys[${i}].key is not an ECDSA P-256 key`);
    keys.set(id, key);
  }
  return keys;
}

export class ReportKeys {
  private keys = new Map<string, KeyObject>();
  private stamp = '';

  constructor(
    private readonly svc: Pick<Services, 'logger'>,
    private readonly file: string | undefined,
  ) {
    if (file === undefined) return;
    try {
      this.load();
    } catch (error) {
      throw new ConfigError('LATCHKEY_LEAK_REPORT_KEYS_FILE', `(${file}) ${(error as Error).message}`);
    }
  }

  private currentStamp(): string {
    const st = fs.statSync(this.file as string);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  }

  private load(): void {
    const stamp = this.currentStamp();
    this.keys = parseReportKeys(fs.readFileSync(this.file as string, 'utf8'));
    this.stamp = stamp;
  }

  /** The key named `identifier`, re-reading the file first if it changed. */
  get(identifier: string): KeyObject | undefined {
    if (this.file === undefined) return undefined;
    try {
      if (this.currentStamp() !== this.stamp) this.load();
    } catch (error) {
      this.svc.logger.warn(
        { err: error, file: this.file },
        'leak reports: the keys file could not be read again; the keys read before stay in force',
      );
    }
    return this.keys.get(identifier);
  }

  /**
   * Verify a GitHub-signed report: the ECDSA P-256 / SHA-256 signature (base64 DER) over the raw
   * body bytes, with the key the identifier names. Throws AppError (401) when it does not verify.
   */
  verify(identifier: string | undefined, signature: string | undefined, body: Buffer | undefined): void {
    if (!identifier || !signature)
      throw new AppError(
        'LEAK_REPORT_SIGNATURE_INVALID',
        'a signed leak report needs both Github-Public-Key-Identifier and Github-Public-Key-Signature',
      );
    const key = this.get(identifier);
    if (key === undefined)
      throw new AppError(
        'LEAK_REPORT_KEY_UNKNOWN',
        'Github-Public-Key-Identifier names no configured key (LATCHKEY_LEAK_REPORT_KEYS_FILE)',
      );
    const sig = /^[A-Za-z0-9+/]+={0,2}$/.test(signature) ? Buffer.from(signature, 'base64') : null;
    let ok = false;
    try {
      ok = sig !== null && verify('sha256', body ?? Buffer.alloc(0), { key, dsaEncoding: 'der' }, sig);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new AppError(
        'LEAK_REPORT_SIGNATURE_INVALID',
        'Github-Public-Key-Signature does not verify over the body with that key',
      );
  }
}
