/**
 * Every tenant's registered APIs, in memory, indexed by base path: the gateway, `/v1/authz` and
 * the verify API look an API up on every request without a database read.
 *
 * Reloaded whole (APIs are few and small) when any instance changes one ('apis-changed' on the
 * change feed, so within a second everywhere), when the feed reconnects, and every minute as a
 * safety net. A writer awaits `refresh()` so its own next request sees the change.
 */
import { ROUTED } from '../accounting/registry.js';
import type { PermissionSet } from '../identity/permissions.js';
import type { Services } from '../services.js';
import type { ApiRow } from '../storage/tables.js';
import { type ApiRoute, type CompiledRoute, compileRoute, RESERVED_FIRST_SEGMENTS } from './paths.js';

const SAFETY_RELOAD_MS = 60_000;

export interface ApiEntry {
  id: string;
  tenantId: string;
  name: string;
  basePath: string;
  /** Base path segments, lowercased. */
  baseSegments: readonly string[];
  /** The upstream's origin (`http://host:port`) and path prefix (`''` or `/v2`). */
  origin: string;
  upstreamPath: string;
  routes: readonly CompiledRoute[];
  allowUnsignedPayload: boolean;
  timeoutMs: number;
}

/** First path segments a base path may not start with: latchkey's own and the data API's. */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  ...RESERVED_FIRST_SEGMENTS,
  ...ROUTED.map((r) => r.name.toLowerCase()),
]);

export function apiEntry(row: ApiRow): ApiEntry {
  const upstream = new URL(row.upstream);
  const routes = JSON.parse(row.routes) as ApiRoute[];
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    basePath: row.base_path,
    baseSegments: row.base_path.slice(1).toLowerCase().split('/'),
    origin: upstream.origin,
    upstreamPath: upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, ''),
    routes: routes.map(compileRoute),
    allowUnsignedPayload: row.allow_unsigned_payload === 1,
    timeoutMs: row.timeout_ms,
  };
}

export class ApiRegistry {
  /** Lowercased base path → tenant → API. */
  private byBasePath = new Map<string, Map<string, ApiEntry>>();
  private maxDepth = 0;
  private permissions = new Map<string, string[]>();
  /** Bumped on every load: answers built from the registry (a signed /profile) are kept per generation. */
  generation = 0;
  private loading: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly svc: Services) {
    const reload = () => void this.refresh().catch(() => {});
    svc.events.on('apis-changed', reload);
    svc.events.on('feed-reset', reload);
  }

  /** Load now and keep the safety-net reload running (unref'd). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(
      () => void this.svc.metrics.job('apis_reload', () => this.refresh()).catch(() => {}),
      SAFETY_RELOAD_MS,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Resolves once a load that started after this call has finished. */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.loadLoop().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadLoop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.load();
      } catch (error) {
        this.svc.logger.warn({ err: error }, 'could not load registered APIs; keeping the last ones');
        throw error;
      }
    } while (this.again);
  }

  private async load(): Promise<void> {
    const rows = await this.svc.db.selectFrom('apis').selectAll().execute();
    const next = new Map<string, Map<string, ApiEntry>>();
    let depth = 0;
    for (const row of rows) {
      const entry = apiEntry(row);
      const key = entry.baseSegments.join('/');
      const tenants = next.get(key) ?? new Map<string, ApiEntry>();
      next.set(key, tenants);
      tenants.set(entry.tenantId, entry);
      depth = Math.max(depth, entry.baseSegments.length);
    }
    const permissions = new Map<string, Set<string>>();
    for (const tenants of next.values()) {
      for (const api of tenants.values()) {
        const set = permissions.get(api.tenantId) ?? new Set<string>();
        permissions.set(api.tenantId, set);
        for (const route of api.routes) set.add(route.permission);
      }
    }
    this.byBasePath = next;
    this.maxDepth = depth;
    this.permissions = new Map([...permissions].map(([tenant, set]) => [tenant, [...set].sort()]));
    this.generation++;
  }

  /**
   * The APIs (one per tenant at most) whose base path is the longest prefix of `segments` (decoded
   * request path segments), with how many segments it takes; undefined when none is.
   */
  find(segments: readonly string[]): { tenants: ReadonlyMap<string, ApiEntry>; depth: number } | undefined {
    for (let depth = Math.min(this.maxDepth, segments.length); depth >= 1; depth--) {
      const tenants = this.byBasePath.get(segments.slice(0, depth).join('/').toLowerCase());
      if (tenants) return { tenants, depth };
    }
    return undefined;
  }

  /** The permissions the tenant's registered APIs declare (part of its catalogue). */
  permissionsOf(tenantId: string): readonly string[] {
    return this.permissions.get(tenantId) ?? [];
  }

  private readonly expansions = new WeakMap<PermissionSet, { generation: number; list: string[] }>();

  /**
   * The concrete permissions a set grants, its tenant's API permissions among them: kept per set
   * (sets are shared by keys with the same roles, and replaced when those change) and per registry
   * generation, since expanding the catalogue costs more than checking a signature.
   */
  expanded(set: PermissionSet, tenantId: string): string[] {
    let hit = this.expansions.get(set);
    if (hit === undefined || hit.generation !== this.generation) {
      hit = { generation: this.generation, list: set.expand(this.permissionsOf(tenantId)) };
      this.expansions.set(set, hit);
    }
    return hit.list;
  }

  /** Resolves once the load in progress (if any) has finished: a writer's change is then in memory. */
  loaded(): Promise<void> {
    return this.loading ?? Promise.resolve();
  }

  /** Does any tenant have an API whose base path starts `segments`? (Cheap check for unknown paths.) */
  get empty(): boolean {
    return this.byBasePath.size === 0;
  }
}
