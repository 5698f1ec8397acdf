/**
 * Permissions are colon-separated names: data permissions `<resource>:read|write`
 * (e.g. `agent:read`, `salesinvoice:write`) and IAM permissions `iam:<area>:<action>`
 * (e.g. `iam:keys:manage`). Patterns may use `*` for one segment (`*:read` = read any data
 * resource, `iam:*:read`), and a final `*` matches the rest (`*` = everything, `iam:*`).
 */
import { RESOURCES } from '../accounting/registry.js';

/**
 * The data resources of the accounting API (SQL Account's names), from the registry. An alias
 * path (`/tax/` for `/taxcode/`) needs its resource's permissions, so it adds none.
 */
export const DATA_RESOURCES: readonly string[] = RESOURCES.map((r) => r.name);

export const IAM_PERMISSIONS = [
  'iam:users:read',
  'iam:users:manage',
  'iam:service-accounts:read',
  'iam:service-accounts:manage',
  'iam:keys:read',
  'iam:keys:manage',
  'iam:groups:read',
  'iam:groups:manage',
  'iam:roles:read',
  'iam:roles:manage',
  'iam:settings:read',
  'iam:settings:manage',
  'iam:audit:read',
  'iam:outbox:read',
  'iam:apis:read',
  'iam:apis:manage',
  'iam:webhooks:read',
  'iam:webhooks:manage',
  'iam:verify',
  'iam:leaks:report',
] as const;

/** Every concrete permission latchkey checks, in a stable order. */
export const PERMISSION_CATALOGUE: readonly string[] = [
  ...DATA_RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`]),
  ...IAM_PERMISSIONS,
];

const SEGMENT = /^(\*|[a-z][a-z0-9-]*)$/;

export function isValidPattern(pattern: string): boolean {
  if (pattern.length === 0 || pattern.length > 100) return false;
  return pattern.split(':').every((s) => SEGMENT.test(s));
}

export function patternMatches(pattern: string, permission: string): boolean {
  const p = pattern.split(':');
  const q = permission.split(':');
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    if (seg === '*' && i === p.length - 1 && q.length > i) return true;
    if (i >= q.length) return false;
    if (seg !== '*' && seg !== q[i]) return false;
  }
  return p.length === q.length;
}

/**
 * Does pattern `q` match every permission pattern `p` matches, including permissions that do not
 * exist yet (registered APIs add their own)? Decided on the patterns themselves, not on today's
 * catalogue, so `iam:*:read` is not covered by holding each `iam:…:read` one by one.
 * A non-final `*` is exactly one segment; a final `*` is one or more segments.
 */
export function patternSubsumes(q: string, p: string): boolean {
  const qs = q.split(':');
  const ps = p.split(':');
  for (let i = 0; i < qs.length; i++) {
    const qSeg = qs[i];
    if (qSeg === '*' && i === qs.length - 1) return ps.length > i;
    if (i >= ps.length) return false;
    const pSeg = ps[i];
    // p's final `*` stands for one or more segments: a one-segment `*` of q (not final) cannot cover it.
    if (pSeg === '*' && i === ps.length - 1) return false;
    if (qSeg !== '*' && qSeg !== pSeg) return false;
  }
  return ps.length === qs.length;
}

/**
 * The pattern matching exactly the permissions both `a` and `b` match, or null when none can be:
 * `meet('*:read', 'agent:*')` is `agent:read`. Used to state a key's permissions (its own ∩ its
 * owner's) as patterns, so what it holds can be compared with what it grants.
 */
export function patternMeet(a: string, b: string): string | null {
  const as = a.split(':');
  const bs = b.split(':');
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const aRest = as[i] === '*' && i === as.length - 1;
    const bRest = bs[i] === '*' && i === bs.length - 1;
    if (aRest && bRest) return [...out, '*'].join(':');
    if (aRest) return i < bs.length ? [...out, ...bs.slice(i)].join(':') : null;
    if (bRest) return i < as.length ? [...out, ...as.slice(i)].join(':') : null;
    if (i === as.length || i === bs.length) return as.length === bs.length ? out.join(':') : null;
    const x = as[i] as string;
    const y = bs[i] as string;
    if (x === '*') out.push(y);
    else if (y === '*' || x === y) out.push(x);
    else return null;
  }
}

/** Patterns matching what both lists match, without patterns another one already covers. */
export function intersectPatterns(a: readonly string[], b: readonly string[]): string[] {
  const meets = new Set<string>();
  for (const p of a) {
    for (const q of b) {
      const m = patternMeet(p, q);
      if (m !== null) meets.add(m);
    }
  }
  return simplifyPatterns([...meets]);
}

/** The same permissions with no pattern that another one subsumes, sorted. */
export function simplifyPatterns(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)];
  return unique.filter((p) => !unique.some((q) => q !== p && patternSubsumes(q, p))).sort();
}

/** Could this pattern match an IAM permission (`iam:…`), today's or a future one? */
export function mayMatchIam(pattern: string): boolean {
  return patternMeet(pattern, 'iam:*') !== null;
}

/** A set of patterns, answering "is this permission granted?" and "is all of this pattern held?". */
export class PermissionSet {
  private readonly cache = new Map<string, boolean>();
  /**
   * `dataOnly`: an api-type key's set: whatever its patterns say, no IAM permission (it signs
   * data requests only).
   */
  constructor(
    readonly patterns: readonly string[],
    readonly dataOnly = false,
  ) {}

  allows(permission: string): boolean {
    let hit = this.cache.get(permission);
    if (hit === undefined) {
      hit =
        !(this.dataOnly && permission.startsWith('iam:')) &&
        this.patterns.some((p) => patternMatches(p, permission));
      this.cache.set(permission, hit);
    }
    return hit;
  }

  /**
   * Does the set hold everything `pattern` matches, now and for permissions added later? The
   * question behind every grant: a caller may give only what it covers.
   */
  covers(pattern: string): boolean {
    if (this.dataOnly && mayMatchIam(pattern)) return false;
    return this.patterns.some((q) => patternSubsumes(q, pattern));
  }

  /** The concrete permissions this set grants: of the catalogue, and of `extra` (a tenant's registered APIs). */
  expand(extra: readonly string[] = []): string[] {
    const granted = PERMISSION_CATALOGUE.filter((p) => this.allows(p));
    for (const p of extra) if (this.allows(p)) granted.push(p);
    return granted;
  }
}

/** Permissions granted by both sets: a key never exceeds its owner, a key token never its key. */
export class IntersectionSet extends PermissionSet {
  constructor(
    private readonly a: PermissionSet,
    private readonly b: PermissionSet,
  ) {
    super([]);
  }
  override allows(permission: string): boolean {
    return this.a.allows(permission) && this.b.allows(permission);
  }
  override covers(pattern: string): boolean {
    return this.a.covers(pattern) && this.b.covers(pattern);
  }
}

/**
 * Patterns that match nothing in the catalogue (or in `extra`: the permissions of the tenant's
 * registered APIs) are refused, so typos don't silently grant nothing.
 */
export function unknownPatterns(patterns: readonly string[], extra: readonly string[] = []): string[] {
  return patterns.filter(
    (p) =>
      !isValidPattern(p) ||
      !(PERMISSION_CATALOGUE.some((c) => patternMatches(p, c)) || extra.some((c) => patternMatches(p, c))),
  );
}

export const BUILTIN_ROLES = {
  administrator: {
    name: 'Administrator',
    description: 'Everything: identity, keys, settings and all data.',
    permissions: ['*'],
  },
  'data-read-only': {
    name: 'DataReadOnly',
    description: 'Read every accounting resource.',
    permissions: ['*:read'],
  },
  'data-read-write': {
    name: 'DataReadWrite',
    description: 'Read and write every accounting resource.',
    permissions: ['*:read', '*:write'],
  },
} as const;

export const ADMINISTRATORS_GROUP = 'Administrators';
