/**
 * What the request path needs to know about an access key, cached so a signed request costs no
 * database read once its key is warm: the key row, its usable secrets (decrypted), its effective
 * permissions and its owner's status.
 *
 * Entries are dropped when anything that could change them changes (the ChangeBus, fed across
 * instances and processes by the change feed: PostgreSQL LISTEN/NOTIFY, or SQLite's change_events
 * table), and in any case after `ttlMs` as a safety net.
 * Unknown IDs are cached briefly too, so a flood of made-up IDs does not reach the database.
 */
import {
  keyPermissionSet,
  patternsFromRoles,
  patternsOf,
  subjectGroups,
  subjectRoles,
} from '../identity/authorization.js';
import { PermissionSet } from '../identity/permissions.js';
import { getSettings, type IamSettings } from '../identity/settings.js';
import { keysWithOwner } from '../keys/key-rows.js';
import { openSecrets, type UsableSecret } from '../keys/secrets.js';
import type { Services } from '../services.js';
import { CompiledOnce } from '../storage/compiled-once.js';
import { jsonArrayFrom, jsonRows } from '../storage/dialect.js';
import type { AccessKey } from '../storage/tables.js';
import { compilePolicy, type TrafficPolicy } from '../traffic/policy.js';
import { rulesFromJson } from '../traffic/rules.js';
import { loadSessionRecord, type SessionRecord } from './session-credentials.js';

export interface KeyEntry {
  key: AccessKey;
  ownerActive: boolean;
  owner: { name: string; email: string | null };
  secrets: UsableSecret[];
  /** What the key may do (its own roles ∩ its owner's; api-type keys: data permissions only). */
  permissions: PermissionSet;
  settings: IamSettings;
  /** `key.expires_at` as a Date (presigned URLs must not outlive it), or undefined when it never expires. */
  expiresAt: Date | undefined;
  /** Every traffic rule that applies to the key (its own, its owner's, its tenant's defaults). */
  traffic: TrafficPolicy;
  loadedAt: number;
  /** Set when the entry stands for temporary credentials (src/auth/session-credentials.ts). */
  session?: SessionRecord;
}

/**
 * Why a key cannot authenticate at `nowMs` (`inactive` also covers a disabled owner), or null.
 * The one rule behind signed requests, key-token exchange and key-token requests.
 * A quarantined key (a leak report named it: src/leaks) is refused, unless its tenant's
 * `leakedKeyAction` is `read-only` and the request's `method` is GET or HEAD (no method: refused).
 */
export function keyUnusable(
  entry: KeyEntry,
  nowMs: number,
  method?: string,
): 'inactive' | 'expired' | 'quarantined' | null {
  if (entry.key.status !== 'active' || !entry.ownerActive) return 'inactive';
  if (entry.expiresAt !== undefined && entry.expiresAt.getTime() <= nowMs) return 'expired';
  if (
    entry.key.quarantined_at !== null &&
    !(entry.settings.leakedKeyAction === 'read-only' && (method === 'GET' || method === 'HEAD'))
  )
    return 'quarantined';
  return null;
}

/** The key's secrets still valid at `nowMs` (a grace period may have ended since the entry was cached). */
export function currentSecrets(entry: KeyEntry, nowMs: number): KeyEntry['secrets'] {
  // Nearly always all of them: no copy then (this runs on every signed request).
  for (const s of entry.secrets) {
    if (s.notAfterMs <= nowMs) return entry.secrets.filter((t) => t.notAfterMs > nowMs);
  }
  return entry.secrets;
}

export interface PrincipalState {
  active: boolean;
  /** Users only: an API user signs with keys and cannot use password sessions. */
  apiUser: boolean;
  /** Users only: password tokens issued under another epoch have ended. */
  sessionEpoch: number;
  permissions: PermissionSet;
}

export interface KeyAuthorityOptions {
  ttlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
}

interface Cached<T> {
  value: T;
  loadedAt: number;
  tenantId: string;
}

/**
 * The key's columns, named: a prepared statement selecting `access_keys.*` would fail once a newer
 * instance added a column during a rolling upgrade ("cached plan must not change result type").
 */
const KEY_COLUMNS = [
  'access_keys.id',
  'access_keys.tenant_id',
  'access_keys.owner_type',
  'access_keys.owner_id',
  'access_keys.name',
  'access_keys.type',
  'access_keys.status',
  'access_keys.expires_at',
  'access_keys.secret_version',
  'access_keys.created_at',
  'access_keys.created_by_type',
  'access_keys.created_by_id',
  'access_keys.updated_at',
  'access_keys.updated_by_type',
  'access_keys.updated_by_id',
  'access_keys.last_used_at',
  'access_keys.last_used_ip',
  'access_keys.manager_disabled',
  'access_keys.last_used_api_id',
  'access_keys.last_used_decision',
  'access_keys.traffic',
  'access_keys.quarantined_at',
  'access_keys.quarantine_reason',
  'access_keys.quarantine_url',
] as const satisfies ReadonlyArray<`access_keys.${keyof AccessKey}`>;

/** Distinct permission sets kept for sharing between cached keys. */
const EXPANSIONS_KEPT = 1000;

const DEFAULTS: KeyAuthorityOptions = { ttlMs: 60_000, negativeTtlMs: 5_000, maxEntries: 100_000 };

export class KeyAuthority {
  private readonly entries = new Map<string, KeyEntry | { missing: true; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<KeyEntry | undefined>>();
  private readonly principals = new Map<string, Cached<PrincipalState | undefined>>();
  private readonly tenants = new Map<string, Cached<IamSettings>>();
  /** Temporary credentials' records (their source is looked up in the maps above on each use). */
  private readonly sessions = new Map<string, SessionRecord | { missing: true; loadedAt: number }>();
  private readonly sessionLoadedAt = new WeakMap<SessionRecord, number>();
  private readonly options: KeyAuthorityOptions;
  /** Bumped on every invalidation: a load that started before it must not be cached. */
  private generation = 0;

  constructor(
    private readonly svc: Services,
    options: Partial<KeyAuthorityOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    svc.events.on('key-changed', ({ accessKeyId }) => this.invalidate(accessKeyId));
    svc.events.on('authz-changed', ({ tenantId }) => this.invalidateTenant(tenantId));
    svc.events.on('feed-reset', () => this.clear());
  }

  invalidate(accessKeyId: string): void {
    this.generation++;
    this.entries.delete(accessKeyId);
    this.sessions.delete(accessKeyId);
  }

  invalidateTenant(tenantId: string): void {
    this.generation++;
    for (const map of [this.principals, this.tenants] as Array<Map<string, Cached<unknown>>>) {
      for (const [id, entry] of map) if (entry.tenantId === tenantId) map.delete(id);
    }
    for (const [id, entry] of this.entries) {
      if (!('missing' in entry) && entry.key.tenant_id === tenantId) this.entries.delete(id);
    }
    for (const [id, record] of this.sessions) {
      if (!('missing' in record) && record.tenantId === tenantId) this.sessions.delete(id);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.principals.clear();
    this.tenants.clear();
    this.sessions.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The key's entry read from the database now (and cached again). */
  async getFresh(accessKeyId: string): Promise<KeyEntry | undefined> {
    this.invalidate(accessKeyId);
    return this.get(accessKeyId);
  }

  /**
   * The key's entry if the cache holds a fresh one (`null`: known not to exist), `undefined` when
   * only the database can tell. Synchronous, so a warm signed request waits for nothing.
   */
  peek(accessKeyId: string): KeyEntry | null | undefined {
    const cached = this.entries.get(accessKeyId);
    if (cached === undefined) return undefined;
    const missing = 'missing' in cached;
    if (Date.now() - cached.loadedAt < (missing ? this.options.negativeTtlMs : this.options.ttlMs)) {
      this.svc.metrics.keyCacheLookup(true);
      return missing ? null : cached;
    }
    this.entries.delete(accessKeyId);
    return undefined;
  }

  /** The key's entry, from cache or database; undefined when no such key exists. */
  async get(accessKeyId: string): Promise<KeyEntry | undefined> {
    const now = Date.now();
    const cached = this.peek(accessKeyId);
    if (cached !== undefined) return cached ?? undefined;
    // A miss, whether this request starts the read or joins one in flight.
    this.svc.metrics.keyCacheLookup(false);
    let pending = this.loading.get(accessKeyId);
    if (!pending) {
      const generation = this.generation;
      pending = this.load(accessKeyId).then(
        (entry) => {
          this.loading.delete(accessKeyId);
          if (generation === this.generation)
            this.remember(accessKeyId, entry ?? { missing: true, loadedAt: now });
          return entry;
        },
        (error: unknown) => {
          this.loading.delete(accessKeyId);
          throw error;
        },
      );
      this.loading.set(accessKeyId, pending);
    }
    return pending;
  }

  private remember(id: string, entry: KeyEntry | { missing: true; loadedAt: number }): void {
    this.entries.set(id, entry);
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /**
   * A user's or service account's state and permissions, cached: token requests need them on every
   * call, and many keys share one owner. Undefined when the principal does not exist.
   */
  async principal(
    tenantId: string,
    type: 'user' | 'service_account',
    id: string,
  ): Promise<PrincipalState | undefined> {
    const cacheKey = `${tenantId}|${type}|${id}`;
    const hit = this.principals.get(cacheKey);
    if (hit && Date.now() - hit.loadedAt < this.options.ttlMs) return hit.value;
    const generation = this.generation;
    const [row, patterns] = await Promise.all([
      type === 'user'
        ? this.svc.db
            .selectFrom('users')
            .select(['status', 'api_user', 'session_epoch'])
            .where('tenant_id', '=', tenantId)
            .where('id', '=', id)
            .executeTakeFirst()
        : this.svc.db
            .selectFrom('service_accounts')
            .select(['status'])
            .where('tenant_id', '=', tenantId)
            .where('id', '=', id)
            .executeTakeFirst(),
      patternsOf(this.svc.db, tenantId, type, id),
    ]);
    const value = row && {
      active: row.status === 'active',
      apiUser: 'api_user' in row && row.api_user === 1,
      sessionEpoch: 'session_epoch' in row ? Number(row.session_epoch) : 0,
      permissions: new PermissionSet(patterns.patterns),
    };
    if (generation === this.generation)
      this.principals.set(cacheKey, { value, loadedAt: Date.now(), tenantId });
    return value;
  }

  /**
   * Temporary credentials' record if the cache holds a fresh one (`null`: known not to exist),
   * `undefined` when only the database can tell.
   */
  peekSession(id: string): SessionRecord | null | undefined {
    const cached = this.sessions.get(id);
    if (cached === undefined) return undefined;
    if ('missing' in cached) {
      if (Date.now() - cached.loadedAt < this.options.negativeTtlMs) return null;
    } else if (Date.now() - (this.sessionLoadedAt.get(cached) ?? 0) < this.options.ttlMs) return cached;
    this.sessions.delete(id);
    return undefined;
  }

  /** Temporary credentials' record, from cache or database; undefined when unknown. */
  async session(id: string): Promise<SessionRecord | undefined> {
    const cached = this.peekSession(id);
    if (cached !== undefined) return cached ?? undefined;
    const generation = this.generation;
    const now = Date.now();
    const record = await loadSessionRecord(this.svc, id);
    if (generation === this.generation) {
      if (record === undefined) this.sessions.set(id, { missing: true, loadedAt: now });
      else {
        this.sessions.set(id, record);
        this.sessionLoadedAt.set(record, now);
      }
      if (this.sessions.size > this.options.maxEntries) {
        const oldest = this.sessions.keys().next().value;
        if (oldest !== undefined) this.sessions.delete(oldest);
      }
    }
    return record;
  }

  /** The tenant's settings, cached like everything else here. */
  settings(tenantId: string): Promise<IamSettings> {
    return this.tenantSettings(tenantId);
  }

  private async tenantSettings(tenantId: string): Promise<IamSettings> {
    const hit = this.tenants.get(tenantId);
    if (hit && Date.now() - hit.loadedAt < this.options.ttlMs) return hit.value;
    const generation = this.generation;
    const value = await getSettings(this.svc.db, tenantId);
    if (generation === this.generation) this.tenants.set(tenantId, { value, loadedAt: Date.now(), tenantId });
    return value;
  }

  /**
   * The key with its owner, its secrets, and its own roles and groups: one statement, so one round
   * trip when the owner and tenant are cached (they usually are). Secrets past their grace period
   * are dropped after loading, and again when used (`currentSecrets`), since a grace period can
   * end while the entry is cached.
   */
  private readonly keyQuery = new CompiledOnce('latchkey_key_entry', (arg: (name: 'id') => string) => {
    const { db, engine } = this.svc;
    const id = arg('id');
    return keysWithOwner(db)
      .select(KEY_COLUMNS)
      .select((eb) => [
        eb.fn.coalesce('users.status', 'service_accounts.status').as('owner_status'),
        eb.fn.coalesce('users.name', 'service_accounts.name').as('owner_name'),
        eb.fn.coalesce('users.email', 'service_accounts.email').as('owner_email'),
        eb.fn.coalesce('users.traffic', 'service_accounts.traffic').as('owner_traffic'),
        jsonArrayFrom(
          engine,
          db
            .selectFrom('key_secrets')
            .select(['version', 'ciphertext', 'master_key_version', 'not_after'])
            .where('access_key_id', '=', id),
        ).as('secrets_json'),
        jsonArrayFrom(engine, subjectRoles(db, null, 'key', id)).as('roles_json'),
        eb.exists(subjectGroups(db, null, 'key', id)).as('in_groups'),
      ])
      .where('access_keys.id', '=', id);
  });

  /**
   * Keys with the same roles, owner permissions and type share one set (and the answers it caches):
   * the set is a function of those alone, so a shared set is never stale, and a cached key costs no
   * permission set of its own. Bounded: emptied when full.
   */
  private readonly expansions = new Map<string, PermissionSet>();

  private expandedPermissions(
    own: { readonly patterns: readonly string[]; readonly assigned: boolean },
    owner: PermissionSet,
    type: AccessKey['type'],
  ): PermissionSet {
    const id = `${type}\n${own.assigned ? `own ${own.patterns.join(' ')}` : 'owner'}\n${owner.patterns.join(' ')}`;
    let set = this.expansions.get(id);
    if (set === undefined) {
      set = keyPermissionSet(own, owner, type);
      if (this.expansions.size >= EXPANSIONS_KEPT) this.expansions.clear();
      this.expansions.set(id, set);
    }
    return set;
  }

  private async load(accessKeyId: string): Promise<KeyEntry | undefined> {
    const row = (await this.keyQuery.execute(this.svc.database, { id: accessKeyId })).rows[0];
    if (!row) return undefined;
    const {
      owner_status,
      owner_name,
      owner_email,
      owner_traffic,
      secrets_json,
      roles_json,
      in_groups,
      ...key
    } = row;
    const nowIso = this.svc.clock.now().toISOString();
    // Secrets whose grace period has ended are never decrypted.
    const stored = jsonRows(secrets_json).filter((s) => s.not_after === null || s.not_after > nowIso);
    // SQLite answers EXISTS with 0/1, PostgreSQL with a boolean.
    const own = patternsFromRoles(jsonRows(roles_json), 'key', Boolean(in_groups));
    const secrets = openSecrets(this.svc, key, stored);
    const [ownerState, settings] = await Promise.all([
      this.principal(key.tenant_id, key.owner_type, key.owner_id),
      this.tenantSettings(key.tenant_id),
    ]);
    const owner = ownerState?.permissions ?? new PermissionSet([]);
    return {
      key,
      ownerActive: owner_status === 'active',
      owner: { name: owner_name ?? '', email: owner_email ?? null },
      secrets,
      permissions: this.expandedPermissions(own, owner, key.type),
      settings,
      expiresAt: key.expires_at === null ? undefined : new Date(key.expires_at),
      traffic: compilePolicy({
        accessKeyId: key.id,
        owner: { type: key.owner_type, id: key.owner_id },
        key: rulesFromJson(key.traffic),
        principal: rulesFromJson(owner_traffic),
        tenant: settings,
      }),
      loadedAt: Date.now(),
    };
  }
}
