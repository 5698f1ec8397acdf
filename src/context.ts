import { PermissionSet } from './identity/permissions.js';
import type { PrincipalType } from './storage/tables.js';

/** Who is doing something, with what, from where: passed to every domain operation. */
export interface Actor {
  readonly tenantId: string;
  readonly type: PrincipalType | 'system';
  readonly id: string;
  /** How the actor authenticated: a password session, an access key (or its token), or the operator CLI. */
  readonly via: 'password' | 'key' | 'cli' | 'sso';
  readonly accessKeyId?: string;
  readonly permissions: PermissionSet;
  readonly sourceIp: string | null;
  readonly requestId: string | null;
  /**
   * Set for signed requests, from the key cache: who the principal is, so answering "who am I"
   * needs no database read.
   */
  readonly principal?: { readonly name: string; readonly email: string | null };
}

export function can(actor: Actor, permission: string): boolean {
  return actor.permissions.allows(permission);
}

/** The operator on the host (the CLI), acting in one tenant with every permission. */
export function operatorActor(tenantId: string, id = 'cli'): Actor {
  return {
    tenantId,
    type: 'system',
    id,
    via: 'cli',
    permissions: new PermissionSet(['*']),
    sourceIp: null,
    requestId: null,
  };
}
