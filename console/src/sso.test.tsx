// @vitest-environment happy-dom
/**
 * Single sign-on in the console: the sign-in page exchanges the one-time code a callback left in
 * the address's fragment (once, then removes it) and shows why a sign-in failed; IAM settings
 * shows the redirect URI and saves the provider without resending a stored client secret. fetch is
 * mocked with a small router (the real flow runs in Chromium: test/e2e/console-sso.e2e.test.ts).
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { session } from './api';
import {
  type Call,
  cleanUpAfterEach,
  consoleDefaults,
  json,
  refusal,
  renderApp,
  STAMP,
  signedInWith,
  stubFetch,
} from './test-helpers';

let calls: Call[] = [];
let signedIn = false;

const SSO = {
  configured: true,
  issuer: 'https://login.example.com',
  clientId: 'latchkey',
  clientSecretSet: true,
  enabled: true,
  jitEnabled: false,
  jitGroupId: null,
  allowedDomains: ['example.com'],
  redirectUri: 'https://keys.example.com/iam/sso/callback',
  signInUrl: 'https://keys.example.com/iam/sso/start?tenantId=ten_1',
  updatedAt: STAMP,
};

function routes(call: Call): Response | undefined {
  const { url, method } = call;
  if (url === '/iam/login' && method === 'POST') {
    const body = call.body as { auth_mode: string; code?: string };
    if (body.auth_mode === 'sso' && body.code === 'one-time-code') {
      signedIn = true;
      return json(200, { token: 'sso-token', token_type: 'Bearer', expires_in: 3600 });
    }
    return refusal(
      401,
      'INVALID_CREDENTIALS',
      'the single sign-on code is unknown, was used already or expired',
    );
  }
  if (url === '/iam/me')
    return signedIn
      ? json(200, signedInWith(['iam:settings:read', 'iam:settings:manage', 'iam:users:manage']))
      : refusal(401, 'UNAUTHENTICATED', 'sign in');
  if (url === '/iam/settings') return undefined;
  if (url === '/iam/sso' && method === 'GET') return json(200, SSO);
  if (url === '/iam/sso' && method === 'PUT') return json(200, { ...SSO, ...(call.body as object) });
  if (url === '/iam/groups') return json(200, { items: [] });
  return undefined;
}

beforeEach(() => {
  signedIn = false;
  session.clear();
  calls = stubFetch((call) => routes(call) ?? consoleDefaults(call));
});

cleanUpAfterEach();

describe('single sign-on', () => {
  it('exchanges the one-time code from the address once, and removes it', async () => {
    renderApp('/#sso_code=one-time-code');
    await waitFor(() => expect(signedIn).toBe(true));
    const logins = calls.filter((c) => c.url === '/iam/login');
    expect(logins.map((c) => c.body)).toEqual([{ auth_mode: 'sso', code: 'one-time-code' }]);
    expect(window.location.hash).toBe('');
    await waitFor(() => expect(sessionStorage.getItem('latchkey.console.token')).toBe('sso-token'));
  });

  it('shows why single sign-on failed', async () => {
    renderApp('/#sso_error=SSO_NO_ACCOUNT&sso_message=nobody%40example.com%20has%20no%20user');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('nobody@example.com has no user');
    expect(alert.textContent).toContain('SSO_NO_ACCOUNT');
    expect(calls.filter((c) => c.url === '/iam/login')).toEqual([]);
  });

  it('asks for the email before leaving for the identity provider', async () => {
    renderApp('/');
    fireEvent.click(await screen.findByRole('button', { name: 'Sign in with SSO' }));
    await screen.findByText(/Type your work email above first/);
  });

  it('IAM settings shows the redirect URI and keeps the stored client secret', async () => {
    signedIn = true;
    sessionStorage.setItem('latchkey.console.token', 'tok');
    renderApp('/settings');
    const uri = await screen.findByTestId('sso-redirect-uri');
    expect(uri.textContent).toBe(SSO.redirectUri);
    fireEvent.change(screen.getByLabelText(/Email domains/), {
      target: { value: 'example.com, corp.example' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Save single sign-on' }));
    await screen.findByText('Single sign-on saved.');
    const put = calls.find((c) => c.url === '/iam/sso' && c.method === 'PUT');
    expect(put?.body).toEqual({
      issuer: SSO.issuer,
      clientId: SSO.clientId,
      enabled: true,
      jitEnabled: false,
      jitGroupId: null,
      allowedDomains: ['example.com', 'corp.example'],
    });
  });
});
