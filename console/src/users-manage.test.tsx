// @vitest-environment happy-dom
/**
 * Managing users from the console: rename, disable and enable, delete (confirmed first), and a new
 * password only within the signed-in person's permissions; the server's refusals (the last
 * administrator) shown with their code. fetch is mocked with a small router.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { session } from './api';
import { GRANT_REASON } from './grants';
import {
  type Call,
  cleanUpAfterEach,
  consoleDefaults,
  descriptionOf,
  json,
  page,
  refusal,
  renderApp,
  signedInWith,
  stubFetch,
} from './test-helpers';

let calls: Call[] = [];
let answer: (call: Call) => Response | undefined = () => undefined;
let permissions: string[] = [];

const rita = {
  id: 'usr_rita',
  tenantId: '111111111111',
  email: 'rita@example.com',
  name: 'Rita Tan',
  status: 'active' as 'active' | 'disabled',
  apiUser: false,
  isAdministrator: true,
  hasPassword: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  withinYourPermissions: true,
};
let user = { ...rita };

/** The user's record as the server keeps it: read, changed by PATCH, gone after DELETE. */
function userRoutes(call: Call): Response | undefined {
  const { url, method } = call;
  if (url === '/iam/me') return json(200, signedInWith(permissions));
  if (url.startsWith('/iam/users?')) return json(200, page([user]));
  if (url === `/iam/users/${user.id}` && method === 'GET') return json(200, user);
  if (url === `/iam/users/${user.id}` && method === 'PATCH') {
    user = { ...user, ...(call.body as object) };
    return json(200, user);
  }
  if (url === `/iam/users/${user.id}` && method === 'DELETE') return new Response(null, { status: 204 });
  if (url.endsWith('/assignments')) return json(200, { groups: [], roles: [] });
  if (url.includes('/keys')) return json(200, page([]));
  return undefined;
}

beforeEach(() => {
  answer = () => undefined;
  permissions = ['iam:users:read', 'iam:users:manage'];
  user = { ...rita };
  session.clear();
  sessionStorage.setItem('latchkey.console.token', 'tok');
  calls = stubFetch((call) => answer(call) ?? userRoutes(call) ?? consoleDefaults(call));
});

cleanUpAfterEach();

/** What the console changed: method, URL and body of each request that is not a GET. */
const writes = () =>
  calls.filter((c) => c.method !== 'GET').map(({ method, url, body }) => ({ method, url, body }));

describe('a user page, for someone who manages users', () => {
  it('renames the user', async () => {
    renderApp('/users/usr_rita');
    const name = await screen.findByLabelText(/^Name/);
    const rename = screen.getByRole('button', { name: 'Rename' }) as HTMLButtonElement;
    expect(rename.disabled).toBe(true);
    fireEvent.change(name, { target: { value: '  Rita Lim ' } });
    fireEvent.click(rename);
    await screen.findByText('Renamed.');
    expect(writes()).toEqual([{ method: 'PATCH', url: '/iam/users/usr_rita', body: { name: 'Rita Lim' } }]);
    await screen.findByRole('heading', { name: 'Rita Lim' });
  });

  it('disables after confirming, and enables again', async () => {
    renderApp('/users/usr_rita');
    fireEvent.click(await screen.findByRole('button', { name: 'Disable user' }));
    let dialog = await screen.findByRole('dialog', { name: 'Disable user' });
    expect(dialog.textContent).toContain('Rita Tan');
    expect(writes()).toEqual([]);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Disable user' })).toBeNull());
    expect(writes()).toEqual([]);

    fireEvent.click(screen.getByRole('button', { name: 'Disable user' }));
    dialog = await screen.findByRole('dialog', { name: 'Disable user' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Disable user' }));
    await screen.findByRole('button', { name: 'Enable user' });
    expect(writes()).toEqual([{ method: 'PATCH', url: '/iam/users/usr_rita', body: { status: 'disabled' } }]);

    fireEvent.click(screen.getByRole('button', { name: 'Enable user' }));
    await screen.findByRole('button', { name: 'Disable user' });
    expect(writes()[1]).toEqual({ method: 'PATCH', url: '/iam/users/usr_rita', body: { status: 'active' } });
  });

  it('shows the refusal when the last administrator would be disabled', async () => {
    answer = (c) =>
      c.method === 'PATCH'
        ? refusal(409, 'LAST_ADMINISTRATOR', 'the tenant must keep at least one active administrator')
        : undefined;
    renderApp('/users/usr_rita');
    fireEvent.click(await screen.findByRole('button', { name: 'Disable user' }));
    const dialog = await screen.findByRole('dialog', { name: 'Disable user' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Disable user' }));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toContain('The last administrator must stay');
    expect(alert.textContent).toContain('LAST_ADMINISTRATOR');
    expect(alert.textContent).toContain('at least one active administrator');
  });

  it('deletes only after confirming, then goes back to the list', async () => {
    renderApp('/users/usr_rita');
    fireEvent.click(await screen.findByRole('button', { name: 'Delete user' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete user' });
    expect(dialog.textContent).toContain('cannot be undone');
    expect(writes()).toEqual([]);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete user' }));
    await screen.findByRole('heading', { name: 'Users' });
    expect(writes()).toEqual([{ method: 'DELETE', url: '/iam/users/usr_rita', body: undefined }]);
    expect(window.location.pathname).toBe('/console/users');
  });

  it('shows the refusal when the last administrator would be deleted, and stays', async () => {
    answer = (c) =>
      c.method === 'DELETE'
        ? refusal(409, 'LAST_ADMINISTRATOR', 'the tenant must keep at least one active administrator')
        : undefined;
    renderApp('/users/usr_rita');
    fireEvent.click(await screen.findByRole('button', { name: 'Delete user' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete user' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete user' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('LAST_ADMINISTRATOR');
    expect(window.location.pathname).toBe('/console/users/usr_rita');
  });

  it('sets a new password for a user within the signed-in person’s permissions', async () => {
    renderApp('/users/usr_rita');
    fireEvent.click(await screen.findByRole('button', { name: 'Set password' }));
    const dialog = await screen.findByRole('dialog', { name: 'Set password of Rita Tan' });
    const [next, repeat] = [
      within(dialog).getByLabelText(/^New password/),
      within(dialog).getByLabelText(/^Repeat the new password/),
    ];
    fireEvent.change(next, { target: { value: 'short' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Set password' }));
    await within(dialog).findByText('The password needs at least 12 characters.');
    fireEvent.change(next, { target: { value: 'a-long-new-password' } });
    fireEvent.change(repeat, { target: { value: 'a-long-new-passwort' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Set password' }));
    await within(dialog).findByText('The two passwords are not the same.');
    expect(writes()).toEqual([]);
    fireEvent.change(repeat, { target: { value: 'a-long-new-password' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Set password' }));
    await screen.findByText(/Password set\./);
    expect(writes()).toEqual([
      { method: 'PATCH', url: '/iam/users/usr_rita', body: { password: 'a-long-new-password' } },
    ]);
  });

  it('offers no password for a user beyond the signed-in person, and says why', async () => {
    user = { ...rita, withinYourPermissions: false };
    renderApp('/users/usr_rita');
    const setPassword = (await screen.findByRole('button', { name: 'Set password' })) as HTMLButtonElement;
    expect(setPassword.disabled).toBe(true);
    expect(descriptionOf(setPassword)).toContain('Rita Tan holds permissions you do not hold');
    expect(descriptionOf(setPassword)).toContain(GRANT_REASON);
    // Renaming, disabling and deleting stay possible (the server checks the rest).
    expect((screen.getByRole('button', { name: 'Disable user' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('sends the signed-in person to Change password for their own', async () => {
    user = { ...rita, id: 'usr_me' };
    renderApp('/users/usr_me');
    const setPassword = (await screen.findByRole('button', { name: 'Set password' })) as HTMLButtonElement;
    expect(setPassword.disabled).toBe(true);
    expect(descriptionOf(setPassword)).toContain('Change password');
  });

  it('shows none of it without iam:users:manage', async () => {
    permissions = ['iam:users:read'];
    renderApp('/users/usr_rita');
    await screen.findByRole('heading', { name: 'Rita Tan' });
    expect(screen.queryByRole('button', { name: 'Disable user' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete user' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Rename' })).toBeNull();
  });
});

describe('the users list', () => {
  it('disables and deletes from a row, each confirmed, and shows refusals', async () => {
    answer = (c) =>
      c.method === 'DELETE'
        ? refusal(409, 'LAST_ADMINISTRATOR', 'the tenant must keep at least one active administrator')
        : undefined;
    renderApp('/users');
    fireEvent.click(await screen.findByRole('button', { name: 'Actions for Rita Tan' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Disable user' }));
    let dialog = await screen.findByRole('dialog', { name: 'Disable user' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Disable user' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Disable user' })).toBeNull());
    expect(writes()).toEqual([{ method: 'PATCH', url: '/iam/users/usr_rita', body: { status: 'disabled' } }]);
    await screen.findByText('disabled');

    fireEvent.click(screen.getByRole('button', { name: 'Actions for Rita Tan' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Enable user' }));
    await waitFor(() => expect(writes()).toHaveLength(2));
    expect(writes()[1]?.body).toEqual({ status: 'active' });

    fireEvent.click(screen.getByRole('button', { name: 'Actions for Rita Tan' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Delete user' }));
    dialog = await screen.findByRole('dialog', { name: 'Delete user' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete user' }));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toContain('The last administrator must stay');
    expect(writes()[2]).toEqual({ method: 'DELETE', url: '/iam/users/usr_rita', body: undefined });
  });

  it('has no row actions without iam:users:manage', async () => {
    permissions = ['iam:users:read'];
    renderApp('/users');
    await screen.findByRole('link', { name: 'Rita Tan' });
    expect(screen.queryByRole('button', { name: 'Actions for Rita Tan' })).toBeNull();
  });
});
