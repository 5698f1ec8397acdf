/**
 * What the console's tests share: answers for a mocked fetch that records each request, rendering
 * the whole console or one component in it, and sample data in the contract's shapes. Not a test
 * file itself (vitest runs `*.test.ts(x)` only).
 */
import { MantineProvider } from '@mantine/core';
import { cleanup, configure, render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, vi } from 'vitest';
import { App } from './App';
import type { KeyView, Me } from './api';
import { ApiAccessPanel } from './components/ApiAccessPanel';
import { DEFAULT_SCOPE } from './format';
import type { Principal } from './principals';
import { type ConsoleContext, Ctx, permissionAllows } from './shared';

// findBy… and waitFor give up after 5 s, not testing-library's 1 s: the full suite runs four
// workers on two cores beside browsers and servers, and a page's first render once took longer.
configure({ asyncUtilTimeout: 5_000 });

// happy-dom has no document.fonts (a FontFaceSet, in every browser); Mantine's autosizing
// Textarea listens on it for fonts that finish loading.
if (typeof document !== 'undefined' && !('fonts' in document)) {
  Object.defineProperty(document, 'fonts', { value: new EventTarget(), configurable: true });
}

// happy-dom lays nothing out, so recharts warns that each chart has no size (charts are drawn and
// checked in Chromium, test/e2e/console-usage.e2e.test.ts).
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('The width(0) and height(0) of chart')) return;
  warn(...args);
};

export const json = (status: number, body: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

/** An error answer as the server writes it. */
export const refusal = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
  json(status, { error: { code, message, requestId: 'req_1', ...extra } });

/** A whole list as one page. */
export const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 200, offset: 0 });

/** A request the console sent. */
export interface Call {
  method: string;
  url: string;
  /** The JSON body, parsed (undefined without one). */
  body: unknown;
  /** The Bearer token it carried. */
  token: string | null;
}

/**
 * Replaces fetch: each request is recorded in the array returned and answered by `answer`; what
 * `answer` leaves (undefined) is refused with 404 NOT_FOUND naming the request.
 */
export function stubFetch(
  answer: (call: Call) => Response | undefined | Promise<Response | undefined>,
): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const headers = (init.headers ?? {}) as Record<string, string>;
      const call: Call = {
        method: init.method ?? 'GET',
        url,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        token: headers.authorization?.replace(/^Bearer /, '') ?? null,
      };
      calls.push(call);
      return (await answer(call)) ?? refusal(404, 'NOT_FOUND', `no mock for ${call.method} ${url}`);
    }),
  );
  return calls;
}

/** What every page of the console asks besides its own: the version, and the bell's notifications (none). */
export function consoleDefaults(call: Call): Response | undefined {
  if (call.url === '/version') return json(200, { name: 'latchkey', version: '0.1.0' });
  if (call.url.startsWith('/iam/notifications')) return json(200, { items: [] });
  return undefined;
}

/** Unmounts what a test rendered and gives fetch (and any other stubbed global) back. */
export function cleanUpAfterEach(): void {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });
}

/** The whole console at `/console<path>`. */
export function renderApp(path: string) {
  window.history.replaceState(null, '', `/console${path}`);
  return render(
    <MantineProvider env="test">
      <App />
    </MantineProvider>,
  );
}

/** The text tied to a control as its accessible description. */
export function descriptionOf(element: HTMLElement): string {
  return (element.getAttribute('aria-describedby') ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? '')
    .join(' ');
}

export const TENANT = '123456789012';
export const ACCESS_KEY = 'LKIA7Q3M9XK2VB8RT4HN0CJ5WD';
export const SECRET = 'lksk_0123456789abcdefghijABCDEFGHIJklmnopqrst';
export const STAMP = '2026-01-01T00:00:00.000Z';

/** The signed-in person: an administrator, signed in with a password, unless `overrides` say otherwise. */
export const meWith = (overrides: Partial<Me> = {}): Me => ({
  id: 'usr_admin',
  tenantId: TENANT,
  email: 'admin@example.com',
  name: 'Admin',
  principalType: 'user',
  authenticatedWith: 'password',
  accessKeyId: null,
  // GET /iam/me lists concrete permissions (an administrator's `*` expanded).
  permissions: [
    'agent:read',
    'agent:write',
    'iam:users:read',
    'iam:users:manage',
    'iam:service-accounts:read',
    'iam:service-accounts:manage',
    'iam:keys:read',
    'iam:keys:manage',
    'iam:groups:read',
    'iam:roles:read',
    'iam:settings:read',
  ],
  groups: [],
  roles: [],
  ...overrides,
});

/** The person signed in to the whole console (App tests), holding `permissions`. */
export const signedInWith = (permissions: string[]): Me =>
  meWith({ id: 'usr_me', tenantId: '111111111111', email: 'me@example.com', name: 'Me', permissions });

/** One component inside the console's context, signed in as `me`. */
export function wrap(children: ReactNode, me: Me = meWith()) {
  const ctx: ConsoleContext = {
    me,
    scope: DEFAULT_SCOPE,
    can: (p) => permissionAllows(me.permissions, p),
    navigate: () => undefined,
  };
  return (
    <MantineProvider env="test">
      <Ctx.Provider value={ctx}>{children}</Ctx.Provider>
    </MantineProvider>
  );
}

/** The API Access panel of a user or service account whose permissions the signed-in person holds. */
export const accessPanel = (owner: Principal & { label: string }, ownerEmail: string | null = null) =>
  wrap(<ApiAccessPanel owner={owner} ownerEmail={ownerEmail} ownerWithinYourPermissions />);

/** An active access key "laptop" of ana@example.com, never used, with no groups or roles. */
export const keyWith = (overrides: Partial<KeyView> = {}): KeyView => ({
  accessKeyId: ACCESS_KEY,
  tenantId: TENANT,
  name: 'laptop',
  type: 'access',
  status: 'active',
  state: 'active',
  expiresAt: '2030-01-01T00:00:00.000Z',
  daysLeft: 1000,
  owner: { type: 'user', id: 'usr_ana', label: 'ana@example.com' },
  createdAt: STAMP,
  createdBy: { type: 'user', id: 'usr_admin' },
  updatedAt: STAMP,
  updatedBy: { type: 'user', id: 'usr_admin' },
  lastUsedAt: null,
  lastUsedIp: null,
  lastUsedApiId: null,
  lastUsedDecision: null,
  secretVersion: 1,
  quarantine: null,
  groups: [],
  roles: [],
  deactivatedByManager: false,
  rateLimit: null,
  quota: null,
  allowedCidrs: null,
  ...overrides,
});
