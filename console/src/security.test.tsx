// @vitest-environment happy-dom
/**
 * The console's side of least privilege: choosing a tenant at sign-in, keeping the session across
 * a password change, and offering only what the signed-in person can grant. fetch is mocked per
 * test with a small router.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { session } from './api';
import { GRANT_REASON } from './grants';
import {
  type Call,
  cleanUpAfterEach,
  consoleDefaults,
  descriptionOf,
  json,
  refusal,
  renderApp,
  signedInWith,
  stubFetch,
} from './test-helpers';

type Handler = (call: Call) => Response | Promise<Response> | undefined;

let calls: Call[] = [];
let handler: Handler = () => undefined;

function route(h: Handler) {
  handler = h;
}

const baseMe = signedInWith([]);

beforeEach(() => {
  // Also forgets the token api.ts keeps in memory from the previous test.
  session.clear();
  calls = stubFetch(async (call) => (await handler(call)) ?? consoleDefaults(call));
});

cleanUpAfterEach();

describe('sign-in to one of several tenants', () => {
  const TENANTS = [
    { id: '111111111111', name: 'Acme' },
    { id: '222222222222', name: 'Beta Co' },
  ];

  beforeEach(() => {
    route((c) => {
      if (c.url === '/iam/login') {
        const body = c.body as { tenantId?: string };
        if (body.tenantId === undefined)
          return refusal(409, 'TENANT_REQUIRED', 'this email and password sign in to several tenants', {
            tenants: TENANTS,
          });
        return json(200, { token: `tok_${body.tenantId}`, token_type: 'Bearer', expires_in: 3600 });
      }
      if (c.url === '/iam/me')
        return json(200, { ...baseMe, tenantId: c.token?.slice(4), permissions: ['iam:keys:read'] });
      if (c.url.startsWith('/iam/keys')) return json(200, { items: [], total: 0, limit: 200, offset: 0 });
      return undefined;
    });
  });

  it('lists the tenants by name, lets the person choose one, and signs in to it', async () => {
    renderApp('/');
    fireEvent.change(await screen.findByLabelText(/Email/), { target: { value: 'me@example.com' } });
    fireEvent.change(screen.getByLabelText(/Password/), { target: { value: 'a-long-enough-password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    const chooser = await screen.findByRole('radiogroup', { name: /Tenant/ });
    const acme = within(chooser).getByRole('radio', { name: 'Acme' });
    const beta = within(chooser).getByRole('radio', { name: 'Beta Co' });
    expect(descriptionOf(beta)).toContain('222222222222');
    // Keyboard and screen-reader focus land on the choice.
    await waitFor(() => expect(document.activeElement).toBe(acme));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(sessionStorage.length).toBe(0);

    // Without a choice nothing is sent.
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByText('Choose a tenant to sign in to.');
    expect(calls.filter((c) => c.url === '/iam/login')).toHaveLength(1);

    fireEvent.click(beta);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByText(/tenant 222222222222/);
    const logins = calls.filter((c) => c.url === '/iam/login');
    expect(logins.map((c) => c.body)).toEqual([
      { auth_mode: 'password', email: 'me@example.com', password: 'a-long-enough-password' },
      {
        auth_mode: 'password',
        email: 'me@example.com',
        password: 'a-long-enough-password',
        tenantId: '222222222222',
      },
    ]);
    expect(sessionStorage.getItem('latchkey.console.token')).toBe('tok_222222222222');
  });

  it('asks again when the email changes', async () => {
    renderApp('/');
    fireEvent.change(await screen.findByLabelText(/Email/), { target: { value: 'me@example.com' } });
    fireEvent.change(screen.getByLabelText(/Password/), { target: { value: 'a-long-enough-password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByRole('radiogroup', { name: /Tenant/ });
    fireEvent.change(screen.getByLabelText(/Email/), { target: { value: 'other@example.com' } });
    expect(screen.queryByRole('radiogroup')).toBeNull();
  });
});

describe('changing one’s own password', () => {
  let releaseStaleRequest: () => void = () => undefined;

  beforeEach(() => {
    sessionStorage.setItem('latchkey.console.token', 'tok_old');
    const valid = new Set(['tok_old']);
    route((c) => {
      if (c.token && !valid.has(c.token))
        return refusal(401, 'INVALID_TOKEN', 'this session has ended: the password was changed');
      if (c.url === '/iam/me' && c.method === 'GET')
        return json(200, { ...baseMe, permissions: ['iam:users:read'] });
      if (c.url === '/iam/me' && c.method === 'PATCH') {
        const body = c.body as { password: string; currentPassword: string };
        if (body.currentPassword !== 'the-old-password-1')
          return refusal(401, 'INVALID_CREDENTIALS', 'currentPassword is wrong');
        valid.clear();
        valid.add('tok_new');
        return json(200, {
          ...baseMe,
          session: { token: 'tok_new', token_type: 'Bearer', expires_in: 3600 },
        });
      }
      // The bell's first poll is still on its way (with the old token) when the password changes.
      if (c.url.startsWith('/iam/notifications') && c.token === 'tok_old')
        return new Promise<Response>((resolve) => {
          releaseStaleRequest = () =>
            resolve(refusal(401, 'INVALID_TOKEN', 'this session has ended: the password was changed'));
        });
      if (c.url.startsWith('/iam/users') || c.url.startsWith('/iam/keys'))
        return json(200, { items: [], total: 0, limit: 200, offset: 0 });
      return undefined;
    });
  });

  async function openForm() {
    renderApp('/users');
    await screen.findByRole('heading', { name: 'Users' });
    fireEvent.click(screen.getByRole('button', { name: 'Your account' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Change password' }));
    return screen.findByRole('dialog', { name: 'Change password' });
  }

  const fill = (dialog: HTMLElement, current: string, next: string, repeat: string) => {
    fireEvent.change(within(dialog).getByLabelText(/^Current password/), { target: { value: current } });
    fireEvent.change(within(dialog).getByLabelText(/^New password/), { target: { value: next } });
    fireEvent.change(within(dialog).getByLabelText(/^Repeat the new password/), {
      target: { value: repeat },
    });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change password' }));
  };

  it('keeps the console signed in with the new session, even when an older request fails', async () => {
    const dialog = await openForm();
    fill(dialog, 'the-old-password-1', 'a-brand-new-password', 'a-brand-new-password');
    await within(dialog).findByText('Password changed');
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({
      password: 'a-brand-new-password',
      currentPassword: 'the-old-password-1',
    });
    expect(sessionStorage.getItem('latchkey.console.token')).toBe('tok_new');

    // A request sent with the old token answers 401 after the change: it must not sign out.
    await act(async () => releaseStaleRequest());
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    fireEvent.click(screen.getByRole('link', { name: 'Access keys' }));
    await screen.findByRole('heading', { name: 'Access keys' });
    await waitFor(() =>
      expect(calls.some((c) => c.url.startsWith('/iam/keys') && c.token === 'tok_new')).toBe(true),
    );
    expect(screen.queryByRole('button', { name: 'Sign in' })).toBeNull();
  });

  it('checks the new password before sending, and says when the current one is wrong', async () => {
    const dialog = await openForm();
    fill(dialog, 'the-old-password-1', 'too-short', 'too-short');
    await within(dialog).findByText('The new password needs at least 12 characters.');
    fill(dialog, 'the-old-password-1', 'a-brand-new-password', 'a-brand-new-passwort');
    await within(dialog).findByText('The two new passwords are not the same.');
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
    fill(dialog, 'not-my-password', 'a-brand-new-password', 'a-brand-new-password');
    await within(dialog).findByText('The current password is not right.');
    expect(sessionStorage.getItem('latchkey.console.token')).toBe('tok_old');
  });
});

describe('granting only what one holds', () => {
  const ROLES = [
    {
      id: 'rol_admin',
      name: 'Administrator',
      description: '',
      permissions: ['*'],
      builtin: true,
      grantable: false,
    },
    {
      id: 'rol_read',
      name: 'DataReadOnly',
      description: '',
      permissions: ['*:read'],
      builtin: true,
      grantable: false,
    },
    {
      id: 'rol_um',
      name: 'UserManager',
      description: '',
      permissions: ['iam:users:manage', 'iam:users:read', 'iam:roles:read', 'iam:groups:read'],
      builtin: false,
      grantable: true,
    },
  ];
  const GROUPS = [
    {
      id: 'grp_admins',
      name: 'Administrators',
      description: '',
      builtin: true,
      roles: [{ id: 'rol_admin', name: 'Administrator' }],
      memberCount: 1,
      grantable: false,
    },
  ];
  const bob = {
    id: 'usr_bob',
    tenantId: '111111111111',
    email: 'bob@example.com',
    name: 'Bob',
    status: 'active',
    apiUser: false,
    isAdministrator: false,
    hasPassword: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    withinYourPermissions: false,
  };
  let putAnswer: () => Response;

  beforeEach(() => {
    sessionStorage.setItem('latchkey.console.token', 'tok');
    putAnswer = () => json(200, { groups: [], roles: [] });
    route((c) => {
      if (c.url === '/iam/me')
        return json(200, {
          ...baseMe,
          permissions: ['iam:users:read', 'iam:users:manage', 'iam:roles:read', 'iam:groups:read'],
        });
      if (c.url === '/iam/users/usr_bob') return json(200, bob);
      if (c.url === '/iam/users/usr_bob/assignments' && c.method === 'GET')
        return json(200, { groups: [], roles: [{ id: 'rol_read', name: 'DataReadOnly' }] });
      if (c.url === '/iam/users/usr_bob/assignments' && c.method === 'PUT') return putAnswer();
      if (c.url.startsWith('/iam/users/usr_bob/keys'))
        return json(200, { items: [], total: 0, limit: 200, offset: 0 });
      if (c.url === '/iam/roles') return json(200, { items: ROLES });
      if (c.url === '/iam/groups') return json(200, { items: GROUPS });
      return undefined;
    });
  });

  it('disables, with the reason, what one cannot give, and keeps what the user already has', async () => {
    renderApp('/users/usr_bob');
    const admins = await screen.findByRole('checkbox', { name: 'Administrators' });
    expect((admins as HTMLInputElement).disabled).toBe(true);
    expect(descriptionOf(admins)).toContain(GRANT_REASON);
    const adminRole = screen.getByRole('checkbox', { name: 'Administrator' }) as HTMLInputElement;
    expect(adminRole.disabled).toBe(true);
    expect(descriptionOf(adminRole)).toContain(GRANT_REASON);
    // Already assigned but beyond the person: still listed, ticked, and may be taken away.
    const readOnly = screen.getByRole('checkbox', { name: 'DataReadOnly' }) as HTMLInputElement;
    expect(readOnly.checked).toBe(true);
    expect(readOnly.disabled).toBe(false);
    expect(descriptionOf(readOnly)).toMatch(/remove it, but not give it back/);
    const userManager = screen.getByRole('checkbox', { name: 'UserManager' }) as HTMLInputElement;
    expect(userManager.disabled).toBe(false);
    expect(descriptionOf(userManager)).toBe('');

    // Bob holds more than the person: no keys for him.
    const addAccess = screen.getByRole('button', { name: 'Add access' }) as HTMLButtonElement;
    expect(addAccess.disabled).toBe(true);
    expect(descriptionOf(addAccess)).toContain('bob@example.com holds permissions you do not hold');

    fireEvent.click(userManager);
    fireEvent.click(screen.getByRole('button', { name: 'Save groups and roles' }));
    await screen.findByText('Saved.');
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({
      groupIds: [],
      roleIds: ['rol_read', 'rol_um'],
    });
  });

  it("shows the server's PRIVILEGE_ESCALATION refusal with the missing permissions", async () => {
    putAnswer = () =>
      refusal(
        403,
        'PRIVILEGE_ESCALATION',
        'assigning these groups and roles to the user needs permissions you do not hold: agent:read. You can grant only what you hold yourself.',
        { missingPermissions: ['agent:read', 'customer:read'] },
      );
    renderApp('/users/usr_bob');
    fireEvent.click(await screen.findByRole('checkbox', { name: 'UserManager' }));
    fireEvent.click(screen.getByRole('button', { name: 'Save groups and roles' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Beyond your own permissions');
    expect(alert.textContent).toContain('PRIVILEGE_ESCALATION');
    const missing = within(alert).getByRole('list', { name: 'Permissions you do not hold:' });
    expect(
      within(missing)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['agent:read', 'customer:read']);
  });
});

describe('keys beyond the person', () => {
  const key = {
    accessKeyId: 'LKIA7Q3M9XK2VB8RT4HN0CJ5WD',
    tenantId: '111111111111',
    name: 'laptop',
    type: 'access',
    status: 'inactive',
    state: 'inactive',
    expiresAt: null,
    daysLeft: null,
    owner: { type: 'user', id: 'usr_me', label: 'me@example.com' },
    createdAt: '2026-01-01T00:00:00.000Z',
    lastUsedAt: null,
    lastUsedIp: null,
    secretVersion: 1,
    groups: [],
    roles: [],
    deactivatedByManager: true,
  };

  beforeEach(() => {
    sessionStorage.setItem('latchkey.console.token', 'tok');
    route((c) => {
      if (c.url === '/iam/me') return json(200, { ...baseMe, permissions: ['agent:read'] });
      if (c.url.startsWith('/iam/keys?')) return json(200, { items: [key], total: 1, limit: 200, offset: 0 });
      if (c.url === `/iam/keys/${key.accessKeyId}`) return json(200, key);
      if (c.url === `/iam/keys/${key.accessKeyId}/permissions`)
        return json(200, {
          accessKeyId: key.accessKeyId,
          permissions: ['agent:read', 'agent:write'],
          source: 'owner',
          ownerPermissions: ['agent:read', 'agent:write'],
        });
      return undefined;
    });
  });

  it('an owner cannot activate a key a manager deactivated, nor give it a secret beyond them', async () => {
    renderApp('/keys');
    fireEvent.click(await screen.findByRole('button', { name: 'Actions for laptop' }));
    const activate = await screen.findByRole('menuitem', { name: 'Mark as active' });
    expect((activate as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/only they can mark it active again/)).toBeTruthy();
    fireEvent.click(screen.getByRole('menuitem', { name: 'Key details' }));

    const drawer = await screen.findByRole('dialog', { name: 'Key details' });
    await within(drawer).findByText('laptop');
    // Mantine's switch label wraps its description, so the name starts with the label.
    const active = within(drawer).getByRole('switch', { name: /^Key is active/ });
    expect((active as HTMLInputElement).disabled).toBe(true);
    expect(descriptionOf(active)).toContain('only they can mark it active again');

    const rotate = within(drawer).getByRole('button', {
      name: 'Generate new secret key',
    }) as HTMLButtonElement;
    await waitFor(() => expect(rotate.disabled).toBe(true));
    expect(descriptionOf(rotate)).toContain('agent:write');
    expect(descriptionOf(rotate)).toContain(GRANT_REASON);
  });
});

describe('groups and roles editors', () => {
  beforeEach(() => {
    sessionStorage.setItem('latchkey.console.token', 'tok');
    route((c) => {
      if (c.url === '/iam/me')
        return json(200, {
          ...baseMe,
          permissions: [
            'agent:read',
            'iam:roles:read',
            'iam:roles:manage',
            'iam:groups:read',
            'iam:groups:manage',
          ],
        });
      if (c.url === '/iam/permissions')
        return json(200, { items: ['agent:read', 'agent:write', 'iam:roles:read', 'iam:roles:manage'] });
      if (c.url === '/iam/roles' && c.method === 'GET') return json(200, { items: [] });
      if (c.url === '/iam/roles' && c.method === 'POST') return json(201, {});
      if (c.url === '/iam/groups')
        return json(200, {
          items: [
            {
              id: 'grp_admins',
              name: 'Administrators',
              description: '',
              builtin: true,
              roles: [],
              memberCount: 1,
              grantable: false,
            },
          ],
        });
      if (c.url === '/iam/groups/grp_admins')
        return json(200, {
          id: 'grp_admins',
          name: 'Administrators',
          builtin: true,
          roles: [],
          grantable: false,
          members: [{ type: 'user', id: 'usr_admin', label: 'admin@example.com' }],
        });
      return undefined;
    });
  });

  it('the role editor adds only permissions the person holds', async () => {
    renderApp('/groups');
    fireEvent.click(await screen.findByRole('button', { name: 'Create role' }));
    const dialog = await screen.findByRole('dialog', { name: 'Create role' });
    fireEvent.change(within(dialog).getByLabelText(/^Role name/), { target: { value: 'Agents' } });
    const input = within(dialog).getByRole('combobox', { name: /^Permissions/ });
    await waitFor(() => expect(calls.some((c) => c.url === '/iam/permissions')).toBe(true));
    // In the list, what the person does not hold is disabled and says why.
    fireEvent.click(input);
    const writeOption = await screen.findByRole('option', { name: /^agent:write/ });
    expect(writeOption.getAttribute('aria-disabled')).toBe('true');
    expect(writeOption.textContent).toContain(GRANT_REASON);
    expect(screen.getByRole('option', { name: 'agent:read' }).getAttribute('aria-disabled')).toBeNull();
    // Typed, it is refused too, with the reason.
    fireEvent.change(input, { target: { value: 'agent:*' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    const refused = await within(dialog).findByRole('alert');
    expect(refused.textContent).toContain('You do not hold agent:*');
    fireEvent.change(input, { target: { value: 'agent:read' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create role' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'Agents',
      description: '',
      permissions: ['agent:read'],
    });
  });

  it('no one is added to or removed from Administrators without *', async () => {
    renderApp('/groups');
    fireEvent.click(await screen.findByRole('tab', { name: 'Groups' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Members of Administrators' }));
    const dialog = await screen.findByRole('dialog', { name: 'Members of Administrators' });
    const remove = (await within(dialog).findByRole('button', {
      name: 'Remove admin@example.com from Administrators',
    })) as HTMLButtonElement;
    expect(remove.disabled).toBe(true);
    expect(descriptionOf(remove)).toContain('every permission (*)');
    const add = within(dialog).getByRole('combobox', { name: 'Add member' }) as HTMLInputElement;
    expect(add.disabled).toBe(true);
    expect(descriptionOf(add)).toContain(GRANT_REASON);
    expect((within(dialog).getByRole('button', { name: 'Add' }) as HTMLButtonElement).disabled).toBe(true);
  });
});
