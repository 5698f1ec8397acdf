/**
 * Registered APIs: a tenant puts an HTTP API behind latchkey by naming its base path, its upstream
 * and its routes (method, path, permission). The permissions routes declare join the tenant's
 * catalogue: roles may hold them like any other.
 *
 * Registering or changing an API decides who may reach its upstream, so it follows the security
 * model's rule (identity/escalation.ts): a caller may declare, change or drop a route only for
 * permissions it holds itself. Otherwise someone managing APIs could move a route to a permission
 * they hold and reach a part of an upstream they were kept out of.
 */
import type { Static } from '@sinclair/typebox';
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type { ApiView as ApiViewSchema } from '../contract/views.js';
import { AppError, notFound } from '../errors.js';
import { assertCovers } from '../identity/escalation.js';
import { DATA_RESOURCES, patternMatches } from '../identity/permissions.js';
import { writeTransaction } from '../identity/write-transaction.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { ApiRow } from '../storage/tables.js';
import { iso } from '../time.js';
import {
  type ApiRoute,
  basePathProblem,
  basePathsOverlap,
  permissionProblem,
  routePathProblem,
} from './paths.js';
import { RESERVED_SEGMENTS } from './registry.js';

export type ApiView = Static<typeof ApiViewSchema>;

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
const DATA_RESOURCE_NAMES: ReadonlySet<string> = new Set(DATA_RESOURCES);

export interface ApiInput {
  name: string;
  basePath: string;
  upstream: string;
  routes: ApiRoute[];
  allowUnsignedPayload?: boolean;
  timeoutMs?: number;
}

const invalid = (message: string) => new AppError('INVALID_API', message);

/** The upstream as stored: an http(s) URL with no credentials, query or fragment. */
function checkUpstream(upstream: string): string {
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw invalid(`upstream: "${upstream}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('upstream: the URL must be http:// or https://');
  if (url.username || url.password) throw invalid('upstream: the URL may not carry a user name or password');
  if (url.search || url.hash || upstream.includes('?') || upstream.includes('#'))
    throw invalid('upstream: the URL may not have a query or fragment');
  return url.href.replace(/\/$/, '');
}

function checkRoutes(routes: readonly ApiRoute[]): ApiRoute[] {
  if (routes.length === 0) throw invalid('routes: an API needs at least one route');
  return routes.map((route, i) => {
    const pathProblem = routePathProblem(route.path);
    if (pathProblem) throw invalid(`routes[${i}].path: ${pathProblem}`);
    const permission = permissionProblem(route.permission, DATA_RESOURCE_NAMES);
    if (permission) throw invalid(`routes[${i}].permission: ${permission}`);
    return { method: route.method, path: route.path, permission: route.permission };
  });
}

function checkBasePath(basePath: string): string {
  const problem = basePathProblem(basePath, RESERVED_SEGMENTS);
  if (problem) throw invalid(`basePath: ${problem}`);
  return basePath;
}

/** The permissions an API's routes declare, distinct, in route order. */
export function routePermissions(routes: readonly ApiRoute[]): string[] {
  return [...new Set(routes.map((r) => r.permission))];
}

const routesOf = (row: ApiRow): ApiRoute[] => JSON.parse(row.routes) as ApiRoute[];

/** The API as the admin API shows it, with the tenant's roles that grant each of its permissions. */
export async function apiView(db: DbOrTx, row: ApiRow): Promise<ApiView> {
  return viewWithRoles(row, await rolesOf(db, row.tenant_id));
}

/** The tenant's roles with their permissions, by name: what `grantedBy` is computed from. */
const rolesOf = (db: DbOrTx, tenantId: string) =>
  db
    .selectFrom('roles')
    .select(['id', 'name', 'permissions'])
    .where('tenant_id', '=', tenantId)
    .orderBy('name')
    .execute();

function viewWithRoles(
  row: ApiRow,
  roles: ReadonlyArray<{ id: string; name: string; permissions: string }>,
): ApiView {
  const routes = routesOf(row);
  const parsed = roles.map((r) => ({
    id: r.id,
    name: r.name,
    patterns: JSON.parse(r.permissions) as string[],
  }));
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    basePath: row.base_path,
    upstream: row.upstream,
    routes,
    allowUnsignedPayload: row.allow_unsigned_payload === 1,
    timeoutMs: row.timeout_ms,
    permissions: routePermissions(routes).map((permission) => ({
      permission,
      grantedBy: parsed
        .filter((r) => r.patterns.some((p) => patternMatches(p, permission)))
        .map((r) => ({ id: r.id, name: r.name })),
    })),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function listApis(db: DbOrTx, tenantId: string): Promise<ApiView[]> {
  const [rows, roles] = await Promise.all([
    db.selectFrom('apis').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute(),
    db
      .selectFrom('roles')
      .select(['id', 'name', 'permissions'])
      .where('tenant_id', '=', tenantId)
      .orderBy('name')
      .execute(),
  ]);
  return rows.map((row) => viewWithRoles(row, roles));
}

export async function findApi(db: DbOrTx, tenantId: string, id: string): Promise<ApiRow> {
  const row = await db
    .selectFrom('apis')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('API');
  return row;
}

/** Refuse a base path that equals, contains or lies inside one of the tenant's other APIs'. */
async function assertBasePathFree(db: DbOrTx, tenantId: string, basePath: string, exceptId?: string) {
  const others = await db
    .selectFrom('apis')
    .select(['id', 'name', 'base_path'])
    .where('tenant_id', '=', tenantId)
    .execute();
  const clash = others.find((o) => o.id !== exceptId && basePathsOverlap(o.base_path, basePath));
  if (clash) {
    throw new AppError(
      'BASE_PATH_TAKEN',
      `the base path ${basePath} overlaps ${clash.base_path} of the API ${clash.name}`,
      { apiId: clash.id },
    );
  }
}

const duplicateName = (name: string) => new AppError('ALREADY_EXISTS', `an API named ${name} already exists`);

export async function createApi(svc: Services, actor: Actor, input: ApiInput): Promise<ApiView> {
  const routes = checkRoutes(input.routes);
  const row: ApiRow = {
    id: svc.newId('api'),
    tenant_id: actor.tenantId,
    name: input.name.trim(),
    base_path: checkBasePath(input.basePath),
    upstream: checkUpstream(input.upstream),
    routes: JSON.stringify(routes),
    allow_unsigned_payload: input.allowUnsignedPayload ? 1 : 0,
    timeout_ms: input.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    created_at: iso(svc.clock.now()),
    updated_at: iso(svc.clock.now()),
  };
  assertCovers(actor, routePermissions(routes), `registering the API ${row.name}`);
  const view = await writeTransaction(svc, { duplicate: () => duplicateName(row.name) }, async (trx) => {
    await assertBasePathFree(trx, actor.tenantId, row.base_path);
    await trx.insertInto('apis').values(row).execute();
    const view = await apiView(trx, row);
    await writeAudit(trx, svc.clock, actor, 'api.create', { type: 'api', id: row.id }, null, view);
    return view;
  });
  svc.events.emit('apis-changed', { tenantId: actor.tenantId });
  return view;
}

export async function updateApi(
  svc: Services,
  actor: Actor,
  id: string,
  patch: Partial<ApiInput>,
): Promise<ApiView> {
  const view = await writeTransaction(
    svc,
    { duplicate: () => duplicateName(patch.name ?? '') },
    async (trx) => {
      const before = await findApi(trx, actor.tenantId, id);
      const values: Partial<ApiRow> = { updated_at: iso(svc.clock.now()) };
      if (patch.name !== undefined) values.name = patch.name.trim();
      if (patch.basePath !== undefined) {
        values.base_path = checkBasePath(patch.basePath);
        await assertBasePathFree(trx, actor.tenantId, values.base_path, id);
      }
      if (patch.upstream !== undefined) values.upstream = checkUpstream(patch.upstream);
      if (patch.allowUnsignedPayload !== undefined)
        values.allow_unsigned_payload = patch.allowUnsignedPayload ? 1 : 0;
      if (patch.timeoutMs !== undefined) values.timeout_ms = patch.timeoutMs;
      // Whoever changes an API decides who reaches its upstream: they must hold the permissions of
      // its routes, before and after (moving a route from a permission they lack is a grant too).
      const routes = patch.routes !== undefined ? checkRoutes(patch.routes) : routesOf(before);
      if (patch.routes !== undefined) values.routes = JSON.stringify(routes);
      assertCovers(
        actor,
        [...routePermissions(routesOf(before)), ...routePermissions(routes)],
        `changing the API ${before.name}`,
      );
      await trx.updateTable('apis').set(values).where('id', '=', id).execute();
      const after = { ...before, ...values };
      const [beforeView, afterView] = await Promise.all([apiView(trx, before), apiView(trx, after)]);
      await writeAudit(trx, svc.clock, actor, 'api.update', { type: 'api', id }, beforeView, afterView);
      return afterView;
    },
  );
  svc.events.emit('apis-changed', { tenantId: actor.tenantId });
  return view;
}

export async function deleteApi(svc: Services, actor: Actor, id: string): Promise<void> {
  await writeTransaction(svc, {}, async (trx) => {
    const before = await findApi(trx, actor.tenantId, id);
    assertCovers(actor, routePermissions(routesOf(before)), `deleting the API ${before.name}`);
    await trx.deleteFrom('apis').where('id', '=', id).execute();
    await writeAudit(
      trx,
      svc.clock,
      actor,
      'api.delete',
      { type: 'api', id },
      await apiView(trx, before),
      null,
    );
  });
  svc.events.emit('apis-changed', { tenantId: actor.tenantId });
}
