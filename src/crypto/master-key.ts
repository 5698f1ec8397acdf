/**
 * The master keyring: AES-256 keys that encrypt every stored secret (access-key secrets,
 * token-signing private keys). Each ciphertext records the version of the key that sealed it,
 * so `latchkey master-key rotate` can re-encrypt everything under a new key.
 *
 * Format (LATCHKEY_MASTER_KEY or <dataDir>/master.key): either one base64 key of 32 bytes
 * (version 1), or `version:base64key` entries separated by commas, the first being current:
 * `2:q5v…=,1:Zm9…=`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.js';
import { ensurePrivateDir, type ModeReporter, tightenPrivateFile } from '../storage/private-files.js';

export interface MasterKeyring {
  readonly current: number;
  readonly keys: ReadonlyMap<number, Buffer>;
  /** Where the keyring came from, for log lines and for rotation. */
  readonly source: { kind: 'env' } | { kind: 'file'; path: string };
}

export function parseKeyring(text: string, variable: string): { current: number; keys: Map<number, Buffer> } {
  const entries = text
    .trim()
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new ConfigError(variable, 'is empty');
  const keys = new Map<number, Buffer>();
  let current = 0;
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const version = colon === -1 ? 1 : Number(entry.slice(0, colon));
    const material = Buffer.from(colon === -1 ? entry : entry.slice(colon + 1), 'base64');
    if (!Number.isInteger(version) || version < 1)
      throw new ConfigError(variable, `bad key version in entry ${index + 1}`);
    if (material.length !== 32)
      throw new ConfigError(variable, `entry ${index + 1} is not 32 bytes of base64`);
    if (colon === -1 && entries.length > 1)
      throw new ConfigError(variable, 'with several keys, each needs a version:');
    if (keys.has(version)) throw new ConfigError(variable, `version ${version} appears twice`);
    keys.set(version, material);
    if (index === 0) current = version;
  }
  return { current, keys };
}

export function formatKeyring(current: number, keys: ReadonlyMap<number, Buffer>): string {
  const ordered = [current, ...[...keys.keys()].filter((v) => v !== current).sort((a, b) => b - a)];
  return `${ordered.map((v) => `${v}:${keys.get(v)?.toString('base64')}`).join(',')}\n`;
}

export function masterKeyPath(dataDir: string): string {
  return path.join(dataDir, 'master.key');
}

/**
 * Load the keyring from the environment, or from the data directory, creating it there
 * (mode 0600) on first start. Returns whether a new key was generated so the caller can log it.
 */
export function loadMasterKeyring(
  envValue: string | undefined,
  dataDir: string,
  report?: ModeReporter,
): { keyring: MasterKeyring; generated: boolean } {
  if (envValue !== undefined) {
    const { current, keys } = parseKeyring(envValue, 'LATCHKEY_MASTER_KEY');
    return { keyring: { current, keys, source: { kind: 'env' } }, generated: false };
  }
  const file = masterKeyPath(dataDir);
  let generated = false;
  // The data directory is latchkey's own: created 0700, or tightened to it.
  ensurePrivateDir(dataDir, true, report);
  if (fs.existsSync(file)) {
    tightenPrivateFile(file, report);
  } else {
    const text = formatKeyring(1, new Map([[1, randomBytes(32)]]));
    try {
      fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
      generated = true;
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const { current, keys } = parseKeyring(fs.readFileSync(file, 'utf8'), file);
  return { keyring: { current, keys, source: { kind: 'file', path: file } }, generated };
}

/** Add a new current key to a file keyring (rotation step one). */
export function addKeyToFileKeyring(file: string): number {
  const { keys } = parseKeyring(fs.readFileSync(file, 'utf8'), file);
  const next = Math.max(...keys.keys()) + 1;
  keys.set(next, randomBytes(32));
  writeAtomically(file, formatKeyring(next, keys));
  return next;
}

/** Drop every key but the current one from a file keyring (rotation's last step). */
export function pruneFileKeyring(file: string): void {
  const { current, keys } = parseKeyring(fs.readFileSync(file, 'utf8'), file);
  const material = keys.get(current);
  if (!material) return;
  writeAtomically(file, formatKeyring(current, new Map([[current, material]])));
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, text, { mode: 0o600 });
  fs.renameSync(temp, file);
}
