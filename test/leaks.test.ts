/**
 * Leaked-key intake (issue 17): the checksummed secret format, POST /v1/leaked-keys signed the way
 * GitHub's secret scanning signs (ECDSA P-256 over the raw body, keys from an operator's file) or
 * sent by an in-house scanner's key holding iam:leaks:report, and what a quarantine does.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateAccessKeyId } from '../src/crypto/access-key-id.js';
import { addKeyToFileKeyring, pruneFileKeyring } from '../src/crypto/master-key.js';
import { randomBase62 } from '../src/crypto/random.js';
import {
  generateChecksummedSecret,
  hasSecretShape,
  looksLikeLatchkeySecret,
  SECRET_PATTERN,
} from '../src/crypto/secret-format.js';
import { reencryptAll } from '../src/keys/master-key-rotation.js';
import { secretContext } from '../src/keys/secrets.js';
import { backfillLookupHashes } from '../src/leaks/lookup.js';
import { Notifier } from '../src/notify/notifier.js';
import { call, createUserWithLogin, loginWithKey, startTestApp, type TestApp } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';
import { useTestSmtp } from './helpers/smtp.js';

const HOST = 'latchkey.test';

describe('secret format', () => {
  it('new secrets carry a checksum a one-character change breaks, in the shape scanners match', () => {
    for (let i = 0; i < 200; i++) {
      const secret = generateChecksummedSecret();
      expect(secret).toMatch(/^lksk_[0-9A-Za-z]{40}$/);
      expect(SECRET_PATTERN.test(`key=${secret};`)).toBe(true);
      expect(looksLikeLatchkeySecret(secret)).toBe(true);
      // Every position, to another base62 character: the CRC-32 catches each single change.
      const at = 5 + (i % 40);
      const other = secret[at] === 'a' ? 'b' : 'a';
      expect(looksLikeLatchkeySecret(secret.slice(0, at) + other + secret.slice(at + 1))).toBe(false);
    }
    expect(looksLikeLatchkeySecret(`${generateChecksummedSecret()}x`)).toBe(false);
    expect(looksLikeLatchkeySecret('ghp_0123456789abcdefghijABCDEFGHIJklmnopqrst')).toBe(false);
    // A secret of the old format (no checksum) has the shape, and (all but certainly) not the checksum.
    const old = `lksk_${randomBase62(40)}`;
    expect(hasSecretShape(old)).toBe(true);
    expect(looksLikeLatchkeySecret(old)).toBe(false);
  });
});

/** A GitHub-like signer: a P-256 key pair and the keys file naming its public half. */
function reportSigner(identifier: string): { identifier: string; privateKey: KeyObject; entry: object } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    identifier,
    privateKey,
    entry: {
      key_identifier: identifier,
      key: publicKey.export({ type: 'spki', format: 'pem' }),
      is_current: true,
    },
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-leaks-'));
const github = reportSigner('gh-key-1');
const stranger = reportSigner('gh-key-1');

describeEachEngine('leaked-key intake', (engine) => {
  const keysFile = path.join(dir, `keys-${engine}.json`);
  fs.writeFileSync(keysFile, JSON.stringify({ public_keys: [github.entry] }));
  const smtp = useTestSmtp();
  const t: TestApp = useTestApp(engine, () => ({
    env: {
      LATCHKEY_LEAK_REPORT_KEYS_FILE: keysFile,
      LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1',
      SMTP_URL: smtp.url,
    },
  }));
  let owner: { id: string; token: string };
  let address = 0;
  const nextIp = () => `10.7.${Math.floor(++address / 250)}.${address % 250}`;

  const newKey = async (): Promise<Credentials> => {
    const k = (await call(t, 'POST', `/iam/users/${owner.id}/keys`, { body: {} })).json();
    return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
  };

  const report = (
    items: unknown,
    options: {
      signer?: typeof github;
      tamper?: (body: string) => string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const body = JSON.stringify(items);
    const signer = options.signer ?? github;
    const signature = sign('sha256', Buffer.from(body), signer.privateKey).toString('base64');
    return t.app.inject({
      method: 'POST',
      url: '/v1/leaked-keys',
      headers: {
        'content-type': 'application/json',
        'github-public-key-identifier': signer.identifier,
        'github-public-key-signature': signature,
        ...options.headers,
      },
      payload: options.tamper ? options.tamper(body) : body,
    });
  };

  const signed = async (c: Credentials, method: 'GET' | 'PATCH' | 'POST', url: string, body?: string) => {
    const headers = await signHeaders(c, {
      method,
      path: url,
      host: HOST,
      date: t.clock.now(),
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body } : {}),
    });
    return t.app.inject({
      method,
      url,
      headers,
      remoteAddress: nextIp(),
      ...(body ? { payload: body } : {}),
    });
  };

  const keyView = async (id: string) => (await call(t, 'GET', `/iam/keys/${id}`)).json();
  const counts = async () => {
    const db = t.runtime.svc.db;
    const n = async (q: { executeTakeFirstOrThrow(): Promise<{ n: string | number }> }) =>
      Number((await q.executeTakeFirstOrThrow()).n);
    return {
      quarantined: await n(
        db
          .selectFrom('access_keys')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('quarantined_at', 'is not', null),
      ),
      audit: await n(
        db
          .selectFrom('audit_log')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('action', '=', 'access_key.quarantine'),
      ),
      mail: await n(
        db
          .selectFrom('mail_outbox')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('kind', '=', 'key_quarantined'),
      ),
      bells: await n(
        db
          .selectFrom('notifications')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('kind', '=', 'key_quarantined'),
      ),
      deliveries: await n(
        db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('event_type', '=', 'access_key.quarantined'),
      ),
    };
  };

  beforeAll(async () => {
    owner = await createUserWithLogin(t, 'owner@example.com');
    // The owner holds several keys over the suite (a user who is not an administrator may hold 2 by default).
    expect((await call(t, 'PATCH', '/iam/settings', { body: { userKeyLimit: 50 } })).statusCode).toBe(200);
    const hook = await call(t, 'POST', '/iam/webhooks', {
      body: { url: 'http://127.0.0.1:9/hook', events: ['access_key.quarantined'] },
    });
    expect(hook.statusCode).toBe(201);
  });

  it('a signed report of a live secret quarantines its key: refused, owner and administrators told, audited, webhook queued', async () => {
    const key = await newKey();
    expect(looksLikeLatchkeySecret(key.secretAccessKey)).toBe(true);
    expect((await signed(key, 'GET', '/profile')).statusCode).toBe(200);
    const before = await counts();
    const url = 'https://github.com/acme/app/blob/abc/config.js';
    const res = await report([
      { token: key.secretAccessKey, type: 'latchkey_secret', url, source: 'content' },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual([
      { token_raw: key.secretAccessKey, token_type: 'latchkey_secret', label: 'true_positive' },
    ]);
    const view = await keyView(key.accessKeyId);
    expect(view.quarantine).toEqual({
      at: expect.any(String),
      reason: expect.stringContaining('GitHub secret scanning'),
      url,
    });
    // Default leakedKeyAction: disable. Every method is refused, and key sign-in too.
    const refused = await signed(key, 'GET', '/profile');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('AccessKeyQuarantined');
    const exchange = await loginWithKey(t, key.accessKeyId, key.secretAccessKey);
    expect(exchange.statusCode).toBe(403);
    expect(exchange.json().error.code).toBe('KEY_QUARANTINED');

    const after = await counts();
    expect(after.quarantined).toBe(before.quarantined + 1);
    expect(after.audit).toBe(before.audit + 1);
    expect(after.deliveries).toBe(before.deliveries + 1);
    const mail = await t.runtime.svc.db
      .selectFrom('mail_outbox')
      .select(['to_address', 'subject', 'text_body'])
      .where('kind', '=', 'key_quarantined')
      .where('text_body', 'like', `%${key.accessKeyId}%`)
      .execute();
    expect(mail.map((m) => m.to_address).sort()).toEqual(['admin@example.com', 'owner@example.com']);
    expect(mail[0]?.subject).toMatch(/reported leaked/);
    for (const m of mail) expect(m.text_body).not.toContain(key.secretAccessKey);
    // And out through real SMTP.
    await new Notifier(t.runtime.svc).runOnce();
    const sent = smtp.to('owner@example.com').find((m) => m.decoded.includes(key.accessKeyId));
    expect(sent?.subject).toMatch(/reported leaked and is quarantined/);
    expect(sent?.decoded).toContain(url);
    expect(sent?.decoded).not.toContain(key.secretAccessKey);
    const bell = (await call(t, 'GET', '/iam/notifications', { token: owner.token })).json();
    expect(
      bell.items.some(
        (n: { kind: string; data: { accessKeyId?: string } }) =>
          n.kind === 'key_quarantined' && n.data.accessKeyId === key.accessKeyId,
      ),
    ).toBe(true);
    const audit = await t.runtime.svc.db
      .selectFrom('audit_log')
      .select(['actor_type', 'actor_id', 'after'])
      .where('action', '=', 'access_key.quarantine')
      .where('target_id', '=', key.accessKeyId)
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ actor_type: 'system', actor_id: 'github-secret-scanning' });
    expect(audit.after).not.toContain(key.secretAccessKey);
    const delivery = await t.runtime.svc.db
      .selectFrom('webhook_deliveries')
      .select('payload')
      .where('event_type', '=', 'access_key.quarantined')
      .where('payload', 'like', `%${key.accessKeyId}%`)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(delivery.payload).data.key.quarantine.url).toBe(url);

    // Reported again (GitHub retries, or another scanner): still true_positive, nobody told twice.
    const again = await report([{ token: key.secretAccessKey, type: 'latchkey_secret' }]);
    expect(again.json()[0].label).toBe('true_positive');
    expect(await counts()).toEqual(after);
  });

  it('a report of an access key ID quarantines the key; in read-only tenants only GET and HEAD pass', async () => {
    expect(
      (await call(t, 'PATCH', '/iam/settings', { body: { leakedKeyAction: 'read-only' } })).statusCode,
    ).toBe(200);
    try {
      const key = await newKey();
      const token = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token as string;
      const res = await report([
        { token: key.accessKeyId, type: 'latchkey_access_key_id', source: 'commit' },
      ]);
      expect(res.json()).toEqual([
        { token_raw: key.accessKeyId, token_type: 'latchkey_access_key_id', label: 'true_positive' },
      ]);
      expect((await keyView(key.accessKeyId)).quarantine).not.toBeNull();
      expect((await signed(key, 'GET', '/profile')).statusCode).toBe(200);
      const write = await signed(key, 'PATCH', `/iam/keys/${key.accessKeyId}`, JSON.stringify({ name: 'x' }));
      expect(write.statusCode).toBe(403);
      expect(write.json().error.code).toBe('AccessKeyQuarantined');
      expect((await keyView(key.accessKeyId)).name).not.toBe('x');
      // The key's token too: it reads, and writes end it.
      expect((await call(t, 'GET', '/profile', { token })).statusCode).toBe(200);
      const tokenWrite = await call(t, 'PATCH', `/iam/keys/${key.accessKeyId}`, {
        token,
        body: { name: 'y' },
      });
      expect(tokenWrite.statusCode).toBe(401);
      expect(tokenWrite.json().error.message).toMatch(/quarantined/);
      // Back to disable: the cached entry is dropped with the setting, GETs are refused too.
      await call(t, 'PATCH', '/iam/settings', { body: { leakedKeyAction: 'disable' } });
      expect((await signed(key, 'GET', '/profile')).json().error.code).toBe('AccessKeyQuarantined');
    } finally {
      await call(t, 'PATCH', '/iam/settings', { body: { leakedKeyAction: 'disable' } });
    }
  });

  it('tokens that are no live credential are false_positive and change nothing', async () => {
    const key = await newKey();
    const before = await counts();
    const tokens = [
      generateAccessKeyId(), // well formed, no such key
      generateChecksummedSecret(), // well formed, no such secret
      `${key.secretAccessKey.slice(0, -1)}${key.secretAccessKey.endsWith('A') ? 'B' : 'A'}`, // one character off
      'LKIA0000000000000000000000', // checksum wrong
      'not a credential at all',
    ];
    const res = await report(tokens.map((token) => ({ token, type: 'latchkey_secret' })));
    expect(res.statusCode).toBe(200);
    expect(res.json().map((f: { label: string }) => f.label)).toEqual(tokens.map(() => 'false_positive'));
    expect(res.json().map((f: { token_raw: string }) => f.token_raw)).toEqual(tokens);
    expect(await counts()).toEqual(before);
    expect((await signed(key, 'GET', '/profile')).statusCode).toBe(200);
  });

  it('bad signatures, unknown key identifiers, missing headers and tampered bodies are 401 and change nothing', async () => {
    const key = await newKey();
    const items = [{ token: key.secretAccessKey, type: 'latchkey_secret' }];
    const before = await counts();
    const wrongKey = await report(items, { signer: stranger });
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.json().error.code).toBe('LEAK_REPORT_SIGNATURE_INVALID');
    const unknown = await report(items, { signer: { ...github, identifier: 'gh-key-unknown' } });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error.code).toBe('LEAK_REPORT_KEY_UNKNOWN');
    const tampered = await report(items, { tamper: (b) => b.replace('latchkey_secret', 'latchkey_secreT') });
    expect(tampered.statusCode).toBe(401);
    expect(tampered.json().error.code).toBe('LEAK_REPORT_SIGNATURE_INVALID');
    const garbled = await report(items, {
      headers: { 'github-public-key-signature': 'bm90IGEgc2lnbmF0dXJl' },
    });
    expect(garbled.json().error.code).toBe('LEAK_REPORT_SIGNATURE_INVALID');
    const half = await t.app.inject({
      method: 'POST',
      url: '/v1/leaked-keys',
      headers: { 'content-type': 'application/json', 'github-public-key-identifier': github.identifier },
      payload: JSON.stringify(items),
    });
    expect(half.statusCode).toBe(401);
    expect(half.json().error.code).toBe('LEAK_REPORT_SIGNATURE_INVALID');
    const none = await t.app.inject({
      method: 'POST',
      url: '/v1/leaked-keys',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(items),
    });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    expect(await counts()).toEqual(before);
    expect((await keyView(key.accessKeyId)).quarantine).toBeNull();
    // Bad input from a signed reporter: 400 with a stable code, never 5xx.
    for (const body of [
      [],
      {},
      [{ token: 'x' }],
      Array.from({ length: 101 }, () => ({ token: 'x', type: 'y' })),
    ]) {
      const res = await report(body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('reads a replaced keys file on the next report, without a restart', async () => {
    const next = reportSigner('gh-key-2');
    const key = await newKey();
    const items = [{ token: key.accessKeyId, type: 'latchkey_access_key_id' }];
    expect((await report(items, { signer: next })).json().error.code).toBe('LEAK_REPORT_KEY_UNKNOWN');
    fs.writeFileSync(keysFile, JSON.stringify({ public_keys: [github.entry, next.entry] }));
    const res = await report(items, { signer: next });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()[0].label).toBe('true_positive');
    // A broken replacement is logged; the keys read before stay in force.
    fs.writeFileSync(keysFile, '{ not json');
    expect((await report([{ token: 'x', type: 'y' }], { signer: next })).statusCode).toBe(200);
    fs.writeFileSync(keysFile, JSON.stringify({ public_keys: [github.entry] }));
  });

  it('an in-house scanner needs iam:leaks:report and reaches only keys of its own tenant', async () => {
    const role = (
      await call(t, 'POST', '/iam/roles', {
        body: { name: 'Leak reporter', permissions: ['iam:leaks:report'] },
      })
    ).json();
    const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'scanner' } })).json();
    await call(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, { body: { roleIds: [role.id] } });
    const k = (await call(t, 'POST', `/iam/service-accounts/${sa.id}/keys`, { body: {} })).json();
    const scanner = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
    const plain = (
      await call(t, 'POST', '/iam/service-accounts', { body: { name: 'no-permission' } })
    ).json();
    const pk = (await call(t, 'POST', `/iam/service-accounts/${plain.id}/keys`, { body: {} })).json();

    const other = await secondTenantAdmin(t, `other-${engine}@example.com`);
    const otherMe = (await call(t, 'GET', '/iam/me', { token: other.token })).json();
    const foreign = (
      await call(t, 'POST', `/iam/users/${otherMe.id}/keys`, { token: other.token, body: {} })
    ).json();

    const victim = await newKey();
    const body = JSON.stringify([
      { token: victim.secretAccessKey, type: 'latchkey_secret', source: 'ci-logs' },
      { token: foreign.secretAccessKey, type: 'latchkey_secret' },
      { token: foreign.accessKeyId, type: 'latchkey_access_key_id' },
    ]);
    const denied = await signed(
      { accessKeyId: pk.accessKeyId, secretAccessKey: pk.secretAccessKey },
      'POST',
      '/v1/leaked-keys',
      body,
    );
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({
      code: 'AccessDenied',
      missingPermission: 'iam:leaks:report',
    });
    expect((await keyView(victim.accessKeyId)).quarantine).toBeNull();

    const res = await signed(scanner, 'POST', '/v1/leaked-keys', body);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().map((f: { label: string }) => f.label)).toEqual([
      'true_positive',
      'false_positive',
      'false_positive',
    ]);
    expect((await keyView(victim.accessKeyId)).quarantine.reason).toContain(sa.id);
    const foreignView = (
      await call(t, 'GET', `/iam/keys/${foreign.accessKeyId}`, { token: other.token })
    ).json();
    expect(foreignView.quarantine).toBeNull();
    // A GitHub-signed report is the operator's: it reaches the other tenant's key.
    expect((await report([{ token: foreign.accessKeyId, type: 'x' }])).json()[0].label).toBe('true_positive');
    const after = (await call(t, 'GET', `/iam/keys/${foreign.accessKeyId}`, { token: other.token })).json();
    expect(after.quarantine).not.toBeNull();
  });

  it('a new secret lifts the quarantine and ends the reported secret at once; release lifts it explicitly', async () => {
    const key = await newKey();
    await report([{ token: key.secretAccessKey, type: 'latchkey_secret' }]);
    expect((await signed(key, 'GET', '/profile')).statusCode).toBe(403);
    // Asked for a grace period: none is given to a leaked secret.
    const rotated = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/secret`, {
      body: { graceSeconds: 3600 },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().quarantine).toBeNull();
    const fresh = { accessKeyId: key.accessKeyId, secretAccessKey: rotated.json().secretAccessKey };
    expect((await signed(fresh, 'GET', '/profile')).statusCode).toBe(200);
    const old = await signed(key, 'GET', '/profile');
    expect(old.statusCode).toBe(403);
    expect(old.json().error.code).toBe('SignatureDoesNotMatch');
    // The old secret is gone: reported again, it is nobody's.
    expect((await report([{ token: key.secretAccessKey, type: 'latchkey_secret' }])).json()[0].label).toBe(
      'false_positive',
    );

    await report([{ token: fresh.secretAccessKey, type: 'latchkey_secret' }]);
    expect((await signed(fresh, 'GET', '/profile')).statusCode).toBe(403);
    const byOwner = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/quarantine/release`, {
      token: owner.token,
      body: {},
    });
    expect(byOwner.statusCode).toBe(403);
    const released = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/quarantine/release`, { body: {} });
    expect(released.statusCode, released.body).toBe(200);
    expect(released.json().quarantine).toBeNull();
    expect((await signed(fresh, 'GET', '/profile')).statusCode).toBe(200);
    const twice = await call(t, 'POST', `/iam/keys/${key.accessKeyId}/quarantine/release`, { body: {} });
    expect(twice.statusCode).toBe(409);
    const actions = await t.runtime.svc.db
      .selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', key.accessKeyId)
      .orderBy('id')
      .execute();
    expect(actions.map((a) => a.action)).toEqual([
      'access_key.create',
      'access_key.quarantine',
      'access_key.rotate_secret',
      'access_key.quarantine',
      'access_key.quarantine_release',
    ]);
  });

  it('secrets of the old format still sign requests, and are found by reports once the backfill hashed them', async () => {
    const key = await newKey();
    const { svc } = t.runtime;
    // A secret as stored before the checksum and the lookup hash existed.
    const oldSecret = `lksk_${randomBase62(40)}`;
    const sealed = svc.secrets.seal(oldSecret, secretContext(t.tenantId, key.accessKeyId, 1));
    await svc.db
      .updateTable('key_secrets')
      .set({
        ciphertext: sealed.ciphertext,
        master_key_version: sealed.masterKeyVersion,
        lookup_hash: null,
        lookup_key: null,
      })
      .where('access_key_id', '=', key.accessKeyId)
      .execute();
    t.runtime.keys.invalidate(key.accessKeyId);
    const old = { accessKeyId: key.accessKeyId, secretAccessKey: oldSecret };
    expect((await signed(old, 'GET', '/profile')).statusCode).toBe(200);
    // Not hashed yet: nothing is decrypted to find it.
    expect((await report([{ token: oldSecret, type: 'latchkey_secret' }])).json()[0].label).toBe(
      'false_positive',
    );
    expect(await backfillLookupHashes(svc)).toBeGreaterThanOrEqual(1);
    // Nothing left to do on the next run.
    expect(await backfillLookupHashes(svc)).toBe(0);
    expect((await report([{ token: oldSecret, type: 'latchkey_secret' }])).json()[0].label).toBe(
      'true_positive',
    );
    expect((await signed(old, 'GET', '/profile')).json().error.code).toBe('AccessKeyQuarantined');
  });
  it('a master-key rotation keeps reported secrets findable, before and after the old key is pruned', async () => {
    const file = path.join(t.db.dataDir, 'master.key');
    const { svc } = t.runtime;
    const lookupKeyOf = async (id: string) =>
      (
        await svc.db
          .selectFrom('key_secrets')
          .select('lookup_key')
          .where('access_key_id', '=', id)
          .executeTakeFirstOrThrow()
      ).lookup_key;
    const before = await newKey();
    addKeyToFileKeyring(file);
    const after = await newKey();
    // Hashed under different master keys; the old hash is still found while both keys are known.
    expect(await lookupKeyOf(before.accessKeyId)).not.toBe(await lookupKeyOf(after.accessKeyId));
    expect((await report([{ token: before.secretAccessKey, type: 'latchkey_secret' }])).json()[0].label).toBe(
      'true_positive',
    );
    await reencryptAll(svc);
    // Re-sealing moved the hash to the new master key with the secret.
    expect(await lookupKeyOf(before.accessKeyId)).toBe(await lookupKeyOf(after.accessKeyId));
    pruneFileKeyring(file);
    // An instance that knows only the new master key finds both.
    const fresh = await startTestApp(engine, { db: t.db, env: { LATCHKEY_LEAK_REPORT_KEYS_FILE: keysFile } });
    try {
      for (const token of [before.secretAccessKey, after.secretAccessKey]) {
        const res = await fresh.app.inject({
          method: 'POST',
          url: '/v1/leaked-keys',
          headers: {
            'content-type': 'application/json',
            'github-public-key-identifier': github.identifier,
            'github-public-key-signature': sign(
              'sha256',
              Buffer.from(JSON.stringify([{ token, type: 'latchkey_secret' }])),
              github.privateKey,
            ).toString('base64'),
          },
          payload: JSON.stringify([{ token, type: 'latchkey_secret' }]),
        });
        expect(res.json()[0]?.label, res.body).toBe('true_positive');
      }
    } finally {
      await fresh.close();
    }
  });
});
