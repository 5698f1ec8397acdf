import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE, MemoryThrottle } from '../src/auth/throttle.js';
import { ConfigError, loadConfig } from '../src/config.js';
import {
  ACCESS_KEY_ID_LENGTH,
  generateAccessKeyId,
  generateSecretAccessKey,
  isWellFormedAccessKeyId,
} from '../src/crypto/access-key-id.js';
import { SecretBox } from '../src/crypto/envelope.js';
import { formatKeyring, parseKeyring } from '../src/crypto/master-key.js';
import {
  hashPassword,
  PASSWORD_HASH_COST,
  setPasswordHashCost,
  verifyPassword,
} from '../src/crypto/password.js';
import {
  IntersectionSet,
  PermissionSet,
  patternMatches,
  unknownPatterns,
} from '../src/identity/permissions.js';
import { DEFAULT_SETTINGS } from '../src/identity/settings.js';
import { resolveExpiry } from '../src/keys/expiry.js';

describe('access key ID format', () => {
  it('has the LKIA prefix, 26 characters, and a checksum that catches every single-character typo', () => {
    const id = generateAccessKeyId();
    expect(id).toMatch(/^LKIA[0-9A-HJKMNP-TV-Z]{22}$/);
    expect(id).toHaveLength(ACCESS_KEY_ID_LENGTH);
    expect(isWellFormedAccessKeyId(id)).toBe(true);
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    let caught = 0;
    let total = 0;
    for (let i = 4; i < id.length; i++) {
      for (const c of alphabet) {
        if (c === id[i]) continue;
        total++;
        if (!isWellFormedAccessKeyId(id.slice(0, i) + c + id.slice(i + 1))) caught++;
      }
    }
    expect(caught).toBe(total);
    expect(isWellFormedAccessKeyId(id.slice(0, 5) + id[6] + id[5] + id.slice(7))).toBe(id[5] === id[6]);
  });

  it('secrets carry at least 160 bits and never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(generateSecretAccessKey());
    expect(seen.size).toBe(2000);
    const secret = generateSecretAccessKey();
    expect(secret).toMatch(/^lksk_[0-9A-Za-z]{40}$/);
    expect(40 * Math.log2(62)).toBeGreaterThan(160);
  });
});

describe('envelope encryption', () => {
  const keyring = {
    ...parseKeyring(Buffer.alloc(32, 7).toString('base64'), 'TEST'),
    source: { kind: 'env' as const },
  };
  it('round-trips and binds the ciphertext to its context', () => {
    const box = new SecretBox(keyring);
    const sealed = box.seal('lksk_secret', 'key-secret:t:LKIA…:1');
    expect(sealed.ciphertext).not.toContain('lksk_secret');
    expect(box.open(sealed, 'key-secret:t:LKIA…:1')).toBe('lksk_secret');
    expect(() => box.open(sealed, 'key-secret:t:OTHER:1')).toThrow();
    const tampered = Buffer.from(sealed.ciphertext, 'base64');
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    expect(() =>
      box.open({ ...sealed, ciphertext: tampered.toString('base64') }, 'key-secret:t:LKIA…:1'),
    ).toThrow();
  });
  it('parses keyrings and refuses bad ones, naming the variable', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const ring = parseKeyring(`2:${k2},1:${k1}`, 'LATCHKEY_MASTER_KEY');
    expect(ring.current).toBe(2);
    expect(parseKeyring(formatKeyring(ring.current, ring.keys), 'x').keys.size).toBe(2);
    expect(() => parseKeyring('short', 'LATCHKEY_MASTER_KEY')).toThrow(/LATCHKEY_MASTER_KEY/);
    expect(() => parseKeyring(`1:${k1},1:${k2}`, 'LATCHKEY_MASTER_KEY')).toThrow(/twice/);
  });
});

describe('passwords', () => {
  // The cost is the process's (createServices sets it from the configuration): in the unit run, whose
  // files share their modules, another file's test app may have set its own.
  beforeEach(() => setPasswordHashCost(PASSWORD_HASH_COST.default));

  it('hashes with scrypt and verifies', async () => {
    const hash = await hashPassword('hunter2-hunter2');
    expect(hash.startsWith('scrypt$15$8$1$')).toBe(true);
    expect(await verifyPassword('hunter2-hunter2', hash)).toBe(true);
    expect(await verifyPassword('hunter2-hunter3', hash)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('makes new hashes at the configured cost; hashes made at another cost still verify', async () => {
    const before = await hashPassword('hunter2-hunter2');
    try {
      setPasswordHashCost(11);
      const cheaper = await hashPassword('hunter2-hunter2');
      expect(cheaper.startsWith('scrypt$11$8$1$')).toBe(true);
      expect(await verifyPassword('hunter2-hunter2', cheaper)).toBe(true);
      expect(await verifyPassword('hunter2-hunter2', before)).toBe(true);
      expect(await verifyPassword('hunter2-hunter3', before)).toBe(false);
      expect(() => setPasswordHashCost(9)).toThrow(RangeError);
      expect(() => setPasswordHashCost(19)).toThrow(RangeError);
    } finally {
      setPasswordHashCost(PASSWORD_HASH_COST.default);
    }
    expect((await hashPassword('hunter2-hunter2')).startsWith('scrypt$15$8$1$')).toBe(true);
  });
});

describe('permission patterns', () => {
  it('matches segments and trailing wildcards', () => {
    expect(patternMatches('*', 'iam:keys:manage')).toBe(true);
    expect(patternMatches('*:read', 'agent:read')).toBe(true);
    expect(patternMatches('*:read', 'iam:keys:read')).toBe(false);
    expect(patternMatches('iam:*', 'iam:keys:manage')).toBe(true);
    expect(patternMatches('iam:*:read', 'iam:keys:read')).toBe(true);
    expect(patternMatches('agent:read', 'agent:write')).toBe(false);
    expect(patternMatches('agent', 'agent:read')).toBe(false);
    expect(unknownPatterns(['agent:read', 'agnet:read', 'AGENT:read', 'iam:*', ''])).toEqual([
      'agnet:read',
      'AGENT:read',
      '',
    ]);
  });
  it('intersects: a key never exceeds its owner', () => {
    const key = new PermissionSet(['*']);
    const owner = new PermissionSet(['*:read']);
    const both = new IntersectionSet(key, owner);
    expect(both.allows('agent:read')).toBe(true);
    expect(both.allows('agent:write')).toBe(false);
    expect(both.expand().every((p) => p.endsWith(':read'))).toBe(true);
  });
});

describe('expiry rules', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it('defaults, validates and caps', () => {
    expect(resolveExpiry({}, DEFAULT_SETTINGS, now)).toBe('2027-02-21T10:00:00.000Z');
    expect(resolveExpiry({}, { ...DEFAULT_SETTINGS, defaultKeyLifetimeDays: null }, now)).toBeNull();
    expect(resolveExpiry({ expiresAt: '2026-12-01T12:00:00+08:00' }, DEFAULT_SETTINGS, now)).toBe(
      '2026-12-01T04:00:00.000Z',
    );
    expect(() => resolveExpiry({ expiresAt: '2026-02-30' }, DEFAULT_SETTINGS, now)).toThrow();
    expect(() => resolveExpiry({ expiresAt: 'tomorrow' }, DEFAULT_SETTINGS, now)).toThrow();
    expect(() =>
      resolveExpiry({ validityDays: 10 }, { ...DEFAULT_SETTINGS, maxKeyLifetimeDays: 5 }, now),
    ).toThrow(/at most 5 days/);
  });
});

describe('failure throttle', () => {
  it('lets five failures through, then backs off exponentially, and forgets on success', async () => {
    const t = new MemoryThrottle();
    const k = [{ name: 'ip:1', policy: DEFAULT_THROTTLE }];
    for (let i = 0; i < 5; i++) expect(await t.recordFailure(k, 0)).toBe(0);
    expect(await t.retryAfter(k, 0)).toBe(0);
    expect(await t.recordFailure(k, 0)).toBe(1);
    expect(await t.retryAfter(k, 0)).toBe(1);
    // Each further failure once the previous block has ended doubles the block.
    await t.recordFailure(k, 1000);
    expect(await t.retryAfter(k, 1000)).toBe(2);
    await t.recordFailure(k, 3000);
    expect(await t.retryAfter(k, 3000)).toBe(4);
    expect(await t.retryAfter([{ name: 'ip:2', policy: DEFAULT_THROTTLE }], 0)).toBe(0);
    await t.reset(k);
    expect(await t.retryAfter(k, 0)).toBe(0);
  });
  it('stays bounded in memory', async () => {
    const t = new MemoryThrottle({ maxEntries: 100 });
    const policy = { freeFailures: 0, baseBlockSeconds: 1, maxBlockSeconds: 10, forgetAfterSeconds: 60 };
    const ip = (i: number) => [{ name: `ip:${i}`, policy }];
    for (let i = 0; i < 1000; i++) await t.recordFailure(ip(i), 0);
    expect(t.size).toBe(100);
    expect(await t.retryAfter(ip(0), 0)).toBe(0);
    expect(await t.retryAfter(ip(999), 0)).toBe(1);
  });
});

describe('configuration', () => {
  it('parses defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      sigv4: { region: 'ap-southeast-5', service: 'sqlaccount' },
      jobsIntervalSeconds: 60,
      passwordHashCost: 15,
    });
    expect(loadConfig({ LATCHKEY_PASSWORD_HASH_COST: '17' }).passwordHashCost).toBe(17);
    expect(c.database.kind).toBe('sqlite');
    expect(Object.isFrozen(c)).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).database).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
    });
  });
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['LATCHKEY_SIGV4_REGION', 'Bad Region'],
    ['LATCHKEY_JOBS_INTERVAL_SECONDS', '0'],
    ['LATCHKEY_ADMIN_PASSWORD', 'short'],
    ['LATCHKEY_ADMIN_EMAIL', 'not-an-email'],
    ['LOG_LEVEL', 'loud'],
    ['LATCHKEY_TRUST_PROXY', 'maybe'],
    ['LATCHKEY_PASSWORD_HASH_COST', '9'],
    ['LATCHKEY_PASSWORD_HASH_COST', '19'],
    ['LATCHKEY_PASSWORD_HASH_COST', 'high'],
    ['LATCHKEY_WEBAUTHN_RP_ID', 'https://example.com'],
    ['LATCHKEY_WEBAUTHN_RP_ID', 'example.com:8443'],
    ['LATCHKEY_WEBAUTHN_RP_ID', 'Example.com'],
    ['LATCHKEY_WEBAUTHN_RP_ID', '127.0.0.1'],
    ['LATCHKEY_WEBAUTHN_RP_ID', 'example..com'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}:`));
  });
  it('LATCHKEY_WEBAUTHN_RP_ID: unset, the host decides; set, it must be the public URL host or a domain above it', () => {
    expect(loadConfig({}).webauthnRpId).toBeUndefined();
    expect(loadConfig({ LATCHKEY_WEBAUTHN_RP_ID: 'example.com' }).webauthnRpId).toBe('example.com');
    const publicUrl = 'https://keys.eu.example.com:8443/';
    for (const rpId of ['keys.eu.example.com', 'eu.example.com', 'example.com']) {
      expect(loadConfig({ LATCHKEY_PUBLIC_URL: publicUrl, LATCHKEY_WEBAUTHN_RP_ID: rpId }).webauthnRpId).toBe(
        rpId,
      );
    }
    for (const rpId of ['ample.com', 'other.example.com', 'keys.eu.example.com.evil']) {
      expect(() => loadConfig({ LATCHKEY_PUBLIC_URL: publicUrl, LATCHKEY_WEBAUTHN_RP_ID: rpId })).toThrow(
        /^LATCHKEY_WEBAUTHN_RP_ID: must be LATCHKEY_PUBLIC_URL's host \(keys\.eu\.example\.com\) or a domain above it/,
      );
    }
  });
});
