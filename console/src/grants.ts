/**
 * What the signed-in person may grant, as the console shows it. The server decides (403
 * PRIVILEGE_ESCALATION); these rules only keep the console from offering what it would refuse:
 * a group or role is offered when the server says it is `grantable`, a permission when the person
 * holds it, a key's secret when the key holds nothing beyond the person's permissions.
 */
import type { GroupView, NamedRef, RoleView } from './api';

export const GRANT_REASON = 'You can grant only what you hold yourself.';
const PROTECTED_REASON = `${GRANT_REASON} Only someone holding every permission (*) can change this.`;
const REMOVE_ONLY_REASON = `You can remove it, but not give it back: ${GRANT_REASON.toLowerCase()}`;

export interface GrantOption {
  value: string;
  label: string;
  /** Cannot be ticked or unticked here. */
  disabled: boolean;
  /** Why it is disabled (or what unticking it means), in words: shown under the option. */
  reason: string | null;
}

/** A group or role the console may offer, as the list answers from the server give it. */
export interface Grantable {
  id: string;
  name: string;
  grantable: boolean;
  /** The Administrators group or the Administrator role: changed only by a holder of `*`. */
  protected: boolean;
}

export const grantableGroup = (g: GroupView): Grantable => ({
  id: g.id,
  name: g.name,
  grantable: g.grantable,
  protected: g.builtin,
});

export const grantableRole = (r: RoleView): Grantable => ({
  id: r.id,
  name: r.name,
  grantable: r.grantable,
  protected: r.builtin && r.permissions.includes('*'),
});

/**
 * The options of a group or role picker. What the person cannot grant is disabled with the
 * reason; what is already assigned stays listed even then (and even when the list of all groups
 * or roles is not readable). Taking away an assignment gives nothing, so it stays possible, except
 * for the protected ones, which the server guards in both directions.
 */
export function grantOptions(available: readonly Grantable[], assigned: readonly NamedRef[]): GrantOption[] {
  const assignedIds = new Set(assigned.map((a) => a.id));
  const known = new Map(available.map((a) => [a.id, a]));
  const unlisted: Grantable[] = assigned
    .filter((a) => !known.has(a.id))
    .map((a) => ({ id: a.id, name: a.name, grantable: false, protected: true }));
  return [...available, ...unlisted].map((item) => {
    if (item.grantable) return { value: item.id, label: item.name, disabled: false, reason: null };
    if (item.protected) return { value: item.id, label: item.name, disabled: true, reason: PROTECTED_REASON };
    if (assignedIds.has(item.id))
      return { value: item.id, label: item.name, disabled: false, reason: REMOVE_ONLY_REASON };
    return { value: item.id, label: item.name, disabled: true, reason: GRANT_REASON };
  });
}

/** `*` matches one segment, a final `*` the rest (as the server's permission patterns). */
export function patternMatches(pattern: string, permission: string): boolean {
  if (pattern === '*' || pattern === permission) return true;
  const p = pattern.split(':');
  const q = permission.split(':');
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === '*' && i === p.length - 1 && p.length < q.length) return true;
    if (i >= q.length) return false;
    if (p[i] !== '*' && p[i] !== q[i]) return false;
  }
  return p.length === q.length;
}

/**
 * The patterns of `patterns` the person surely does not hold: some permission of the catalogue
 * they match is not among `held` (the person's concrete permissions). A pattern that passes can
 * still be refused: the server also counts permissions added later (`agent:*` needs `agent:*`
 * held as such, not `agent:read` and `agent:write`), and the console shows that refusal.
 */
export function permissionsNotHeld(
  patterns: readonly string[],
  held: readonly string[],
  catalogue: readonly string[],
): string[] {
  const have = new Set(held);
  return patterns.filter((p) => catalogue.some((c) => patternMatches(p, c) && !have.has(c)));
}

/** The permissions a key has that the person does not: a new secret for it would hand them over. */
export function keyBeyondYou(keyPermissions: readonly string[], held: readonly string[]): string[] {
  const have = new Set(held);
  return keyPermissions.filter((p) => !have.has(p));
}

/** Why keys cannot be made for a principal that holds more than the signed-in person. */
export function beyondYouReason(name: string): string {
  return `${name} holds permissions you do not hold, so you cannot create keys for them. ${GRANT_REASON}`;
}
