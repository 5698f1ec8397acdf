// @vitest-environment happy-dom
/**
 * The groups and roles card of a service account: read from and saved to the service account's
 * own routes, and read-only, saying why, without iam:service-accounts:manage.
 */
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RoleView } from '../api';
import { type Call, cleanUpAfterEach, json, meWith, STAMP, stubFetch, wrap } from '../test-helpers';
import { PrincipalAssignmentsCard } from './AssignmentsEditor';

const role = (id: string, name: string): RoleView => ({
  id,
  name,
  description: '',
  permissions: ['agent:read'],
  builtin: false,
  createdAt: STAMP,
  updatedAt: STAMP,
  grantable: true,
});
const ROLES = [role('rol_read', 'DataReadOnly'), role('rol_write', 'DataReadWrite')];
const PATH = '/iam/service-accounts/sac_etl/assignments';

let calls: Call[] = [];
let held = {
  groups: [] as Array<{ id: string; name: string }>,
  roles: [{ id: 'rol_read', name: 'DataReadOnly' }],
};

beforeEach(() => {
  held = { groups: [], roles: [{ id: 'rol_read', name: 'DataReadOnly' }] };
  calls = stubFetch(({ method, url, body }) => {
    if (url === '/iam/roles') return json(200, { items: ROLES });
    if (url === '/iam/groups') return json(200, { items: [] });
    if (url === PATH && method === 'GET') return json(200, held);
    if (url === PATH && method === 'PUT') {
      const ids = (body as { roleIds: string[] }).roleIds;
      held = {
        groups: [],
        roles: ROLES.filter((r) => ids.includes(r.id)).map(({ id, name }) => ({ id, name })),
      };
      return json(200, held);
    }
    return undefined;
  });
});

cleanUpAfterEach();

const card = (permissions: string[], onSaved = () => undefined) =>
  render(
    wrap(
      <PrincipalAssignmentsCard
        principal={{ type: 'service_account', id: 'sac_etl' }}
        managePermission="iam:service-accounts:manage"
        onSaved={onSaved}
      />,
      meWith({ permissions }),
    ),
  );

describe('the groups and roles of a service account', () => {
  it('saves to the service account’s assignments and reads them again', async () => {
    const onSaved = vi.fn();
    card(['agent:read', 'iam:service-accounts:manage', 'iam:roles:read', 'iam:groups:read'], onSaved);
    expect(screen.getByRole('region', { name: 'Groups and roles' })).toBeTruthy();
    const readOnly = (await screen.findByRole('checkbox', { name: 'DataReadOnly' })) as HTMLInputElement;
    expect(readOnly.checked).toBe(true);
    fireEvent.click(screen.getByRole('checkbox', { name: 'DataReadWrite' }));
    fireEvent.click(screen.getByRole('button', { name: 'Save groups and roles' }));
    await screen.findByText('Saved.');
    expect(calls.filter((c) => c.method === 'PUT').map((c) => [c.url, c.body])).toEqual([
      [PATH, { groupIds: [], roleIds: ['rol_read', 'rol_write'] }],
    ]);
    expect(onSaved).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(calls.filter((c) => c.method === 'GET' && c.url === PATH)).toHaveLength(2));
  });

  it('is read-only without iam:service-accounts:manage, and says so', async () => {
    card(['agent:read', 'iam:service-accounts:read', 'iam:roles:read', 'iam:groups:read']);
    const box = (await screen.findByRole('checkbox', { name: 'DataReadWrite' })) as HTMLInputElement;
    expect(box.disabled).toBe(true);
    expect(screen.getByText('Changing these needs iam:service-accounts:manage.')).toBeTruthy();
    expect(
      (screen.getByRole('button', { name: 'Save groups and roles' }) as HTMLButtonElement).disabled,
    ).toBe(true);
  });
});
