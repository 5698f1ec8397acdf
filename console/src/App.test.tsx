// @vitest-environment happy-dom
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { cleanUpAfterEach, json, page, renderApp as renderAt, stubFetch } from './test-helpers';

const me = {
  id: 'usr_admin',
  tenantId: '123456789012',
  email: 'admin@example.com',
  name: 'Admin',
  principalType: 'user',
  permissions: ['iam:users:read', 'iam:keys:read'],
  groups: [],
  roles: [],
};

let usersAnswer: () => Response;

beforeEach(() => {
  sessionStorage.clear();
  usersAnswer = () => json(200, page([]));
  stubFetch(({ method, url, body }) => {
    if (url === '/version') return json(200, { name: 'latchkey', version: '0.1.0' });
    if (url === '/iam/login' && method === 'POST') {
      if ((body as { email?: string }).email === 'api@example.com') {
        return json(403, {
          error: {
            code: 'API_USER_PASSWORD_LOGIN',
            message: 'API users sign requests with keys',
            requestId: 'r',
          },
        });
      }
      return json(200, { token: 'tok_1', token_type: 'Bearer', expires_in: 3600 });
    }
    if (url === '/iam/me') return json(200, me);
    if (url.startsWith('/iam/users')) return usersAnswer();
    return undefined;
  });
});

cleanUpAfterEach();

const renderApp = () => renderAt('/users');

async function signIn(email: string) {
  fireEvent.change(await screen.findByLabelText(/Email/), { target: { value: email } });
  fireEvent.change(screen.getByLabelText(/Password/), { target: { value: 'a-long-enough-password' } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('session', () => {
  it('signs in, keeps only the token in sessionStorage, and signing out clears it', async () => {
    renderApp();
    await signIn('admin@example.com');
    await screen.findByRole('heading', { name: 'Users' });
    expect(sessionStorage.getItem('latchkey.console.token')).toBe('tok_1');
    expect(Object.keys(sessionStorage)).toEqual(['latchkey.console.token']);
    // An empty list says what to do next.
    await screen.findByText('No users yet');
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await screen.findByRole('button', { name: 'Sign in' });
    expect(sessionStorage.length).toBe(0);
  });

  it('asks to sign in again when the token expires', async () => {
    sessionStorage.setItem('latchkey.console.token', 'tok_old');
    usersAnswer = () =>
      json(401, { error: { code: 'EXPIRED_TOKEN', message: 'the token has expired', requestId: 'r' } });
    renderApp();
    await screen.findByText(/Your session expired/);
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(sessionStorage.length).toBe(0);
  });

  it('tells an API user why the console is closed to them', async () => {
    renderApp();
    await signIn('api@example.com');
    await screen.findByText('This is an API user');
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('API_USER_PASSWORD_LOGIN'));
    expect(sessionStorage.length).toBe(0);
  });
});
