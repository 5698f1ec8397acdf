/**
 * Moving a tenant between deployments (`latchkey export` / `latchkey import`, issue 16): round trips
 * SQLite → SQLite, SQLite → PostgreSQL and PostgreSQL → SQLite, each between deployments with their
 * own master keys. After the move the tenant's rows are the same row for row (but for what is left
 * out on purpose), its access keys sign requests, its passwords sign in, its permissions and its
 * data API answers are the same; the file protects what it carries, and a wrong passphrase, a
 * changed or cut file, a second import or a collision change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../../src/accounting/demo.js';
import type { DataDb } from '../../src/accounting/store.js';
import { createTenantAsOperator } from '../../src/identity/tenants.js';
import { secretContext } from '../../src/keys/secrets.js';
import { Notifier } from '../../src/notify/notifier.js';
import { exportTenant, importTenant, transferTables } from '../../src/storage/tenant-transfer.js';
import { openExportFile, readExportHeader } from '../../src/storage/tenant-transfer-file.js';
import { webhookSecretContext } from '../../src/webhooks/endpoints.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, call, login, startTestApp, type TestApp } from '../helpers/app.js';
import { type EngineName, engineAvailable, POSTGRES_AVAILABLE, scratchDatabase } from '../helpers/engines.js';
import { type ProcessResult, runCli, sleep } from '../helpers/process.js';
import { type Credentials, signHeaders } from '../helpers/sign.js';

const HOST = 'latchkey.test';
const PASSPHRASE = 'moving-day passphrase 2026';
const ACME = { name: 'Acme', email: 'owner@acme.example', password: 'acme-owner-password-01' };
const ANA = { email: 'ana@acme.example', password: 'ana-password-0000001' };
/** Rows that stay behind on purpose (NOT_EXPORTED); the rest must arrive row for row. */
const LEFT_BEHIND = ['mail_outbox', 'key_reveal_links', 'webhook_deliveries'];
/** The sealed columns differ by design (sealed again under the target's master key): compared opened. */
const SEALED: Record<string, string[]> = {
  // The leak-report lookup hash is keyed by the deployment's master key too (checked below).
  key_secrets: ['ciphertext', 'master_key_version', 'lookup_hash', 'lookup_key'],
  webhook_endpoints: ['secret_ciphertext', 'master_key_version'],
};
/** The audit rows export and import write (each on its own side, after and during the move). */
const TRANSFER_ACTIONS = ['tenant.export', 'tenant.import'];

interface Key extends Credentials {
  accessKeyId: string;
}

interface Seeded {
  tenantId: string;
  adminId: string;
  adminKey: Key;
  anaId: string;
  /** Ana's key: her group's role allows agent:read only. */
  anaKey: Key;
  saKey: Key;
  /** A key whose secret was replaced with an hour's grace: both secrets work. */
  rotated: { accessKeyId: string; oldSecret: string; newSecret: string };
  webhook: { id: string; secret: string };
  /** The source's other tenant, whose rows must not travel. */
  other: { tenantId: string; userEmail: string; key: Key };
  /** Every secret and password: none may appear in a file or in output. */
  secrets: string[];
}

async function signed(t: TestApp, key: Credentials, method: 'GET' | 'POST', url: string, body?: unknown) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = await signHeaders(key, {
    method,
    path: url,
    host: HOST,
    date: t.clock.now(),
    ...(payload === undefined ? {} : { body: payload, headers: { 'content-type': 'application/json' } }),
  });
  return t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
}

async function ok<T = Record<string, unknown>>(
  t: TestApp,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH',
  url: string,
  token: string,
  body?: unknown,
  status = method === 'POST' ? 201 : 200,
): Promise<T> {
  const res = await call(t, method, url, { token, ...(body === undefined ? {} : { body }) });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(status);
  return res.json() as T;
}

/**
 * On the source: a tenant "Acme" with something in every table a tenant has (users, a service
 * account, a group, a role, memberships of a user and of a key, keys with a quota, an expiring one
 * reminded of, a rotated one, a registered API, a webhook, settings, bell notifications, usage,
 * audit rows, accounting data), and the same kind of things in the first tenant, which stays.
 */
async function seedSource(t: TestApp): Promise<Seeded> {
  const { svc } = t.runtime;
  const secrets = [ACME.password, ANA.password, ADMIN_PASSWORD];
  const newKey = async (url: string, token: string, body: object): Promise<Key> => {
    const key = await ok<Key>(t, 'POST', url, token, body);
    secrets.push(key.secretAccessKey);
    return key;
  };

  // The first tenant ("Default"): it must stay where it is.
  await ok(t, 'POST', '/iam/users', t.adminToken, { email: 'other@default.example', name: 'Other' });
  const otherKey = await newKey(`/iam/users/${t.adminId}/keys`, t.adminToken, { name: 'default' });
  await seedDemoData({
    db: svc.db as unknown as DataDb,
    engine: svc.engine,
    clock: svc.clock,
    tenantId: t.tenantId,
  });

  const acme = await createTenantAsOperator(svc, {
    name: ACME.name,
    adminEmail: ACME.email,
    password: ACME.password,
  });
  const tenantId = acme.tenant.id;
  const token = await login(t, ACME.email, ACME.password);
  const adminId = acme.adminId;
  // First, so the keys created next queue deliveries (which stay behind on the source).
  const webhook = await ok<{ id: string; secret: string }>(t, 'POST', '/iam/webhooks', token, {
    url: 'http://127.0.0.1:9/hook',
    events: ['access_key.created'],
  });
  secrets.push(webhook.secret);
  const adminKey = await newKey(`/iam/users/${adminId}/keys`, token, { name: 'admin', neverExpires: true });
  const role = await ok<{ id: string }>(t, 'POST', '/iam/roles', token, {
    name: 'Readers',
    permissions: ['agent:read'],
  });
  const group = await ok<{ id: string }>(t, 'POST', '/iam/groups', token, {
    name: 'Ops',
    roleIds: [role.id],
  });
  const ana = await ok<{ id: string }>(t, 'POST', '/iam/users', token, {
    email: ANA.email,
    name: 'Ana',
    password: ANA.password,
  });
  // An assignment change rings Ana's bell (notifications).
  await ok(t, 'PUT', `/iam/users/${ana.id}/assignments`, token, { groupIds: [group.id] });
  // A day left: inside the reminder window, so the reminder job records it (key_reminders).
  const anaKey = await newKey(`/iam/users/${ana.id}/keys`, token, { name: 'ana', validityDays: 1 });
  await ok(t, 'PUT', `/iam/keys/${anaKey.accessKeyId}/assignments`, token, { groupIds: [group.id] });
  const sa = await ok<{ id: string }>(t, 'POST', '/iam/service-accounts', token, {
    name: 'etl',
    email: 'etl@acme.example',
  });
  await ok(t, 'PUT', `/iam/service-accounts/${sa.id}/assignments`, token, { roleIds: [role.id] });
  const saKey = await newKey(`/iam/service-accounts/${sa.id}/keys`, token, {
    name: 'etl',
    neverExpires: true,
    quota: { limit: 1000, period: 'month' },
  });
  const rotating = await newKey(`/iam/users/${adminId}/keys`, token, {
    name: 'rotating',
    neverExpires: true,
  });
  const rotated = await ok<Key>(
    t,
    'POST',
    `/iam/keys/${rotating.accessKeyId}/secret`,
    token,
    { graceSeconds: 3600 },
    200,
  );
  secrets.push(rotated.secretAccessKey);
  await ok(t, 'POST', '/iam/apis', token, {
    name: 'orders',
    basePath: '/api/orders',
    upstream: 'http://127.0.0.1:9',
    routes: [{ method: 'GET', path: '/*', permission: 'orders:read' }],
  });
  await ok(t, 'PATCH', '/iam/settings', token, { reminderLeadDays: 3, tokenLifetimeSeconds: 1800 });
  await seedDemoData({ db: svc.db as unknown as DataDb, engine: svc.engine, clock: svc.clock, tenantId });

  // Signed requests: last-used times, hourly usage and the quota counter.
  for (const key of [adminKey, anaKey, saKey, otherKey]) {
    expect((await signed(t, key, 'GET', '/agent/')).statusCode).toBe(200);
  }
  await t.runtime.lastUsed.flush();
  await t.runtime.usage.flush();
  await t.runtime.traffic.ledger.flush();
  await new Notifier(svc).runJobs();

  return {
    tenantId,
    adminId,
    adminKey,
    anaId: ana.id,
    anaKey,
    saKey,
    rotated: {
      accessKeyId: rotating.accessKeyId,
      oldSecret: rotating.secretAccessKey,
      newSecret: rotated.secretAccessKey,
    },
    webhook: { id: webhook.id, secret: webhook.secret },
    other: { tenantId: t.tenantId, userEmail: 'other@default.example', key: otherKey },
    secrets,
  };
}

/**
 * Every row of the tenant in every table, read here without the code under test: rows as sorted
 * JSON, sealed columns left out, PostgreSQL's bigint text turned into numbers as SQLite has them.
 */
async function tenantRows(t: TestApp, tenantId: string): Promise<Map<string, string[]>> {
  const { db, engine } = t.runtime.svc;
  // biome-ignore lint/suspicious/noExplicitAny: every table, by name
  const any = db as any;
  const tables = (await db.introspection.getTables()).filter(
    (table) => !table.isView && (engine === 'sqlite' || table.schema === 'public'),
  );
  const keys = (
    await db.selectFrom('access_keys').select('id').where('tenant_id', '=', tenantId).execute()
  ).map((r) => r.id);
  const principals = [
    ...(await db.selectFrom('users').select('id').where('tenant_id', '=', tenantId).execute()),
    ...(await db.selectFrom('service_accounts').select('id').where('tenant_id', '=', tenantId).execute()),
  ].map((r) => r.id);
  const out = new Map<string, string[]>();
  for (const table of tables) {
    const columns = table.columns.map((c) => c.name);
    const bigint = new Set(table.columns.filter((c) => c.dataType === 'int8').map((c) => c.name));
    let rows: Array<Record<string, unknown>>;
    if (table.name === 'tenants')
      rows = await any.selectFrom('tenants').selectAll().where('id', '=', tenantId).execute();
    else if (columns.includes('tenant_id'))
      rows = await any.selectFrom(table.name).selectAll().where('tenant_id', '=', tenantId).execute();
    else if (table.name === 'key_secrets')
      rows = keys.length
        ? await any.selectFrom('key_secrets').selectAll().where('access_key_id', 'in', keys).execute()
        : [];
    else if (table.name === 'quota_usage')
      rows = (await any.selectFrom('quota_usage').selectAll().execute()).filter((r: { counter: string }) => {
        const m = /^q:(k|p):(.+):(day|month)$/.exec(r.counter);
        return m !== null && (m[1] === 'k' ? keys : principals).includes(m[2] as string);
      });
    else continue;
    out.set(
      table.name,
      rows
        .map((row) =>
          JSON.stringify(
            Object.keys(row)
              .filter((c) => !SEALED[table.name]?.includes(c))
              .sort()
              .map((c) => [c, bigint.has(c) && row[c] !== null ? Number(row[c]) : row[c]]),
          ),
        )
        .sort(),
    );
  }
  return out;
}

/** Sorted `data` of a data API list answer (engines may order equal-looking text differently). */
async function dataRows(t: TestApp, key: Credentials, url: string): Promise<string[]> {
  const res = await signed(t, key, 'GET', url);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { data: unknown[]; pagination: { count: number } };
  expect(body.data.length).toBeGreaterThan(0);
  return body.data.map((r) => JSON.stringify(r)).sort();
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-transfer-'));

/** What the target holds of a tenant: its tenants row and users (nothing, after a refused import). */
async function presence(
  t: TestApp,
  tenantId: string,
): Promise<{ tenants: number; users: number; keys: number }> {
  const { db } = t.runtime.svc;
  const count = async (table: 'tenants' | 'users' | 'access_keys', column: 'id' | 'tenant_id') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where(column, '=', tenantId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    tenants: await count('tenants', 'id'),
    users: await count('users', 'tenant_id'),
    keys: await count('access_keys', 'tenant_id'),
  };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

/** A copy of `file` with its lines changed by `edit`. */
function edited(file: string, name: string, edit: (lines: string[]) => string[]): string {
  const lines = fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
  const out = path.join(path.dirname(file), name);
  fs.writeFileSync(out, `${edit(lines).join('\n')}\n`, { mode: 0o600 });
  return out;
}

const ROUND_TRIPS: Array<[EngineName, EngineName]> = [
  ['sqlite', 'sqlite'],
  ['sqlite', 'postgres'],
  ['postgres', 'sqlite'],
];

for (const [from, to] of ROUND_TRIPS) {
  const suite = engineAvailable(from) && engineAvailable(to) ? describe : describe.skip;
  suite(`moving a tenant from ${from} to ${to}`, { timeout: 120_000 }, () => {
    let source: TestApp;
    let target: TestApp;
    let seeded: Seeded;
    let dir: string;
    let file: string;

    beforeAll(async () => {
      source = await startTestApp(from, { env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } });
      target = await startTestApp(to);
      seeded = await seedSource(source);
      dir = tempDir();
      file = path.join(dir, 'acme.lkexport');
    }, 120_000);
    afterAll(async () => {
      await source?.close();
      await target?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the deployments have master keys of their own', () => {
      const current = (t: TestApp) => t.runtime.svc.keyring.keys.get(t.runtime.svc.keyring.current) as Buffer;
      expect(current(source).equals(current(target))).toBe(false);
    });

    it('exports the tenant to a 0600 file that shows its header and nothing it protects', async () => {
      const result = await exportTenant(source.runtime.svc, {
        tenantId: seeded.tenantId,
        file,
        passphrase: PASSPHRASE,
      });
      expect(result.tenantId).toBe(seeded.tenantId);
      expect(result.rows).toMatchObject({
        tenants: 1,
        users: 2,
        service_accounts: 1,
        access_keys: 4,
        key_secrets: 5,
      });
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);

      const header = await readExportHeader(file);
      expect(header).toMatchObject({
        format: 'latchkey-tenant-export',
        version: 1,
        tenantId: seeded.tenantId,
        tenantName: ACME.name,
        sourceEngine: from,
      });
      expect(header.schema).toBe(header.migrations[header.migrations.length - 1]);
      expect(Date.parse(header.exportedAt)).not.toBeNaN();

      const raw = fs.readFileSync(file, 'utf8');
      for (const secret of [...seeded.secrets, PASSPHRASE]) expect(raw).not.toContain(secret);
      for (const visible of [ANA.email, seeded.adminKey.accessKeyId, 'scrypt$', 'Readers'])
        expect(raw).not.toContain(visible);
    });

    it('holds the tenant’s rows and none of the other tenant’s', async () => {
      const opened = await openExportFile(file, PASSPHRASE);
      let plain = '';
      const tables = new Set<string>();
      for await (const record of opened.records()) {
        plain += `${JSON.stringify(record)}\n`;
        if (record.type !== 'rows') continue;
        tables.add(record.table);
        const tenantColumn = record.columns.indexOf('tenant_id');
        if (tenantColumn >= 0) for (const row of record.rows) expect(row[tenantColumn]).toBe(seeded.tenantId);
      }
      // The secrets are inside, encrypted with the file (import seals them again).
      expect(plain).toContain(seeded.adminKey.secretAccessKey);
      for (const foreign of [
        seeded.other.tenantId,
        seeded.other.userEmail,
        seeded.other.key.accessKeyId,
        seeded.other.key.secretAccessKey,
      ])
        expect(plain).not.toContain(foreign);
      for (const table of [
        'audit_log',
        'notifications',
        'key_reminders',
        'key_usage',
        'quota_usage',
        'apis',
        'webhook_endpoints',
        'acc_agent',
        'acc_counters',
      ])
        expect(tables).toContain(table);
      for (const table of LEFT_BEHIND) expect(tables).not.toContain(table);
    });

    it('imports it: the same rows, row for row, with secrets sealed under the target’s master key', async () => {
      const result = await importTenant(target.runtime.svc, { file, passphrase: PASSPHRASE });
      expect(result).toMatchObject({ tenantId: seeded.tenantId, tenantName: ACME.name, sourceEngine: from });

      const before = await tenantRows(source, seeded.tenantId);
      const after = await tenantRows(target, seeded.tenantId);
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [table, rows] of before) {
        const moved = after.get(table) ?? [];
        if (LEFT_BEHIND.includes(table)) {
          expect(moved, table).toEqual([]);
          continue;
        }
        const filter = (list: string[]) =>
          table === 'audit_log'
            ? list.filter((r) => !TRANSFER_ACTIONS.some((a) => r.includes(`"${a}"`)))
            : list;
        expect(filter(moved), table).toEqual(filter(rows));
      }
      // Every moved secret can be found by a leak report on the target: its lookup hash was made
      // again under the target's master key.
      const lookups = await target.runtime.svc.db
        .selectFrom('key_secrets')
        .innerJoin('access_keys', 'access_keys.id', 'key_secrets.access_key_id')
        .select(['key_secrets.lookup_hash', 'key_secrets.lookup_key'])
        .where('access_keys.tenant_id', '=', seeded.tenantId)
        .execute();
      expect(lookups.length).toBeGreaterThan(0);
      for (const l of lookups) expect(l.lookup_hash && l.lookup_key).toBeTruthy();
      // Something of each kind was there to compare.
      for (const table of [
        'users',
        'service_accounts',
        'groups',
        'roles',
        'group_members',
        'role_assignments',
        'access_keys',
        'key_secrets',
        'apis',
        'webhook_endpoints',
        'notifications',
        'key_reminders',
        'key_usage',
        'quota_usage',
        'audit_log',
        'acc_agent',
        'acc_salesinvoice',
        'acc_salesinvoice_dtl',
        'acc_counters',
      ])
        expect(before.get(table)?.length ?? 0, table).toBeGreaterThan(0);
      // The source queued mail and webhook deliveries for the tenant; they stayed behind.
      expect(before.get('webhook_deliveries')?.length ?? 0).toBeGreaterThan(0);
      // Each side recorded its half of the move.
      expect(before.get('audit_log')?.some((r) => r.includes('"tenant.export"'))).toBe(true);
      expect(after.get('audit_log')?.some((r) => r.includes('"tenant.import"'))).toBe(true);

      // The sealed secrets: other ciphertexts, the same secrets.
      const secretsOf = async (t: TestApp) =>
        t.runtime.svc.db
          .selectFrom('key_secrets')
          .innerJoin('access_keys', 'access_keys.id', 'key_secrets.access_key_id')
          .select(['access_key_id', 'version', 'ciphertext', 'key_secrets.master_key_version'])
          .where('access_keys.tenant_id', '=', seeded.tenantId)
          .orderBy('access_key_id')
          .orderBy('version')
          .execute();
      const open = (
        t: TestApp,
        r: { access_key_id: string; version: number; ciphertext: string; master_key_version: number },
      ) =>
        t.runtime.svc.secrets.open(
          { ciphertext: r.ciphertext, masterKeyVersion: r.master_key_version },
          secretContext(seeded.tenantId, r.access_key_id, r.version),
        );
      const there = await secretsOf(source);
      const here = await secretsOf(target);
      expect(here).toHaveLength(there.length);
      here.forEach((row, i) => {
        const was = there[i] as (typeof there)[number];
        expect(row.ciphertext).not.toBe(was.ciphertext);
        expect(open(target, row)).toBe(open(source, was));
        expect(() => open(source, row)).toThrow();
      });
      const hook = await target.runtime.svc.db
        .selectFrom('webhook_endpoints')
        .select(['secret_ciphertext', 'master_key_version'])
        .where('id', '=', seeded.webhook.id)
        .executeTakeFirstOrThrow();
      expect(
        target.runtime.svc.secrets.open(
          { ciphertext: hook.secret_ciphertext, masterKeyVersion: hook.master_key_version },
          webhookSecretContext(seeded.tenantId, seeded.webhook.id),
        ),
      ).toBe(seeded.webhook.secret);
    });

    it('works on the target: keys sign requests, passwords sign in, permissions and data are the same', async () => {
      // Signed requests with every key, the rotated one's old secret too (its grace period travelled).
      const rotatedOld = {
        accessKeyId: seeded.rotated.accessKeyId,
        secretAccessKey: seeded.rotated.oldSecret,
      };
      const rotatedNew = {
        accessKeyId: seeded.rotated.accessKeyId,
        secretAccessKey: seeded.rotated.newSecret,
      };
      for (const key of [seeded.adminKey, seeded.anaKey, seeded.saKey, rotatedOld, rotatedNew]) {
        const profile = await signed(target, key, 'GET', '/profile');
        expect(profile.statusCode, profile.body).toBe(200);
        expect(profile.json()).toEqual((await signed(source, key, 'GET', '/profile')).json());
      }
      // The other tenant's key did not come along.
      expect((await signed(target, seeded.other.key, 'GET', '/profile')).json().error.code).toBe(
        'InvalidAccessKeyId',
      );

      // Passwords sign in; tokens of the source do not carry over (the target signs its own).
      const adminToken = await login(target, ACME.email, ACME.password);
      const me = await ok<{ id: string; tenantId: string }>(target, 'GET', '/iam/me', adminToken);
      expect(me).toMatchObject({ id: seeded.adminId, tenantId: seeded.tenantId });
      expect((await ok(target, 'GET', '/iam/me', await login(target, ANA.email, ANA.password))).id).toBe(
        seeded.anaId,
      );
      const sourceToken = await login(source, ACME.email, ACME.password);
      expect((await call(target, 'GET', '/iam/me', { token: sourceToken })).statusCode).toBe(401);

      // The same permissions, and the same decisions.
      for (const key of [seeded.adminKey, seeded.anaKey, seeded.saKey]) {
        const url = `/iam/keys/${key.accessKeyId}/permissions`;
        expect(await ok(target, 'GET', url, adminToken)).toEqual(await ok(source, 'GET', url, sourceToken));
      }
      const write = { code: 'MOVED-1', description: 'written after the move' };
      expect((await signed(target, seeded.anaKey, 'POST', '/agent', write)).statusCode).toBe(403);
      expect((await signed(target, seeded.adminKey, 'POST', '/agent', write)).statusCode).toBe(201);

      // The data API answers with the same records (but the one just written).
      const without = (rows: string[]) => rows.filter((r) => !r.includes('MOVED-1'));
      expect(without(await dataRows(target, seeded.anaKey, '/agent/'))).toEqual(
        await dataRows(source, seeded.anaKey, '/agent/'),
      );
      expect(await dataRows(target, seeded.adminKey, '/salesinvoice/')).toEqual(
        await dataRows(source, seeded.adminKey, '/salesinvoice/'),
      );
      // The numbering carried over: the next invoice number follows the source's last one.
      const settings = await ok(target, 'GET', '/iam/settings', adminToken);
      expect(settings).toMatchObject({ reminderLeadDays: 3, tokenLifetimeSeconds: 1800 });
      expect((await ok(target, 'GET', '/iam/apis', adminToken)).items).toHaveLength(1);
    });

    it('refuses to import the same tenant twice, changing nothing', async () => {
      const before = await presence(target, seeded.tenantId);
      const error = await rejection(importTenant(target.runtime.svc, { file, passphrase: PASSPHRASE }));
      expect(error.code).toBe('ALREADY_EXISTS');
      expect(error.message).toContain(`tenant ${seeded.tenantId}`);
      expect(await presence(target, seeded.tenantId)).toEqual(before);
    });
  });
}

describe('refusals, on SQLite', { timeout: 120_000 }, () => {
  let source: TestApp;
  let target: TestApp;
  let seeded: Seeded;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    source = await startTestApp('sqlite', { env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } });
    target = await startTestApp('sqlite');
    seeded = await seedSource(source);
    dir = tempDir();
    file = path.join(dir, 'acme.lkexport');
    await exportTenant(source.runtime.svc, { tenantId: seeded.tenantId, file, passphrase: PASSPHRASE });
  }, 120_000);
  afterAll(async () => {
    await source?.close();
    await target?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const refused = async (options: Parameters<typeof importTenant>[1]) => {
    const before = await presence(target, seeded.tenantId);
    const error = await rejection(importTenant(target.runtime.svc, options));
    expect(await presence(target, seeded.tenantId)).toEqual(before);
    expect(before).toEqual({ tenants: 0, users: 0, keys: 0 });
    return error;
  };

  it('every table of a new database is classified: exported, or left out with a reason', async () => {
    const tables = await transferTables(source.runtime.svc.db, 'sqlite');
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['tenants', 'access_keys', 'acc_agent']),
    );
  });

  it('export refuses a weak passphrase, an existing file, an unknown tenant and a table it does not know', async () => {
    const svc = source.runtime.svc;
    const short = path.join(dir, 'short.lkexport');
    expect(
      (
        await rejection(
          exportTenant(svc, { tenantId: seeded.tenantId, file: short, passphrase: 'too short' }),
        )
      ).code,
    ).toBe('VALIDATION_FAILED');
    expect(fs.existsSync(short)).toBe(false);
    const size = fs.statSync(file).size;
    expect(
      (await rejection(exportTenant(svc, { tenantId: seeded.tenantId, file, passphrase: PASSPHRASE }))).code,
    ).toBe('ALREADY_EXISTS');
    expect(fs.statSync(file).size).toBe(size);
    expect(
      (await rejection(exportTenant(svc, { tenantId: '000000000000', file: short, passphrase: PASSPHRASE })))
        .code,
    ).toBe('NOT_FOUND');

    const nowhere = path.join(dir, 'no-such-directory', 'x.lkexport');
    const unwritable = await rejection(
      exportTenant(svc, { tenantId: seeded.tenantId, file: nowhere, passphrase: PASSPHRASE }),
    );
    expect(unwritable).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: `cannot create ${nowhere} (ENOENT)`,
    });

    const other = await startTestApp('sqlite');
    try {
      // A secret this deployment's master key does not open: the export stops, and the file it had
      // begun is removed (never a tenant whose key lost its secret on the way).
      const key = await ok<Key>(other, 'POST', `/iam/users/${other.adminId}/keys`, other.adminToken, {
        name: 'k',
      });
      const { db } = other.runtime.svc;
      await db
        .updateTable('key_secrets')
        .set({ ciphertext: Buffer.alloc(60, 1).toString('base64') })
        .where('access_key_id', '=', key.accessKeyId)
        .execute();
      const unopened = await rejection(
        exportTenant(other.runtime.svc, { tenantId: other.tenantId, file: short, passphrase: PASSPHRASE }),
      );
      expect(unopened.code).toBe('CONFLICT');
      expect(unopened.message).toContain(`access key ${key.accessKeyId} does not open`);
      expect(fs.existsSync(short)).toBe(false);
      await db.deleteFrom('access_keys').where('id', '=', key.accessKeyId).execute();

      // A table added without deciding whether it moves: refused, not silently left behind.
      await other.runtime.svc.db.schema.createTable('widgets').addColumn('tenant_id', 'text').execute();
      const error = await rejection(
        exportTenant(other.runtime.svc, { tenantId: other.tenantId, file: short, passphrase: PASSPHRASE }),
      );
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toContain('widgets');
      expect(fs.existsSync(short)).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('a wrong passphrase is refused as such, and nothing is imported', async () => {
    const error = await refused({ file, passphrase: 'not the passphrase at all' });
    expect(error.code).toBe('INVALID_CREDENTIALS');
    expect(error.message).toContain('passphrase does not open');
  });

  it('a changed record, a changed header, a reordered, dropped or cut file are refused; nothing is imported', async () => {
    const flip = (line: string) => {
      const bytes = Buffer.from(line, 'base64');
      bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 1;
      return bytes.toString('base64');
    };
    const cases: Array<[string, (lines: string[]) => string[], RegExp]> = [
      [
        'flipped.lkexport',
        (l) => l.map((x, i) => (i === 3 ? flip(x) : x)),
        /was changed or is damaged: record 3 does not open/,
      ],
      [
        'renamed.lkexport',
        (l) => [l[0]?.replace('"tenantName":"Acme"', '"tenantName":"Acme2"') as string, ...l.slice(1)],
        /was changed or is damaged: record 1 does not open/,
      ],
      ['swapped.lkexport', (l) => [l[0], l[2], l[1], ...l.slice(3)] as string[], /record 1 does not open/],
      ['dropped.lkexport', (l) => [...l.slice(0, 2), ...l.slice(3)], /record 2 does not open/],
      ['cut.lkexport', (l) => l.slice(0, -1), /ends before its end record/],
      ['appended.lkexport', (l) => [...l, l[1] as string], /data after its end record/],
    ];
    for (const [name, edit, message] of cases) {
      const error = await refused({ file: edited(file, name, edit), passphrase: PASSPHRASE });
      expect(error.code, name).toBe('VALIDATION_FAILED');
      expect(error.message, name).toMatch(message);
    }
    const notAnExport = path.join(dir, 'notes.txt');
    fs.writeFileSync(notAnExport, 'hello\n');
    expect((await refused({ file: notAnExport, passphrase: PASSPHRASE })).message).toContain(
      'not a latchkey tenant export',
    );
  });

  it('an export from another schema is refused before the passphrase is tried', async () => {
    const newer = edited(file, 'newer.lkexport', ([header, ...rest]) => {
      const h = JSON.parse(header as string);
      h.migrations = [...h.migrations, '2099-01-01-0099-future'];
      h.schema = '2099-01-01-0099-future';
      return [JSON.stringify(h), ...rest];
    });
    const error = await refused({ file: newer, passphrase: 'the passphrase is never reached' });
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain('comes from a newer latchkey');
  });

  it('an access key ID already here is refused, naming it; nothing is imported', async () => {
    const { db } = target.runtime.svc;
    const row = await source.runtime.svc.db
      .selectFrom('access_keys')
      .selectAll()
      .where('id', '=', seeded.saKey.accessKeyId)
      .executeTakeFirstOrThrow();
    // The same ID in the target's own tenant (as if the key had been imported into it before).
    await db
      .insertInto('access_keys')
      .values({ ...row, tenant_id: target.tenantId, owner_type: 'user', owner_id: target.adminId })
      .execute();
    try {
      const error = await refused({ file, passphrase: PASSPHRASE });
      expect(error.code).toBe('ALREADY_EXISTS');
      expect(error.message).toContain(seeded.saKey.accessKeyId);
    } finally {
      await db.deleteFrom('access_keys').where('id', '=', seeded.saKey.accessKeyId).execute();
    }
  });

  it('a tenant name already here is refused unless the import renames it', async () => {
    // The source's first tenant is "Default", as the target's is.
    const defaults = path.join(dir, 'default.lkexport');
    await exportTenant(source.runtime.svc, {
      tenantId: source.tenantId,
      file: defaults,
      passphrase: PASSPHRASE,
    });
    const error = await rejection(
      importTenant(target.runtime.svc, { file: defaults, passphrase: PASSPHRASE }),
    );
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.message).toContain('--tenant-name');
    expect(await presence(target, source.tenantId)).toEqual({ tenants: 0, users: 0, keys: 0 });

    const result = await importTenant(target.runtime.svc, {
      file: defaults,
      passphrase: PASSPHRASE,
      tenantName: 'Moved default',
    });
    expect(result.tenantName).toBe('Moved default');
    // The administrator's email and password now match in two tenants here: they choose one.
    const login = await call(target, 'POST', '/iam/login', {
      token: '',
      body: {
        auth_mode: 'password',
        email: ADMIN_EMAIL,
        password: ADMIN_PASSWORD,
        tenantId: source.tenantId,
      },
    });
    expect(login.statusCode, login.body).toBe(200);
    expect((await ok(target, 'GET', '/iam/me', login.json().token)).tenantId).toBe(source.tenantId);
    expect((await signed(target, seeded.other.key, 'GET', '/agent/')).statusCode).toBe(200);
  });
});

describe('latchkey export and import (the CLI)', { timeout: 180_000 }, () => {
  const targetEngine: EngineName = POSTGRES_AVAILABLE ? 'postgres' : 'sqlite';
  let source: TestApp;
  let seeded: Seeded;
  let dir: string;

  beforeAll(async () => {
    source = await startTestApp('sqlite', { env: { LATCHKEY_WEBHOOK_ALLOW_PRIVATE: '1' } });
    seeded = await seedSource(source);
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'passphrase'), `${PASSPHRASE}\n`, { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await source?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const expectOk = (res: ProcessResult) =>
    expect(res.code, `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
  const expectQuiet = (res: ProcessResult) => {
    for (const secret of [...seeded.secrets, PASSPHRASE])
      expect(res.stdout + res.stderr).not.toContain(secret);
  };

  it(`moves a tenant from SQLite to ${targetEngine === 'postgres' ? 'PostgreSQL' : 'SQLite'}, with the passphrase from a file or the environment`, async () => {
    // The first tenant, whose administrator is the one the test app signs in as.
    const tenantId = source.tenantId;
    const file = path.join(dir, 'default.lkexport');
    const passphraseFile = path.join(dir, 'passphrase');
    const sourceEnv = { LATCHKEY_DATA_DIR: source.db.dataDir, LOG_LEVEL: 'warn' };
    const noTenant = await runCli(['export', '--out', file, '--passphrase-file', passphraseFile], sourceEnv);
    expect(noTenant.code).toBe(1);
    expect(noTenant.stderr).toContain('export needs --tenant');

    const exported = await runCli(
      ['--tenant', tenantId, 'export', '--out', file, '--passphrase-file', passphraseFile],
      sourceEnv,
    );
    expectOk(exported);
    expectQuiet(exported);
    expect(exported.stdout).toContain(`Exported tenant ${tenantId} (Default) to ${file}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const db = await scratchDatabase(targetEngine);
    try {
      const targetEnv = { LATCHKEY_DATA_DIR: db.dataDir, DATABASE_URL: db.databaseUrl, LOG_LEVEL: 'warn' };
      if (targetEngine === 'sqlite') {
        // No database there yet: import does not start one unless asked to.
        const missing = await runCli(['import', file, '--passphrase-file', passphraseFile], targetEnv);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toContain('no latchkey database');
      }
      // A wrong passphrase is found out before --init creates anything.
      const wrong = await runCli(['import', file, '--init'], {
        ...targetEnv,
        LATCHKEY_EXPORT_PASSPHRASE: 'a wrong passphrase!',
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('INVALID_CREDENTIALS: the passphrase does not open');
      expectQuiet(wrong);
      if (db.sqliteFile) expect(fs.existsSync(db.sqliteFile)).toBe(false);

      const imported = await runCli(['--json', 'import', file, '--init'], {
        ...targetEnv,
        LATCHKEY_EXPORT_PASSPHRASE: PASSPHRASE,
      });
      expectOk(imported);
      expectQuiet(imported);
      const result = JSON.parse(imported.stdout) as {
        tenantId: string;
        tenantName: string;
        rows: Record<string, number>;
      };
      expect(result).toMatchObject({ tenantId, tenantName: 'Default' });
      expect(result.rows).toMatchObject({ users: 2, access_keys: 1 });

      const again = await runCli(['import', file, '--passphrase-file', passphraseFile], targetEnv);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`ALREADY_EXISTS: tenant ${tenantId}`);

      // A server on the new deployment: the imported tenant is its only one (import made no first
      // tenant of its own), its administrator signs in (the test app does) and its key signs.
      const target = await startTestApp(targetEngine, { db });
      try {
        expect(target.tenantId).toBe(tenantId);
        expect(await target.runtime.svc.db.selectFrom('tenants').select('id').execute()).toEqual([
          { id: tenantId },
        ]);
        const agents = await signed(target, seeded.other.key, 'GET', '/agent/');
        expect(agents.statusCode, agents.body).toBe(200);
        expect(agents.json().data.length).toBeGreaterThan(0);

        // Another tenant into the server while it runs: it serves it at once (the change feed tells
        // it), the registered API too, which the gateway otherwise reloads once a minute. Its
        // upstream is down, so a forwarded request answers 502 (before: 404, no such route).
        const acmeFile = path.join(dir, 'acme.lkexport');
        expectOk(
          await runCli(
            ['--tenant', seeded.tenantId, 'export', '--out', acmeFile, '--passphrase-file', passphraseFile],
            sourceEnv,
          ),
        );
        const gateway = async () =>
          (await signed(target, seeded.adminKey, 'GET', '/api/orders/items')).statusCode;
        expect(await gateway()).toBe(404);
        const acme = await runCli(['import', acmeFile, '--passphrase-file', passphraseFile], targetEnv);
        expectOk(acme);
        expectQuiet(acme);
        expect(acme.stdout).toContain(`Imported tenant ${seeded.tenantId} (Acme) from ${acmeFile}`);
        const deadline = Date.now() + 3000;
        let status = await gateway();
        while (status !== 502 && Date.now() < deadline) {
          await sleep(100);
          status = await gateway();
        }
        expect(status).toBe(502);
      } finally {
        await target.close();
      }
    } finally {
      await db.drop();
    }
  });
});
