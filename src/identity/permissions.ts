/**
 * Permissions are colon-separated names: data permissions `<resource>:read|write`
 * (e.g. `agent:read`, `salesinvoice:write`) and IAM permissions `iam:<area>:<action>`
 * (e.g. `iam:keys:manage`). Patterns may use `*` for one segment (`*:read` = read any data
 * resource, `iam:*:read`), and a final `*` matches the rest (`*` = everything, `iam:*`).
 */

/** The data resources of the accounting API (SQL Account's names). */
export const DATA_RESOURCES = [
  'agent',
  'area',
  'currency',
  'customer',
  'supplier',
  'stockgroup',
  'stockitem',
  'project',
  'location',
  'taxcode',
  'account',
  'terms',
  'salesquotation',
  'salesorder',
  'deliveryorder',
  'salesinvoice',
  'cashsales',
  'salescreditnote',
  'salesdebitnote',
  'purchaseorder',
  'goodsreceived',
  'purchaseinvoice',
  'purchasereturn',
  'customerpayment',
  'supplierpayment',
  'journalentry',
  'paymentvoucher',
  'officialreceipt',
  'stockreceived',
  'stockissue',
  'stockadjustment',
  'stocktransfer',
] as const;

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

/** A set of patterns, answering "is this permission granted?". */
export class PermissionSet {
  private readonly cache = new Map<string, boolean>();
  constructor(readonly patterns: readonly string[]) {}

  allows(permission: string): boolean {
    let hit = this.cache.get(permission);
    if (hit === undefined) {
      hit = this.patterns.some((p) => patternMatches(p, permission));
      this.cache.set(permission, hit);
    }
    return hit;
  }

  /** The concrete catalogue permissions this set grants. */
  expand(): string[] {
    return PERMISSION_CATALOGUE.filter((p) => this.allows(p));
  }
}

/** Permissions granted by both sets: a key never exceeds its owner. */
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
}

/** Patterns that match nothing in the catalogue are refused, so typos don't silently grant nothing. */
export function unknownPatterns(patterns: readonly string[]): string[] {
  return patterns.filter(
    (p) => !isValidPattern(p) || !PERMISSION_CATALOGUE.some((c) => patternMatches(p, c)),
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
