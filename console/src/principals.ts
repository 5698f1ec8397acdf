import { PAGE_SIZE } from '../../src/limits';
import {
  client,
  type OperationInput,
  type OperationOutput,
  type RequestOptions,
  type ServiceAccountView,
  type UserView,
} from './api';

/** A user or a service account: who keys act for and who holds groups and roles. */
export interface Principal {
  type: 'user' | 'service_account';
  id: string;
}

/** The body of a new key (the same for a user's and a service account's). */
export type NewKeyBody = OperationInput<'createUserKey'>['body'];
/** The groups and roles to give (each list replaces what is held; left out, it stays). */
export type AssignmentsBody = OperationInput<'setUserAssignments'>['body'];
/** A principal's or key's groups and roles, as the server answers. */
export type Assignments = OperationOutput<'getUserAssignments'>;

/**
 * The operations the admin API has alike for a user and a service account, each bound to one
 * principal (the user's or the service account's route of the contract).
 */
export function principalClient(p: Principal) {
  if (p.type === 'user') {
    const params = { userId: p.id };
    return {
      /** Its keys, as many as a page holds. */
      listKeys: (options?: RequestOptions) =>
        client.listUserKeys({ params, query: { limit: PAGE_SIZE.max } }, options),
      createKey: (body: NewKeyBody) => client.createUserKey({ params, body }),
      getAssignments: (options?: RequestOptions) => client.getUserAssignments({ params }, options),
      setAssignments: (body: AssignmentsBody) => client.setUserAssignments({ params, body }),
      getPermissions: (options?: RequestOptions) => client.getUserPermissions({ params }, options),
    };
  }
  const params = { serviceAccountId: p.id };
  return {
    listKeys: (options?: RequestOptions) =>
      client.listServiceAccountKeys({ params, query: { limit: PAGE_SIZE.max } }, options),
    createKey: (body: NewKeyBody) => client.createServiceAccountKey({ params, body }),
    getAssignments: (options?: RequestOptions) => client.getServiceAccountAssignments({ params }, options),
    setAssignments: (body: AssignmentsBody) => client.setServiceAccountAssignments({ params, body }),
    getPermissions: (options?: RequestOptions) => client.getServiceAccountPermissions({ params }, options),
  };
}

/** Every user and service account (a page of each), for owner and member pickers. */
export async function listPrincipals(
  can: (permission: string) => boolean,
  options?: RequestOptions,
): Promise<{ users: UserView[]; serviceAccounts: ServiceAccountView[] }> {
  const query = { limit: PAGE_SIZE.max };
  const users = can('iam:users:read') ? (await client.listUsers({ query }, options)).items : [];
  const serviceAccounts = can('iam:service-accounts:read')
    ? (await client.listServiceAccounts({ query }, options)).items
    : [];
  return { users, serviceAccounts };
}
