/**
 * Reading usage (issue 15): GET /iam/keys/{id}/usage and GET /iam/usage over rows written by the
 * real UsageRecorder, the unused-keys filter (API and CLI), and pruning by each tenant's retention.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OWN_ROUTES_NAME } from '../src/contract/views.js';
import { USAGE_MAX_POINTS } from '../src/limits.js';
import { DAY_MS } from '../src/time.js';
import { type UsageKey, type UsageOutcome, UsageRecorder } from '../src/traffic/usage.js';
import { UsagePruner } from '../src/traffic/usage-prune.js';
import { call, createUserWithLogin, type TestApp } from './helpers/app.js';
import { secondTenantAdmin } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { runCli } from './helpers/process.js';

const HOUR_MS = 3_600_000;
const floorTo = (ms: number, step: number) => ms - (ms % step);
/** As usage answers write instants: no milliseconds. */
const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ZERO = { ok: 0, denied: 0, throttled: 0, invalid_signature: 0, expired: 0, inactive: 0 };

type Entry = [key: UsageKey, apiId: string | null, outcome: UsageOutcome, atMs: number, times?: number];

/** Count through the real recorder and write the counts, as the server does every few seconds. */
async function record(t: TestApp, entries: Entry[]): Promise<void> {
  const recorder = new UsageRecorder(t.runtime.svc);
  for (const [key, apiId, outcome, ms, times = 1] of entries) {
    for (let i = 0; i < times; i++) recorder.count(key, apiId, outcome, ms);
  }
  await recorder.flush();
  expect(recorder.pendingCount).toBe(0);
}

async function roleWith(t: TestApp, name: string, permissions: string[]): Promise<string> {
  const res = await call(t, 'POST', '/iam/roles', { body: { name, permissions } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function userHolding(t: TestApp, email: string, roleId: string | null) {
  const user = await createUserWithLogin(t, email);
  if (roleId) {
    const res = await call(t, 'PUT', `/iam/users/${user.id}/assignments`, { body: { roleIds: [roleId] } });
    expect(res.statusCode, res.body).toBe(200);
  }
  return user;
}

describeEachEngine('usage', (engine) => {
  describe('reading usage', () => {
    const t = useTestApp(engine);
    let owner: { id: string; token: string };
    let other: { id: string; token: string };
    let reader: { id: string; token: string };
    let manager: { id: string; token: string };
    let saId: string;
    let ordersApi: string;
    let userKey: UsageKey;
    let saKey: UsageKey;
    let wrongTenant: { tenantId: string; token: string };
    let nowMs: number;
    let hourNow: number;

    const keyOf = async (url: string, name: string): Promise<UsageKey> => {
      const res = await call(t, 'POST', url, { body: { name } });
      expect(res.statusCode, res.body).toBe(201);
      const k = res.json();
      return { id: k.accessKeyId, tenant_id: k.tenantId, owner_type: k.owner.type, owner_id: k.owner.id };
    };
    const usage = (key: string, query = '', token?: string) =>
      call(t, 'GET', `/iam/keys/${key}/usage${query}`, token === undefined ? {} : { token });

    beforeAll(async () => {
      nowMs = t.clock.now().getTime();
      hourNow = floorTo(nowMs, HOUR_MS);
      owner = await userHolding(t, 'owner@example.com', null);
      other = await userHolding(t, 'other@example.com', null);
      reader = await userHolding(t, 'reader@example.com', await roleWith(t, 'Key reader', ['iam:keys:read']));
      manager = await userHolding(
        t,
        'manager@example.com',
        await roleWith(t, 'Key manager', ['iam:keys:manage']),
      );
      saId = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'billing-bot' } })).json().id;
      userKey = await keyOf(`/iam/users/${owner.id}/keys`, 'owner-laptop');
      saKey = await keyOf(`/iam/service-accounts/${saId}/keys`, 'billing-key');
      ordersApi = (
        await call(t, 'POST', '/iam/apis', {
          body: {
            name: 'Orders',
            basePath: '/api/orders',
            upstream: 'http://127.0.0.1:9',
            routes: [{ method: 'GET', path: '/*', permission: 'orders:read' }],
          },
        })
      ).json().id;
      wrongTenant = await secondTenantAdmin(t, 'admin@other.example');
    });

    it('a key’s series by hour: every bucket of the range, counts summed over APIs, from rounded down, to exclusive', async () => {
      const a = hourNow - 48 * HOUR_MS;
      await record(t, [
        [userKey, null, 'ok', a + HOUR_MS + 5_000, 3],
        [userKey, ordersApi, 'ok', a + HOUR_MS + 60_000, 2],
        [userKey, ordersApi, 'denied', a + HOUR_MS + 120_000],
        [userKey, null, 'throttled', a + 2 * HOUR_MS + 1],
        [userKey, null, 'invalid_signature', a + 2 * HOUR_MS + 2],
        [userKey, null, 'expired', a + 2 * HOUR_MS + 3],
        [userKey, null, 'inactive', a + 2 * HOUR_MS + 4, 4],
        // At `to`: outside the range.
        [userKey, null, 'ok', a + 4 * HOUR_MS, 7],
      ]);
      // A second batch adds to the same hour (the upsert adds, never overwrites).
      await record(t, [[userKey, null, 'ok', a + HOUR_MS + 9_000]]);

      const res = await usage(
        userKey.id,
        `?from=${encodeURIComponent(new Date(a + 30 * 60_000).toISOString())}&to=${at(a + 4 * HOUR_MS)}`,
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({
        accessKeyId: userKey.id,
        granularity: 'hour',
        from: at(a),
        to: at(a + 4 * HOUR_MS),
        series: [
          { t: at(a), ...ZERO },
          { t: at(a + HOUR_MS), ...ZERO, ok: 6, denied: 1 },
          {
            t: at(a + 2 * HOUR_MS),
            ...ZERO,
            throttled: 1,
            invalid_signature: 1,
            expired: 1,
            inactive: 4,
          },
          { t: at(a + 3 * HOUR_MS), ...ZERO },
        ],
      });
      // Another key's counts never show up.
      const sa = (await usage(saKey.id, `?from=${at(a)}&to=${at(a + 4 * HOUR_MS)}`)).json();
      expect(sa.series).toEqual([0, 1, 2, 3].map((i) => ({ t: at(a + i * HOUR_MS), ...ZERO })));
    });

    it('by day: UTC days, hours of a day summed, dates accepted, empty days as zeros', async () => {
      const d = floorTo(nowMs, DAY_MS) - 10 * DAY_MS;
      await record(t, [
        [saKey, ordersApi, 'ok', d + 3 * HOUR_MS, 4],
        [saKey, null, 'ok', d + 20 * HOUR_MS, 2],
        [saKey, ordersApi, 'denied', d + 23 * HOUR_MS + 59 * 60_000],
        [saKey, null, 'throttled', d - HOUR_MS, 5],
      ]);
      const res = await usage(
        saKey.id,
        `?granularity=day&from=${day(d - 2 * DAY_MS)}&to=${day(d + 2 * DAY_MS)}`,
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        granularity: 'day',
        from: at(d - 2 * DAY_MS),
        to: at(d + 2 * DAY_MS),
      });
      expect(res.json().series).toEqual([
        { t: at(d - 2 * DAY_MS), ...ZERO },
        { t: at(d - DAY_MS), ...ZERO, throttled: 5 },
        { t: at(d), ...ZERO, ok: 6, denied: 1 },
        { t: at(d + DAY_MS), ...ZERO },
      ]);
    });

    it('defaults: to = now, from = 7 days before by hour (30 by day); the current hour is in', async () => {
      await record(t, [[saKey, null, 'ok', nowMs, 2]]);
      const hourly = (await usage(saKey.id)).json();
      const from = floorTo(nowMs - 7 * DAY_MS, HOUR_MS);
      expect(hourly.from).toBe(at(from));
      expect(hourly.to).toBe(at(nowMs));
      expect(hourly.series).toHaveLength(Math.ceil((nowMs - from) / HOUR_MS));
      expect(hourly.series.at(-1)).toEqual({ t: at(hourNow), ...ZERO, ok: 2 });
      const daily = (await usage(saKey.id, '?granularity=day')).json();
      const dayFrom = floorTo(nowMs - 30 * DAY_MS, DAY_MS);
      expect(daily.from).toBe(at(dayFrom));
      expect(daily.series).toHaveLength(Math.ceil((nowMs - dayFrom) / DAY_MS));
      expect(daily.series.at(-1)).toMatchObject({ t: at(floorTo(nowMs, DAY_MS)), ok: 2 });
    });

    it('refuses bad input with 400 VALIDATION_FAILED (never a 5xx), saying what is wrong', async () => {
      const h = hourNow - 100 * DAY_MS;
      const cases: Array<[string, RegExp]> = [
        [`?from=${at(h)}&to=${at(h)}`, /from must be before/],
        [`?from=${at(h + HOUR_MS)}&to=${at(h)}`, /from must be before/],
        [`?from=${at(h)}&to=${at(h + (USAGE_MAX_POINTS + 1) * HOUR_MS)}`, /granularity=day/],
        [
          `?granularity=day&from=${day(h)}&to=${day(h + (USAGE_MAX_POINTS + 1) * DAY_MS)}`,
          /at most 2000 days/,
        ],
        ['?from=2026-02-30', /not a real date/],
        ['?from=2026-13-01T00:00:00Z', /not a real date/],
        ['?to=yesterday', /querystring/],
        ['?from=2026-12-01T10:00:00', /querystring/],
        ['?granularity=week', /granularity/],
        ['?unknown=1', /unknown/],
      ];
      for (const [query, message] of cases) {
        const res = await usage(userKey.id, query);
        expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
        expect(res.json().error.message, query).toMatch(message);
      }
      // The largest range allowed is fine.
      const widest = await usage(userKey.id, `?from=${at(h)}&to=${at(h + USAGE_MAX_POINTS * HOUR_MS)}`);
      expect(widest.statusCode).toBe(200);
      expect(widest.json().series).toHaveLength(USAGE_MAX_POINTS);
      for (const query of ['?groupBy=owner', '?limit=0', `?from=${day(h)}&to=${day(h)}`, '?from=x']) {
        const res = await call(t, 'GET', `/iam/usage${query}`);
        expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
      }
      const malformed = await usage('not-a-key');
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('INVALID_ACCESS_KEY_ID');
    });

    it('the key’s owner and holders of iam:keys:read (or manage) may read a key’s usage; nobody else', async () => {
      expect((await usage(userKey.id, '', owner.token)).statusCode).toBe(200);
      expect((await usage(userKey.id, '', reader.token)).statusCode).toBe(200);
      expect((await usage(userKey.id, '', manager.token)).statusCode).toBe(200);
      for (const [key, token] of [
        [userKey.id, other.token],
        [saKey.id, owner.token],
      ] as const) {
        const res = await usage(key, '', token);
        expect(res.statusCode).toBe(403);
        expect(res.json().error).toMatchObject({ code: 'AccessDenied', missingPermission: 'iam:keys:read' });
      }
      // The tenant's usage: iam:keys:read or iam:keys:manage, never a key's owner as such.
      expect((await call(t, 'GET', '/iam/usage', { token: reader.token })).statusCode).toBe(200);
      expect((await call(t, 'GET', '/iam/usage', { token: manager.token })).statusCode).toBe(200);
      const refused = await call(t, 'GET', '/iam/usage', { token: owner.token });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.missingPermission).toBe('iam:keys:read');
    });

    it('another tenant: a key of this tenant is 404, and its own usage holds none of this tenant’s', async () => {
      for (const query of ['', '?granularity=day']) {
        const res = await usage(userKey.id, query, wrongTenant.token);
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('NOT_FOUND');
      }
      const g = floorTo(nowMs, DAY_MS) - 300 * DAY_MS;
      const foreign: UsageKey = {
        id: 'LKIAFOREIGNKEY00000000000',
        tenant_id: wrongTenant.tenantId,
        owner_type: 'user',
        owner_id: 'usr_foreign',
      };
      await record(t, [
        [foreign, null, 'ok', g + HOUR_MS, 9],
        [userKey, null, 'ok', g + HOUR_MS, 1],
      ]);
      const range = `&from=${day(g)}&to=${day(g + DAY_MS)}`;
      const theirs = (
        await call(t, 'GET', `/iam/usage?groupBy=key${range}`, { token: wrongTenant.token })
      ).json();
      expect(theirs.items.map((i: { id: string }) => i.id)).toEqual([foreign.id]);
      expect(theirs.totals.total).toBe(9);
      const ours = (await call(t, 'GET', `/iam/usage?groupBy=key${range}`)).json();
      expect(ours.items.map((i: { id: string }) => i.id)).toEqual([userKey.id]);
      expect(ours.totals).toEqual({ ...ZERO, ok: 1, total: 1 });
    });

    it('the tenant’s usage by key, principal and API: names, most used first, totals and the series', async () => {
      const g = floorTo(nowMs, DAY_MS) - 200 * DAY_MS;
      const goneKey: UsageKey = {
        id: 'LKIADELETEDKEY00000000000',
        tenant_id: t.tenantId,
        owner_type: 'user',
        owner_id: owner.id,
      };
      await record(t, [
        [userKey, null, 'ok', g + HOUR_MS, 5],
        [userKey, ordersApi, 'ok', g + 2 * HOUR_MS, 2],
        [saKey, ordersApi, 'ok', g + 2 * HOUR_MS, 10],
        [saKey, ordersApi, 'denied', g + 30 * HOUR_MS],
        [goneKey, 'api_gone', 'throttled', g + 47 * HOUR_MS],
      ]);
      const get = async (query: string) => {
        const res = await call(t, 'GET', `/iam/usage?from=${day(g)}&to=${day(g + 2 * DAY_MS)}${query}`);
        expect(res.statusCode, res.body).toBe(200);
        return res.json();
      };
      const byKey = await get('');
      expect(byKey.groupBy).toBe('key');
      expect(byKey.items).toEqual([
        {
          id: saKey.id,
          name: 'billing-key',
          owner: { type: 'service_account', id: saId, label: 'billing-bot' },
          ...ZERO,
          ok: 10,
          denied: 1,
          total: 11,
        },
        {
          id: userKey.id,
          name: 'owner-laptop',
          owner: { type: 'user', id: owner.id, label: 'owner@example.com' },
          ...ZERO,
          ok: 7,
          total: 7,
        },
        {
          id: goneKey.id,
          name: null,
          owner: { type: 'user', id: owner.id, label: 'owner@example.com' },
          ...ZERO,
          throttled: 1,
          total: 1,
        },
      ]);
      expect(byKey.totals).toEqual({ ...ZERO, ok: 17, denied: 1, throttled: 1, total: 19 });
      // Two days: by hour, 48 points, the counts where they happened.
      expect(byKey.granularity).toBe('hour');
      expect(byKey.series).toHaveLength(48);
      expect(byKey.series[1]).toEqual({ t: at(g + HOUR_MS), ...ZERO, ok: 5 });
      expect(byKey.series[2]).toEqual({ t: at(g + 2 * HOUR_MS), ...ZERO, ok: 12 });
      expect(byKey.series[30]).toEqual({ t: at(g + 30 * HOUR_MS), ...ZERO, denied: 1 });
      expect(byKey.series[47]).toEqual({ t: at(g + 47 * HOUR_MS), ...ZERO, throttled: 1 });

      const byPrincipal = await get('&groupBy=principal');
      expect(byPrincipal.items).toEqual([
        { id: saId, name: 'billing-bot', type: 'service_account', ...ZERO, ok: 10, denied: 1, total: 11 },
        { id: owner.id, name: 'owner@example.com', type: 'user', ...ZERO, ok: 7, throttled: 1, total: 8 },
      ]);

      const byApi = await get('&groupBy=api');
      expect(byApi.items).toEqual([
        { id: ordersApi, name: 'Orders', ...ZERO, ok: 12, denied: 1, total: 13 },
        { id: null, name: OWN_ROUTES_NAME, ...ZERO, ok: 5, total: 5 },
        { id: 'api_gone', name: null, ...ZERO, throttled: 1, total: 1 },
      ]);

      expect((await get('&groupBy=api&limit=1')).items.map((i: { id: string }) => i.id)).toEqual([ordersApi]);

      // Beyond 7 days the series is by day.
      const res = await call(
        t,
        'GET',
        `/iam/usage?groupBy=principal&from=${day(g - 5 * DAY_MS)}&to=${day(g + 5 * DAY_MS)}`,
      );
      const wide = res.json();
      expect(wide.granularity).toBe('day');
      expect(wide.series).toHaveLength(10);
      expect(wide.series[5]).toEqual({ t: at(g), ...ZERO, ok: 17 });
      expect(wide.series[6]).toEqual({ t: at(g + DAY_MS), ...ZERO, denied: 1, throttled: 1 });
      // Without a range: the last 30 days, by day.
      const recent = await call(t, 'GET', '/iam/usage');
      expect(recent.json()).toMatchObject({ groupBy: 'key', granularity: 'day', to: at(nowMs) });
    });

    it('GET /iam/keys?unusedDays=N: last used (or, never used, created) more than N days ago', async () => {
      const sa = (await call(t, 'POST', '/iam/service-accounts', { body: { name: 'idle-bot' } })).json().id;
      const make = async (name: string, createdDaysAgo: number, usedDaysAgo: number | null) => {
        const key = await keyOf(`/iam/service-accounts/${sa}/keys`, name);
        await t.runtime.svc.db
          .updateTable('access_keys')
          .set({
            created_at: new Date(nowMs - createdDaysAgo * DAY_MS).toISOString(),
            last_used_at: usedDaysAgo === null ? null : new Date(nowMs - usedDaysAgo * DAY_MS).toISOString(),
          })
          .where('id', '=', key.id)
          .execute();
        return key.id;
      };
      const fresh = await make('fresh', 0, null);
      const neverUsed = await make('never-used', 100, null);
      const usedRecently = await make('used-recently', 100, 0.05);
      const usedLongAgo = await make('used-long-ago', 100, 40);
      const list = async (query: string) => {
        const res = await call(t, 'GET', `/iam/keys?ownerId=${sa}${query}`);
        expect(res.statusCode, res.body).toBe(200);
        return (res.json().items as Array<{ accessKeyId: string }>).map((k) => k.accessKeyId).sort();
      };
      expect(await list('')).toEqual([fresh, neverUsed, usedRecently, usedLongAgo].sort());
      expect(await list('&unusedDays=1')).toEqual([neverUsed, usedLongAgo].sort());
      expect(await list('&unusedDays=30')).toEqual([neverUsed, usedLongAgo].sort());
      expect(await list('&unusedDays=60')).toEqual([neverUsed]);
      expect(await list('&unusedDays=3650')).toEqual([]);
      const page = (await call(t, 'GET', `/iam/keys?ownerId=${sa}&unusedDays=30&limit=1`)).json();
      expect(page.total).toBe(2);
      // The service account's own key list takes the filter too.
      const own = (await call(t, 'GET', `/iam/service-accounts/${sa}/keys?unusedDays=60`)).json();
      expect(own.items.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual([neverUsed]);
      for (const bad of ['0', '3651', 'x', '1.5']) {
        const res = await call(t, 'GET', `/iam/keys?unusedDays=${bad}`);
        expect(res.statusCode, bad).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
      }

      // The operator CLI, on the same database (its clock is the real one, as is the test app's here).
      const json = await runCli(['keys', 'list', '--unused-days', '60', '--json'], t.env);
      expect(json.code, json.stderr).toBe(0);
      const rows = JSON.parse(json.stdout) as Array<{ accessKeyId: string; lastUsedAt: string | null }>;
      expect(rows.map((r) => r.accessKeyId)).toEqual([neverUsed]);
      expect(rows[0]?.lastUsedAt).toBeNull();
      const human = await runCli(['keys', 'list', '--unused-days', '30'], t.env);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain(neverUsed);
      expect(human.stdout).toContain(usedLongAgo);
      expect(human.stdout).not.toContain(fresh);
      expect(human.stdout).not.toContain(usedRecently);
      expect(human.stdout).toMatch(/accessKeyId\s+name\s+type\s+state\s+owner\s+expiresAt\s+lastUsedAt/);
      const refused = await runCli(['keys', 'list', '--unused-days', '0'], t.env);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/unused-days.*must be from 1 to 3650/);
    }, 60_000);
  });

  describe('pruning', () => {
    const t = useTestApp(engine);

    it('deletes usage older than each tenant’s retention, and quota windows older than 62 days', async () => {
      const { db } = t.runtime.svc;
      const now = t.clock.now().getTime();
      const short = await secondTenantAdmin(t, 'admin@short.example');
      await db
        .updateTable('tenant_settings')
        .set({ usage_retention_days: 1 })
        .where('tenant_id', '=', short.tenantId)
        .execute();
      const key = (id: string, tenant: string): UsageKey => ({
        id,
        tenant_id: tenant,
        owner_type: 'service_account',
        owner_id: 'sa_x',
      });
      const keep = key('LKIAKEEPDEFAULT0000000000', t.tenantId);
      const shortKey = key('LKIASHORTRETENTION0000000', short.tenantId);
      const orphan = key('LKIAORPHANTENANT000000000', 'ten_gone');
      await record(t, [
        [keep, null, 'ok', now - HOUR_MS],
        [keep, null, 'ok', now - 2 * DAY_MS],
        [keep, null, 'ok', now - 88 * DAY_MS],
        [keep, 'api_x', 'denied', now - 91 * DAY_MS],
        [shortKey, null, 'ok', now - HOUR_MS],
        [shortKey, null, 'ok', now - 2 * DAY_MS],
        [shortKey, null, 'ok', now - 91 * DAY_MS],
        [orphan, null, 'ok', now - 10 * DAY_MS],
        [orphan, null, 'ok', now - 100 * DAY_MS],
      ]);
      const updated = new Date(now).toISOString();
      await db
        .insertInto('quota_usage')
        .values([
          {
            counter: 'k:1',
            window_start: new Date(now - 70 * DAY_MS).toISOString(),
            used: 3,
            updated_at: updated,
          },
          {
            counter: 'k:1',
            window_start: new Date(now - 10 * DAY_MS).toISOString(),
            used: 4,
            updated_at: updated,
          },
        ])
        .execute();

      const pruner = new UsagePruner(t.runtime.svc);
      expect(await pruner.runOnce(now)).toEqual({ keyUsage: 4, quotaUsage: 1, sessionCredentials: 0 });
      const hours = async (id: string) =>
        (
          await db
            .selectFrom('key_usage')
            .select('hour')
            .where('access_key_id', '=', id)
            .orderBy('hour', 'desc')
            .execute()
        ).map((r) => r.hour);
      const hourOf = (ms: number) => new Date(floorTo(ms, HOUR_MS)).toISOString();
      expect(await hours(keep.id)).toEqual([now - HOUR_MS, now - 2 * DAY_MS, now - 88 * DAY_MS].map(hourOf));
      expect(await hours(shortKey.id)).toEqual([hourOf(now - HOUR_MS)]);
      expect(await hours(orphan.id)).toEqual([hourOf(now - 10 * DAY_MS)]);
      const windows = await db.selectFrom('quota_usage').select('used').execute();
      expect(windows.map((w) => Number(w.used))).toEqual([4]);
      // Nothing more to do: a second pass deletes nothing.
      expect(await pruner.runOnce(now)).toEqual({ keyUsage: 0, quotaUsage: 0, sessionCredentials: 0 });
      // The retention moves with time: a day later the short tenant's last hour goes too.
      expect(await pruner.runOnce(now + DAY_MS)).toEqual({
        keyUsage: 1,
        quotaUsage: 0,
        sessionCredentials: 0,
      });
      expect(await hours(shortKey.id)).toEqual([]);
    });
  });
});
