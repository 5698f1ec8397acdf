// @vitest-environment happy-dom
import { MantineProvider } from '@mantine/core';
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CreatedKey, KeyView, Me } from '../api';
import { DEFAULT_SCOPE } from '../format';
import { type ConsoleContext, Ctx } from '../shared';
import { ApiAccessPanel } from './ApiAccessPanel';
import { SecretReveal } from './SecretReveal';

const SECRET = 'lksk_0123456789abcdefghijABCDEFGHIJklmnopqrst';
const ACCESS_KEY = 'LKIA7Q3M9XK2VB8RT4HN0CJ5WD';
const TENANT = '123456789012';

const keyView: KeyView = {
  accessKeyId: ACCESS_KEY,
  tenantId: TENANT,
  name: 'laptop',
  type: 'access',
  status: 'active',
  state: 'active',
  expiresAt: '2030-01-01T00:00:00.000Z',
  daysLeft: 1000,
  owner: { type: 'user', id: 'usr_1', label: 'ana@example.com' },
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUsedAt: null,
  lastUsedIp: null,
  secretVersion: 1,
  groups: [],
  roles: [],
  deactivatedByManager: false,
};
const created: CreatedKey = { ...keyView, secretAccessKey: SECRET };

const me: Me = {
  id: 'usr_admin',
  tenantId: TENANT,
  email: 'admin@example.com',
  name: 'Admin',
  principalType: 'user',
  permissions: ['*'],
  groups: [],
  roles: [],
};
const ctx: ConsoleContext = { me, scope: DEFAULT_SCOPE, can: () => true, navigate: () => undefined };

function wrap(children: ReactNode) {
  return (
    <MantineProvider env="test">
      <Ctx.Provider value={ctx}>{children}</Ctx.Provider>
    </MantineProvider>
  );
}

const json = (status: number, body: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

let clipboard: string[] = [];
let requests: Array<{ method: string; url: string; body: unknown }> = [];
let keys: KeyView[] = [];

beforeEach(() => {
  clipboard = [];
  requests = [];
  keys = [];
  sessionStorage.clear();
  localStorage.clear();
  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: async (t: string) => void clipboard.push(t) },
  });
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
      requests.push({ method, url: input, body });
      if (method === 'GET' && input.startsWith('/iam/users/usr_1/keys')) {
        return json(200, { items: keys, total: keys.length, limit: 200, offset: 0 });
      }
      if (method === 'POST' && input === '/iam/users/usr_1/keys') {
        keys = [keyView];
        return json(201, created);
      }
      if (input === '/iam/settings') return json(200, { defaultKeyLifetimeDays: 90 });
      return json(404, { error: { code: 'NOT_FOUND', message: 'no route', requestId: 'r1' } });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('SecretReveal', () => {
  it('copies all key details as key:<access key>::<secret key>,tenant id: <tenant ID>', async () => {
    render(wrap(<SecretReveal created={created} origin="http://127.0.0.1:8080" />));
    fireEvent.click(screen.getByRole('button', { name: 'Copy access key, secret key and tenant ID' }));
    await waitFor(() => expect(clipboard).toHaveLength(1));
    expect(clipboard[0]).toBe(`key:${ACCESS_KEY}::${SECRET},tenant id: ${TENANT}`);
  });

  it('copies the access key, the secret key and a runnable sample cURL separately', async () => {
    render(wrap(<SecretReveal created={created} origin="http://127.0.0.1:8080" />));
    fireEvent.click(screen.getByRole('button', { name: 'Copy access key' }));
    fireEvent.click(screen.getByRole('button', { name: 'Copy secret key' }));
    fireEvent.click(screen.getByRole('button', { name: 'Copy sample cURL' }));
    await waitFor(() => expect(clipboard).toHaveLength(3));
    expect(clipboard[0]).toBe(ACCESS_KEY);
    expect(clipboard[1]).toBe(SECRET);
    expect(clipboard[2]).toBe(
      `curl --aws-sigv4 "aws:amz:ap-southeast-5:sqlaccount" --user "${ACCESS_KEY}:${SECRET}" http://127.0.0.1:8080/agent/`,
    );
  });

  it('warns that the secret will not be shown again', () => {
    render(wrap(<SecretReveal created={created} />));
    expect(screen.getByText(/only time the secret key is shown/)).toBeTruthy();
  });
});

describe('API Access panel: the secret is shown once', () => {
  it('shows the secret after Add access, and it is gone from the page and storage after closing', async () => {
    render(
      wrap(
        <ApiAccessPanel
          owner={{ type: 'user', id: 'usr_1', label: 'ana@example.com' }}
          ownerEmail="ana@example.com"
          ownerWithinYourPermissions
        />,
      ),
    );
    await screen.findByText('No API access yet');
    fireEvent.click(screen.getByRole('button', { name: 'Add access' }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create' }));
    const secretField = (await screen.findByDisplayValue(SECRET)) as HTMLInputElement;
    expect(secretField.readOnly).toBe(true);
    // Default lifetime: no expiry fields, so the server applies IAM settings; no email unless asked.
    const post = requests.find((r) => r.method === 'POST' && r.url === '/iam/users/usr_1/keys');
    expect(post?.body).toEqual({ type: 'access' });

    fireEvent.click(screen.getByRole('button', { name: /I have saved the secret key/ }));
    await waitFor(() => expect(screen.queryByDisplayValue(SECRET)).toBeNull());
    expect(document.body.innerHTML).not.toContain(SECRET);
    // The key is listed, without its secret.
    await screen.findByText(ACCESS_KEY);
    const stored = [
      ...Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
      ...Object.keys(localStorage).map((k) => localStorage.getItem(k)),
    ].join('|');
    expect(stored).not.toContain(SECRET);
    expect(window.location.href).not.toContain(SECRET);
  });

  it('sends sendEmail only when asked, and needs an email address for it', async () => {
    render(
      wrap(
        <ApiAccessPanel
          owner={{ type: 'service_account', id: 'sa_1', label: 'etl' }}
          ownerEmail={null}
          ownerWithinYourPermissions
        />,
      ),
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Add access' }));
    const dialog = await screen.findByRole('dialog');
    await act(async () => {
      fireEvent.click(
        within(dialog).getByRole('checkbox', { name: /Send the API and secret keys by email/ }),
      );
    });
    expect(within(dialog).getByText(/This account has no email address/)).toBeTruthy();
    expect((within(dialog).getByRole('button', { name: 'Create' }) as HTMLButtonElement).disabled).toBe(true);
    expect(requests.some((r) => r.method === 'POST')).toBe(false);
  });
});
