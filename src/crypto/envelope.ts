/**
 * AES-256-GCM sealing of secrets under the master keyring. The associated data binds each
 * ciphertext to the row it belongs to (e.g. `key-secret:<tenant>:<accessKeyId>:<version>`),
 * so a ciphertext copied into another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { MasterKeyring } from './master-key.js';

export interface Sealed {
  ciphertext: string;
  masterKeyVersion: number;
}

export class SecretBox {
  /**
   * `reload` re-reads the keyring when a ciphertext names a version this process does not know:
   * `latchkey master-key rotate` on a file keyring adds the new key while servers keep running.
   */
  constructor(
    private keyring: MasterKeyring,
    private readonly reload?: () => MasterKeyring,
  ) {}

  get currentVersion(): number {
    return this.keyring.current;
  }

  /** Re-read the keyring (after the CLI added a key to the keyring file). */
  refresh(): void {
    if (this.reload) this.keyring = this.reload();
  }

  /**
   * A key derived (HKDF-SHA256) from each master key in the keyring for `purpose`, current first:
   * for keyed hashes of secrets (src/leaks/lookup.ts), never for encryption.
   */
  derivedKeys(purpose: string): Array<{ version: number; key: Buffer }> {
    const versions = [
      this.keyring.current,
      ...[...this.keyring.keys.keys()].filter((v) => v !== this.keyring.current),
    ];
    return versions.flatMap((version) => {
      const material = this.keyring.keys.get(version);
      if (!material) return [];
      return [{ version, key: Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), purpose, 32)) }];
    });
  }

  seal(plaintext: string, context: string): Sealed {
    // Sealing is rare (key creation and rotation): re-read the keyring so a rotation made by the
    // CLI while this server runs is used at once.
    this.refresh();
    const version = this.keyring.current;
    const key = this.keyring.keys.get(version);
    if (!key) throw new Error(`master key version ${version} is missing`);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64'),
      masterKeyVersion: version,
    };
  }

  open(sealed: Sealed, context: string): string {
    if (!this.keyring.keys.has(sealed.masterKeyVersion) && this.reload) this.keyring = this.reload();
    const key = this.keyring.keys.get(sealed.masterKeyVersion);
    if (!key) throw new Error(`master key version ${sealed.masterKeyVersion} is not in the keyring`);
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
