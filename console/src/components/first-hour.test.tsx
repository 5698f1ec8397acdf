// @vitest-environment happy-dom
/**
 * What a new user meets in the first hour with keys: a warning before creating a key that could
 * read nothing, Test Connection saying so, the server's quiet sample cURL, a grace period when
 * rotating, "Last used" that moves without a reload, and a Roles select that closes after a
 * choice. fetch is mocked with a small router.
 */
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CreatedKey, GroupView, KeyView, Me, RoleView, UserView } from '../api';
import { grantsData } from '../data-access';
import { AccessKeysPage } from '../pages/AccessKeys';
import { UserDetailPage } from '../pages/Users';
import { REFRESH_INTERVAL_MS } from '../refresh';
import {
  ACCESS_KEY,
  accessPanel,
  type Call,
  cleanUpAfterEach,
  json,
  keyWith,
  meWith,
  page,
  SECRET,
  STAMP as stamp,
  stubFetch,
  TENANT,
  wrap,
} from '../test-helpers';
import { KeyDetailsDrawer } from './KeyDetails';
import { SecretReveal } from './SecretReveal';

const ORIGIN = 'http://127.0.0.1:8080';
const NOTHING = 'This key would read nothing';

const role = (id: string, name: string, permissions: string[]): RoleView => ({
  id,
  name,
  description: '',
  permissions,
  builtin: false,
  createdAt: stamp,
  updatedAt: stamp,
  grantable: true,
});
const ROLES: RoleView[] = [
  role('rol_read', 'DataReadOnly', ['*:read']),
  role('rol_um', 'UserManager', ['iam:users:read', 'iam:users:manage']),
];
const group = (id: string, name: string, roles: RoleView[]): GroupView => ({
  id,
  name,
  description: '',
  builtin: false,
  roles: roles.map((r) => ({ id: r.id, name: r.name })),
  memberCount: 1,
  createdAt: stamp,
  updatedAt: stamp,
  grantable: true,
});
const GROUPS: GroupView[] = [
  group('grp_ops', 'Ops', [ROLES[1] as RoleView]),
  group('grp_readers', 'Readers', [ROLES[0] as RoleView]),
];

const keyView: KeyView = keyWith();
const created: CreatedKey = { ...keyView, secretAccessKey: SECRET };

const ana: UserView = {
  id: 'usr_ana',
  tenantId: TENANT,
  email: 'ana@example.com',
  name: 'Ana Lim',
  status: 'active',
  apiUser: false,
  isAdministrator: false,
  hasPassword: true,
  rateLimit: null,
  quota: null,
  allowedCidrs: null,
  createdAt: stamp,
  updatedAt: stamp,
  withinYourPermissions: true,
};

const adminMe: Me = meWith();

let calls: Call[] = [];
let clipboard: string[] = [];
/** Per-test answers; what none gives falls to the defaults below. */
let handler: (c: Call) => Response | undefined = () => undefined;
/** What the server says each owner holds (GET …/permissions). */
let held: Record<string, string[]> = {};
let keys: KeyView[] = [];
let profilePermissions: string[] | undefined = ['agent:read'];

/** The server of these tests: owners, keys, groups and roles, the sample cURL and /profile. */
function server(c: Call): Response | undefined {
  const input = c.url;
  const path = input.split('?')[0] as string;
  const owner = /^\/iam\/(users|service-accounts)\/([^/]+)\/permissions$/.exec(path);
  if (owner && c.method === 'GET') {
    const permissions = held[owner[2] as string] ?? [];
    return json(200, { permissions, readsData: permissions.some((p) => !p.startsWith('iam:')) });
  }
  if (path === '/iam/roles') return json(200, { items: ROLES });
  if (path === '/iam/groups') return json(200, { items: GROUPS });
  if (path === '/iam/settings') return json(200, { defaultKeyLifetimeDays: 90 });
  if (path === '/iam/users') return json(200, page([ana]));
  if (path === '/iam/service-accounts') return json(200, page([]));
  if (path === '/iam/users/usr_ana') return json(200, ana);
  if (/^\/iam\/(users|service-accounts)\/[^/]+\/keys$/.test(path) && c.method === 'GET')
    return json(200, page(keys));
  if (path === '/iam/keys') return json(200, page(keys));
  if (path === `/iam/keys/${ACCESS_KEY}`) return json(200, keys[0]);
  if (path === `/iam/keys/${ACCESS_KEY}/permissions`)
    return json(200, {
      accessKeyId: ACCESS_KEY,
      permissions: ['agent:read'],
      source: 'owner',
      ownerPermissions: ['agent:read'],
    });
  if (path === `/iam/keys/${ACCESS_KEY}/secret` && c.method === 'POST') return json(200, created);
  if (path === '/iam/sample-curl' && c.method === 'POST') {
    const b = c.body as { accessKeyId: string; secretAccessKey: string; path: string };
    return json(200, {
      sigv4: `curl -sS --aws-sigv4 'aws:amz:ap-southeast-5:sqlaccount' --user '${b.accessKeyId}:${b.secretAccessKey}' '${ORIGIN}${b.path}'`,
      precomputed: `curl -sS -H 'X-Amz-Date: 20260101T000000Z' -H 'Authorization: AWS4-HMAC-SHA256 …' '${ORIGIN}${b.path}'`,
      signedAt: stamp,
    });
  }
  if (input === `${ORIGIN}/profile`)
    return json(200, {
      tenantId: TENANT,
      principal: { type: 'user', id: 'usr_ana', name: 'Ana Lim', email: 'ana@example.com' },
      accessKeyId: ACCESS_KEY,
      credential: 'sigv4',
      tokenSource: null,
      ...(profilePermissions ? { permissions: profilePermissions } : {}),
    });
  if (/^\/iam\/(users|service-accounts)\/[^/]+\/keys$/.test(path) && c.method === 'POST')
    return json(201, created);
  return undefined;
}

beforeEach(() => {
  clipboard = [];
  handler = () => undefined;
  held = {};
  keys = [keyView];
  profilePermissions = ['agent:read'];
  sessionStorage.clear();
  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: async (t: string) => void clipboard.push(t) },
  });
  calls = stubFetch((c) => handler(c) ?? server(c));
});

cleanUpAfterEach();

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('which permissions reach data', () => {
  it('tells data permissions and patterns from admin-API ones', () => {
    expect(grantsData(['iam:users:read', 'iam:keys:manage'])).toBe(false);
    expect(grantsData([])).toBe(false);
    expect(grantsData(['agent:read'])).toBe(true);
    expect(grantsData(['*'])).toBe(true);
    expect(grantsData(['*:read'])).toBe(true);
  });
});

describe('warning before creating a key whose owner has no data permission', () => {
  it('Add access: warns for an owner with admin-API roles only, and still creates the key', async () => {
    held.sa_etl = ['iam:users:manage', 'iam:users:read'];
    render(accessPanel({ type: 'service_account', id: 'sa_etl', label: 'etl-loader' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Add access' }));
    const dialog = await screen.findByRole('dialog');
    const warning = await within(dialog).findByTestId('no-data-warning');
    expect(warning.textContent).toContain(NOTHING);
    expect(warning.textContent).toContain('etl-loader holds no data permission');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create' }));
    await screen.findByDisplayValue(SECRET);
    expect(calls.some((c) => c.method === 'POST' && c.url === '/iam/service-accounts/sa_etl/keys')).toBe(
      true,
    );
  });

  it('Add access: no warning when a group gives the owner data permissions', async () => {
    held.usr_ana = ['agent:read', 'customer:read'];
    render(accessPanel({ type: 'user', id: 'usr_ana', label: 'ana@example.com' }, 'ana@example.com'));
    fireEvent.click(await screen.findByRole('button', { name: 'Add access' }));
    await screen.findByRole('dialog');
    await waitFor(() => expect(calls.some((c) => c.url === '/iam/users/usr_ana/permissions')).toBe(true));
    await act(async () => undefined);
    expect(screen.queryByTestId('no-data-warning')).toBeNull();
  });

  it('Add key: warns when the signed-in person, the default owner, holds admin-API permissions only', async () => {
    const manager: Me = {
      ...adminMe,
      id: 'usr_mgr',
      email: 'mgr@example.com',
      permissions: ['iam:keys:read', 'iam:keys:manage', 'iam:users:read'],
    };
    render(wrap(<AccessKeysPage />, manager));
    fireEvent.click(await screen.findByRole('button', { name: 'Add key' }));
    const dialog = await screen.findByRole('dialog');
    const warning = await within(dialog).findByTestId('no-data-warning');
    expect(warning.textContent).toContain('You hold no data permission');
  });

  it('Generate API Secret Key: warns for a user whose groups give admin-API permissions only', async () => {
    held.usr_ana = ['iam:users:manage', 'iam:users:read'];
    render(wrap(<UserDetailPage userId="usr_ana" />));
    fireEvent.click(await screen.findByRole('button', { name: 'More' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'API Secret Key' }));
    const dialog = await screen.findByRole('dialog', { name: 'API Secret Key' });
    const warning = await within(dialog).findByTestId('no-data-warning');
    expect(warning.textContent).toContain('Ana Lim holds no data permission');
    expect(within(dialog).getByRole('button', { name: 'Generate API Secret Key' })).toBeTruthy();
  });
});

describe('the secret reveal', () => {
  it('Test Connection warns when the signed /profile answer holds no data permission', async () => {
    profilePermissions = ['iam:users:read'];
    render(wrap(<SecretReveal created={created} origin={ORIGIN} />));
    fireEvent.click(screen.getByRole('button', { name: 'Test Connection' }));
    const result = await screen.findByTestId('connection-result');
    expect(result.textContent).toContain('Signed in, but this key can read nothing');
    expect(result.textContent).not.toContain('Connection succeeded');
  });

  it('Test Connection with a data permission is a plain success', async () => {
    render(wrap(<SecretReveal created={created} origin={ORIGIN} />));
    fireEvent.click(screen.getByRole('button', { name: 'Test Connection' }));
    const result = await screen.findByTestId('connection-result');
    expect(result.textContent).toContain('Connection succeeded');
    expect(result.textContent).not.toContain('can read nothing');
  });

  it("copies the server's quiet sample cURL (curl -sS), made from the key and its secret", async () => {
    render(wrap(<SecretReveal created={created} origin={ORIGIN} />));
    const shown = await screen.findByTestId('sample-curl');
    const post = calls.find((c) => c.method === 'POST' && c.url === '/iam/sample-curl');
    expect(post?.body).toEqual({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, path: '/agent/' });
    fireEvent.click(screen.getByRole('button', { name: 'Copy sample cURL' }));
    await waitFor(() => expect(clipboard).toHaveLength(1));
    expect(clipboard[0]).toBe(shown.textContent);
    expect(clipboard[0]).toMatch(/^curl -sS /);
    expect(clipboard[0]).toContain(`${ACCESS_KEY}:${SECRET}`);
    fireEvent.click(
      screen.getByRole('button', { name: 'Copy for older curl: the command for curl older than 7.75' }),
    );
    await waitFor(() => expect(clipboard).toHaveLength(2));
    expect(clipboard[1]).toContain('X-Amz-Date');
  });
});

describe('generating a new secret key', () => {
  const rotate = async (choice?: string) => {
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
      ),
    );
    const open = await screen.findByRole('button', { name: 'Generate new secret key' });
    await waitFor(() => expect((open as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(open);
    const dialog = await screen.findByRole('dialog', { name: 'Generate new secret key' });
    const radios = within(dialog).getAllByRole('radio') as HTMLInputElement[];
    expect(radios.map((r) => r.labels?.[0]?.textContent)).toEqual([
      'Stops working at once',
      'Keeps working for 1 hour',
      'Keeps working for 24 hours',
    ]);
    if (choice) fireEvent.click(within(dialog).getByRole('radio', { name: choice }));
    const confirm = within(dialog).getByRole('button', {
      name: 'Generate new secret key',
    }) as HTMLButtonElement;
    await waitFor(() => expect(confirm.disabled).toBe(false));
    fireEvent.click(confirm);
    await screen.findByDisplayValue(SECRET);
    return calls.find((c) => c.method === 'POST' && c.url === `/iam/keys/${ACCESS_KEY}/secret`);
  };

  it('offers a grace period for the old secret and sends graceSeconds', async () => {
    expect((await rotate('Keeps working for 1 hour'))?.body).toEqual({ graceSeconds: 3600 });
  });

  it('24 hours is the longest choice', async () => {
    expect((await rotate('Keeps working for 24 hours'))?.body).toEqual({ graceSeconds: 86400 });
  });

  it('by default the old secret stops at once (no graceSeconds)', async () => {
    expect((await rotate())?.body).toEqual({});
  });
});

describe('"Last used" without a reload', () => {
  const keyListCalls = () => calls.filter((c) => c.method === 'GET' && c.url.startsWith('/iam/keys?')).length;

  it('reads the key list again on window focus and every 30 s while visible, not while hidden', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    render(wrap(<AccessKeysPage />));
    await screen.findByText('never used');
    const first = keyListCalls();

    keys = [{ ...keyView, lastUsedAt: new Date().toISOString(), lastUsedIp: '10.0.0.1' }];
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 5_000);
    await act(async () => {
      window.dispatchEvent(new Event('focus'));
    });
    await screen.findByText('just now');
    expect(keyListCalls()).toBe(first + 1);

    await act(async () => {
      vi.advanceTimersByTime(REFRESH_INTERVAL_MS);
    });
    await waitFor(() => expect(keyListCalls()).toBe(first + 2));

    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    try {
      await act(async () => {
        vi.advanceTimersByTime(REFRESH_INTERVAL_MS * 3);
      });
      expect(keyListCalls()).toBe(first + 2);
    } finally {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    }
  });

  it('the key details pane reads the key again on focus', async () => {
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
      ),
    );
    const pane = await screen.findByRole('dialog');
    await within(pane).findByText('never used');
    keys = [{ ...keyView, lastUsedAt: new Date().toISOString() }];
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 5_000);
    await act(async () => {
      window.dispatchEvent(new Event('focus'));
    });
    await within(pane).findByText('just now');
  });
});

describe('the Roles select of a key', () => {
  it('closes after a choice, and the choice is saved', async () => {
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
      ),
    );
    const roles = await screen.findByRole('combobox', { name: 'Roles' });
    fireEvent.click(roles);
    await waitFor(() => expect(roles.getAttribute('aria-expanded')).toBe('true'));
    fireEvent.click(await screen.findByRole('option', { name: 'DataReadOnly' }));
    await waitFor(() => expect(roles.getAttribute('aria-expanded')).toBe('false'));
    expect(screen.queryByRole('option', { name: 'UserManager' })).toBeNull();
    handler = (c) =>
      c.method === 'PUT' && c.url === `/iam/keys/${ACCESS_KEY}/assignments`
        ? json(200, { groups: [], roles: [{ id: 'rol_read', name: 'DataReadOnly' }] })
        : undefined;
    fireEvent.click(screen.getByRole('button', { name: 'Save assignments' }));
    await screen.findByText(/Assignments saved/);
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ groupIds: [], roleIds: ['rol_read'] });
  });
});
