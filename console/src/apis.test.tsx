// @vitest-environment happy-dom
/**
 * The APIs page: registering an API with its routes (added, removed and reordered; the payload is
 * what the form shows), editing with PATCH of what changed, deleting after a confirmation, the
 * server's refusals shown under the form and on the field they name, and an API's details:
 * the roles that grant each permission and Test Connection signing in the browser. fetch is
 * mocked with a small router.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError, type ApiView, session } from './api';
import { fieldOfError } from './components/ApiForm';
import { connectionHint, requestPath, wildcardsOf } from './components/ApiTestConnection';
import {
  ACCESS_KEY,
  type Call,
  cleanUpAfterEach,
  consoleDefaults,
  json,
  refusal,
  renderApp,
  SECRET,
  STAMP,
  signedInWith,
  stubFetch,
} from './test-helpers';

let calls: Call[] = [];
let answer: (call: Call) => Response | undefined | Promise<Response | undefined> = () => undefined;
let permissions: string[] = [];
let apis: ApiView[] = [];

const orders = (overrides: Partial<ApiView> = {}): ApiView => ({
  id: 'api_orders',
  tenantId: '111111111111',
  name: 'orders',
  basePath: '/api/orders',
  upstream: 'http://orders.internal:8080',
  routes: [
    { method: 'GET', path: '/items/*', permission: 'orders:read' },
    { method: 'POST', path: '/items', permission: 'orders:write' },
    { method: 'GET', path: '/files/*', permission: 'orders:files' },
  ],
  allowUnsignedPayload: false,
  timeoutMs: 30_000,
  permissions: [
    {
      permission: 'orders:read',
      grantedBy: [
        { id: 'rol_admin', name: 'Administrator' },
        { id: 'rol_ro', name: 'DataReadOnly' },
      ],
    },
    { permission: 'orders:write', grantedBy: [{ id: 'rol_admin', name: 'Administrator' }] },
    { permission: 'orders:files', grantedBy: [] },
  ],
  createdAt: STAMP,
  updatedAt: STAMP,
  ...overrides,
});

/** The registered APIs as the server keeps them: listed, created, changed, deleted. */
function apiRoutes(call: Call): Response | undefined {
  const { url, method } = call;
  if (url === '/iam/me') return json(200, signedInWith(permissions));
  if (url === '/iam/apis' && method === 'GET') return json(200, { items: apis });
  if (url === '/iam/apis' && method === 'POST') {
    const body = call.body as Omit<ApiView, 'id'>;
    const created = orders({ ...body, id: 'api_new', permissions: [] });
    apis = [...apis, created];
    return json(201, created);
  }
  const one = /^\/iam\/apis\/([^/]+)$/.exec(url);
  const found = one ? apis.find((a) => a.id === one[1]) : undefined;
  if (one && !found) return refusal(404, 'NOT_FOUND', 'no such API');
  if (found && method === 'GET') return json(200, found);
  if (found && method === 'PATCH') {
    const changed = { ...found, ...(call.body as object) };
    apis = apis.map((a) => (a.id === found.id ? changed : a));
    return json(200, changed);
  }
  if (found && method === 'DELETE') {
    apis = apis.filter((a) => a.id !== found.id);
    return new Response(null, { status: 204 });
  }
  return undefined;
}

beforeEach(() => {
  answer = () => undefined;
  permissions = ['iam:apis:read', 'iam:apis:manage', 'iam:roles:read', 'orders:read'];
  apis = [];
  session.clear();
  sessionStorage.setItem('latchkey.console.token', 'tok');
  calls = stubFetch(async (call) => (await answer(call)) ?? apiRoutes(call) ?? consoleDefaults(call));
});

cleanUpAfterEach();

/** What the console changed: method, URL and body of each request to the admin API that is not a GET. */
const writes = () =>
  calls
    .filter((c) => c.method !== 'GET' && c.url.startsWith('/iam/'))
    .map(({ method, url, body }) => ({ method, url, body }));

const type = (element: HTMLElement, value: string) => fireEvent.change(element, { target: { value } });

const routeRow = (dialog: HTMLElement, n: number) =>
  within(dialog).getByRole('group', { name: `Route ${n}` });

/** The rows of the routes editor, as the form shows them. */
const shownRoutes = (dialog: HTMLElement) =>
  within(dialog)
    .getAllByRole('group', { name: /^Route \d+$/ })
    .map((group) => {
      const g = within(group);
      return [
        (g.getByLabelText('Method') as HTMLSelectElement).value,
        (g.getByLabelText(/^Path/) as HTMLInputElement).value,
        (g.getByLabelText(/^Permission/) as HTMLInputElement).value,
      ].join(' ');
    });

function fillRoute(dialog: HTMLElement, n: number, method: string, path: string, permission: string) {
  const row = within(routeRow(dialog, n));
  fireEvent.change(row.getByLabelText('Method'), { target: { value: method } });
  type(row.getByLabelText(/^Path/), path);
  type(row.getByLabelText(/^Permission/), permission);
}

async function openRegister() {
  renderApp('/apis');
  fireEvent.click(await screen.findByRole('button', { name: 'Register API' }));
  const dialog = await screen.findByRole('dialog', { name: 'Register API' });
  type(within(dialog).getByLabelText(/^Name/), 'orders');
  type(within(dialog).getByLabelText(/^Base path/), '/api/orders');
  type(within(dialog).getByLabelText(/^Upstream URL/), 'http://orders.internal:8080');
  return dialog;
}

describe('registering an API', () => {
  it('adds, reorders and removes routes, and sends exactly what the form shows', async () => {
    const dialog = await openRegister();
    await screen.findByText('No APIs registered yet');
    fillRoute(dialog, 1, 'POST', '/items', 'orders:write');
    const add = within(dialog).getByRole('button', { name: 'Add route' });

    fireEvent.click(add);
    // The new row's path takes focus.
    await waitFor(() =>
      expect(document.activeElement).toBe(within(routeRow(dialog, 2)).getByLabelText(/^Path/)),
    );
    fillRoute(dialog, 2, 'DELETE', '/items/*', 'orders:admin');
    fireEvent.click(add);
    fillRoute(dialog, 3, 'GET', '/items/*', 'orders:read');
    expect(shownRoutes(dialog)).toEqual([
      'POST /items orders:write',
      'DELETE /items/* orders:admin',
      'GET /items/* orders:read',
    ]);

    // The first route cannot move up, the last not down, and each button says which route it moves.
    expect(
      (within(dialog).getByRole('button', { name: 'Move route 1 up' }) as HTMLButtonElement).disabled,
    ).toBe(true);
    expect(
      (within(dialog).getByRole('button', { name: 'Move route 3 down' }) as HTMLButtonElement).disabled,
    ).toBe(true);

    // GET moves to the top in two steps; focus stays on its Move up button, then (at the top) Move down.
    fireEvent.click(within(dialog).getByRole('button', { name: 'Move route 3 up' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Move route 2 up' })),
    );
    expect(screen.getByTestId('routes-announcement').textContent).toBe(
      'Route 3 moved up: it is now route 2 of 3.',
    );
    fireEvent.click(within(dialog).getByRole('button', { name: 'Move route 2 up' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Move route 1 down' })),
    );
    expect(shownRoutes(dialog)).toEqual([
      'GET /items/* orders:read',
      'POST /items orders:write',
      'DELETE /items/* orders:admin',
    ]);
    // And POST moves down below DELETE.
    fireEvent.click(within(dialog).getByRole('button', { name: 'Move route 2 down' }));
    expect(shownRoutes(dialog)).toEqual([
      'GET /items/* orders:read',
      'DELETE /items/* orders:admin',
      'POST /items orders:write',
    ]);

    // DELETE goes; focus moves to the Remove button of the route now in its place.
    fireEvent.click(within(dialog).getByRole('button', { name: 'Remove route 2' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Remove route 2' })),
    );
    expect(shownRoutes(dialog)).toEqual(['GET /items/* orders:read', 'POST /items orders:write']);

    fireEvent.click(within(dialog).getByRole('switch', { name: /Allow unsigned payloads/ }));
    type(within(dialog).getByLabelText(/^Upstream timeout/), '5000');
    expect(writes()).toEqual([]);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Register API' }));

    // Registered: the API's page opens.
    await screen.findByRole('heading', { name: 'orders', level: 2 });
    expect(window.location.pathname).toBe('/console/apis/api_new');
    expect(writes()).toEqual([
      {
        method: 'POST',
        url: '/iam/apis',
        body: {
          name: 'orders',
          basePath: '/api/orders',
          upstream: 'http://orders.internal:8080',
          routes: [
            { method: 'GET', path: '/items/*', permission: 'orders:read' },
            { method: 'POST', path: '/items', permission: 'orders:write' },
          ],
          allowUnsignedPayload: true,
          timeoutMs: 5000,
        },
      },
    ]);
  });

  it('keeps at least one route: the only one cannot be removed', async () => {
    const dialog = await openRegister();
    const remove = within(dialog).getByRole('button', { name: 'Remove route 1' }) as HTMLButtonElement;
    expect(remove.disabled).toBe(true);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add route' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Remove route 2' }));
    // No route left to take its place: focus goes to Add route.
    await waitFor(() =>
      expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Add route' })),
    );
    expect(within(dialog).getAllByRole('group', { name: /^Route \d+$/ })).toHaveLength(1);
  });

  it("shows the server's refusal under the form and on the route field it names, which takes focus", async () => {
    answer = (c) =>
      c.method === 'POST' && c.url === '/iam/apis'
        ? refusal(400, 'INVALID_API', 'routes[1].path: a route path starts with / (at most 300 characters)')
        : undefined;
    const dialog = await openRegister();
    fillRoute(dialog, 1, 'GET', '/items/*', 'orders:read');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add route' }));
    fillRoute(dialog, 2, 'POST', 'items', 'orders:write');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Register API' }));

    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toContain('INVALID_API');
    expect(alert.textContent).toContain('routes[1].path: a route path starts with /');
    const path = within(routeRow(dialog, 2)).getByLabelText(/^Path/) as HTMLInputElement;
    await waitFor(() => expect(document.activeElement).toBe(path));
    expect(path.getAttribute('aria-invalid')).toBe('true');
    expect(routeRow(dialog, 2).textContent).toContain('a route path starts with /');
    // The dialog stays open with what was typed.
    expect(screen.getByRole('dialog', { name: 'Register API' })).toBeTruthy();
    expect(path.value).toBe('items');

    // Corrected, the field's error goes at once.
    type(path, '/items');
    expect(path.getAttribute('aria-invalid')).not.toBe('true');
  });

  it('puts a taken base path on the base path field', async () => {
    answer = (c) =>
      c.method === 'POST'
        ? refusal(409, 'BASE_PATH_TAKEN', 'the base path /api/orders overlaps /api of the API legacy')
        : undefined;
    const dialog = await openRegister();
    fillRoute(dialog, 1, 'GET', '/*', 'orders:read');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Register API' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('BASE_PATH_TAKEN');
    const basePath = within(dialog).getByLabelText(/^Base path/);
    await waitFor(() => expect(document.activeElement).toBe(basePath));
    expect(basePath.getAttribute('aria-invalid')).toBe('true');
  });

  it('lists the permissions the signed-in person lacks when the server refuses an escalation', async () => {
    answer = (c) =>
      c.method === 'POST'
        ? refusal(403, 'PRIVILEGE_ESCALATION', 'you do not hold every permission the routes declare', {
            missingPermissions: ['orders:admin'],
          })
        : undefined;
    const dialog = await openRegister();
    fillRoute(dialog, 1, 'DELETE', '/items/*', 'orders:admin');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Register API' }));
    const missing = await within(dialog).findByTestId('missing-permissions');
    expect(missing.textContent).toBe('orders:admin');
  });
});

describe('the APIs list', () => {
  it('shows each API with its base path, upstream and number of routes', async () => {
    apis = [orders()];
    renderApp('/apis');
    const table = await screen.findByRole('table', { name: 'APIs' });
    const cells = within(table)
      .getAllByRole('cell')
      .map((c) => c.textContent);
    expect(cells.slice(0, 4)).toEqual(['orders', '/api/orders', 'http://orders.internal:8080', '3']);
    expect(within(table).getByRole('link', { name: 'orders' }).getAttribute('href')).toBe(
      '/console/apis/api_orders',
    );
  });

  it('edits with the same form and sends only what changed', async () => {
    apis = [orders()];
    renderApp('/apis');
    fireEvent.click(await screen.findByRole('button', { name: 'Edit API orders' }));
    const dialog = await screen.findByRole('dialog', { name: 'Edit API orders' });
    expect(shownRoutes(dialog)).toEqual([
      'GET /items/* orders:read',
      'POST /items orders:write',
      'GET /files/* orders:files',
    ]);
    type(within(dialog).getByLabelText(/^Upstream URL/), 'https://orders.example.com');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Move route 3 up' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save API' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Edit API orders' })).toBeNull());
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        url: '/iam/apis/api_orders',
        body: {
          upstream: 'https://orders.example.com',
          routes: [
            { method: 'GET', path: '/items/*', permission: 'orders:read' },
            { method: 'GET', path: '/files/*', permission: 'orders:files' },
            { method: 'POST', path: '/items', permission: 'orders:write' },
          ],
        },
      },
    ]);
    await screen.findByText('https://orders.example.com');
  });

  it('deletes only after confirming', async () => {
    apis = [orders()];
    renderApp('/apis');
    fireEvent.click(await screen.findByRole('button', { name: 'Delete API orders' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete API' });
    expect(dialog.textContent).toContain('/api/orders');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Delete API' })).toBeNull());
    expect(writes()).toEqual([]);
    fireEvent.click(screen.getByRole('button', { name: 'Delete API orders' }));
    fireEvent.click(
      within(await screen.findByRole('dialog', { name: 'Delete API' })).getByRole('button', {
        name: 'Delete API',
      }),
    );
    await screen.findByText('No APIs registered yet');
    expect(writes()).toEqual([{ method: 'DELETE', url: '/iam/apis/api_orders', body: undefined }]);
  });

  it('offers no changes without iam:apis:manage', async () => {
    permissions = ['iam:apis:read'];
    apis = [orders()];
    renderApp('/apis');
    await screen.findByRole('link', { name: 'orders' });
    expect(screen.queryByRole('button', { name: 'Register API' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Edit API orders' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete API orders' })).toBeNull();
  });

  it('is in the navigation only with iam:apis:read', async () => {
    apis = [orders()];
    renderApp('/apis');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    expect(within(nav).getByRole('link', { name: 'APIs' }).getAttribute('aria-current')).toBe('page');
  });
});

describe("an API's details", () => {
  it('lists its routes in order and the roles granting each permission, or where to add one', async () => {
    apis = [orders()];
    renderApp('/apis/api_orders');
    await screen.findByRole('heading', { name: 'orders', level: 2 });
    const routes = screen.getByRole('table', { name: 'Routes of orders, in order' });
    expect(
      within(routes)
        .getAllByRole('row')
        .slice(1)
        .map((r) => r.textContent),
    ).toEqual(['1GET/items/*orders:read', '2POST/itemsorders:write', '3GET/files/*orders:files']);
    const table = screen.getByRole('table', { name: /roles that grant them/ });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      'orders:readAdministratorDataReadOnly',
      'orders:writeAdministrator',
      'orders:filesNo role grants this yet. Add it to a role in Groups and roles.',
    ]);
    expect(
      within(rows[2] as HTMLElement)
        .getByRole('link', { name: 'Groups and roles' })
        .getAttribute('href'),
    ).toBe('/console/groups');
  });

  it('Test Connection signs GET of the chosen route in the browser and shows the upstream’s answer', async () => {
    apis = [orders()];
    const origin = window.location.origin;
    answer = (c) =>
      c.url.startsWith(origin)
        ? new Response(JSON.stringify({ ok: true, path: '/items/42' }), {
            status: 200,
            headers: { 'content-type': 'application/json' },
          })
        : c.url.startsWith('/iam/sample-curl')
          ? json(200, { sigv4: `curl -sS --aws-sigv4 'aws:amz:r:s' '${origin}/api/orders/items/42'` })
          : undefined;
    renderApp('/apis/api_orders');
    await screen.findByRole('heading', { name: 'Test Connection' });
    // Only GET routes can be picked.
    const route = screen.getByLabelText('Route') as HTMLSelectElement;
    expect([...route.options].map((o) => o.textContent)).toEqual([
      'GET /items/* (orders:read)',
      'GET /files/* (orders:files)',
    ]);
    // The final * takes the rest of the path.
    expect(screen.getByLabelText(/^Rest of the path/)).toBeTruthy();
    type(screen.getByLabelText(/^Rest of the path/), '42');
    type(screen.getByLabelText(/^Access key ID/), ACCESS_KEY);
    type(screen.getByLabelText(/^Secret key/), SECRET);
    fireEvent.click(screen.getByRole('button', { name: 'Test Connection' }));

    const result = await screen.findByTestId('api-test-result');
    expect(result.textContent).toContain('HTTP 200');
    expect(screen.getByTestId('api-test-body').textContent).toBe('{"ok":true,"path":"/items/42"}');
    const sent = calls.find((c) => c.url.startsWith(origin));
    expect(sent?.url).toBe(`${origin}/api/orders/items/42`);
    expect(sent?.method).toBe('GET');
    expect(sent?.token).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/ap-southeast-5/sqlaccount/aws4_request, `,
      ),
    );
    await screen.findByTestId('api-sample-curl');
    // The secret went nowhere: not to latchkey's admin API, not in any URL or body.
    for (const c of calls) expect(JSON.stringify(c)).not.toContain(SECRET);
    expect(JSON.stringify({ ...sessionStorage, ...localStorage })).not.toContain(SECRET);
  });

  it("Test Connection explains latchkey's refusal by its code", async () => {
    apis = [orders()];
    const origin = window.location.origin;
    answer = (c) =>
      c.url.startsWith(origin)
        ? refusal(403, 'AccessDenied', 'This needs the permission orders:files.', {
            missingPermission: 'orders:files',
          })
        : undefined;
    renderApp('/apis/api_orders');
    fireEvent.change(await screen.findByLabelText('Route'), { target: { value: '1' } });
    type(screen.getByLabelText(/^Rest of the path/), 'reports/2026 q1.pdf');
    type(screen.getByLabelText(/^Access key ID/), ACCESS_KEY);
    type(screen.getByLabelText(/^Secret key/), SECRET);
    fireEvent.click(screen.getByRole('button', { name: 'Test Connection' }));
    const result = await screen.findByTestId('api-test-result');
    expect(result.textContent).toContain('HTTP 403');
    expect(screen.getByTestId('api-test-code').textContent).toBe('AccessDenied');
    expect(screen.getByTestId('api-test-hint').textContent).toContain('(it needs orders:files)');
    expect(calls.find((c) => c.url.startsWith(origin))?.url).toBe(
      `${origin}/api/orders/files/reports/2026%20q1.pdf`,
    );
  });

  it('deletes from its page after confirming, then goes back to the list', async () => {
    apis = [orders()];
    renderApp('/apis/api_orders');
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete API' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Delete API' }));
    await screen.findByRole('heading', { name: 'APIs', level: 2 });
    expect(window.location.pathname).toBe('/console/apis');
    expect(writes()).toEqual([{ method: 'DELETE', url: '/iam/apis/api_orders', body: undefined }]);
  });
});

describe('helpers', () => {
  it('finds the field a refusal names', () => {
    const e = (code: string, message: string) => new ApiError(400, code, message);
    expect(fieldOfError(e('INVALID_API', 'routes[2].permission: "X" is not a permission name'))).toEqual({
      field: 'routes.2.permission',
      message: '"X" is not a permission name',
    });
    expect(fieldOfError(e('INVALID_API', 'upstream: the URL must be http:// or https://'))).toEqual({
      field: 'upstream',
      message: 'the URL must be http:// or https://',
    });
    expect(fieldOfError(e('VALIDATION_FAILED', 'body.timeoutMs must be >= 100'))).toEqual({
      field: 'timeoutMs',
      message: 'must be >= 100',
    });
    expect(
      fieldOfError(e('VALIDATION_FAILED', 'body.routes/0/path must NOT have fewer than 1 characters')),
    ).toEqual({ field: 'routes.0.path', message: 'must NOT have fewer than 1 characters' });
    expect(fieldOfError(e('ALREADY_EXISTS', 'an API named x already exists'))?.field).toBe('name');
    expect(fieldOfError(e('NOT_FOUND', 'no such API'))).toBeNull();
    expect(fieldOfError(new Error('x'))).toBeNull();
  });

  it('builds the request path of a route from its wildcards', () => {
    expect(wildcardsOf('/items/*/notes/*')).toEqual(['one', 'rest']);
    expect(requestPath('/api/o', '/items/*/notes/*', ['a b', 'x/y/'])).toBe('/api/o/items/a%20b/notes/x/y');
    expect(requestPath('/api/o', '/*', [])).toBe('/api/o');
    expect(requestPath('/api/o', '/', [])).toBe('/api/o');
    expect(requestPath('/api/o', '/health', [])).toBe('/api/o/health');
  });

  it('hints by code for 401, 403, 404, 502 and 504', () => {
    const api = orders();
    const hint = (status: number, code?: string) =>
      String(
        connectionHint(
          { status, statusText: '', details: {}, contentType: null, body: '', truncated: false, code },
          api,
        ),
      );
    expect(hint(401, 'UNAUTHENTICATED')).toContain('no signature');
    expect(hint(403, 'SignatureDoesNotMatch')).toContain('secret key');
    expect(hint(404, 'NOT_FOUND')).toContain("key's tenant");
    expect(hint(404)).toContain('the upstream has nothing at this path');
    expect(hint(502, 'UPSTREAM_UNAVAILABLE')).toContain(
      'could not reach the upstream http://orders.internal:8080',
    );
    expect(hint(504, 'UPSTREAM_TIMEOUT')).toContain('within 30 s');
    expect(
      connectionHint(
        { status: 200, statusText: 'OK', details: {}, contentType: null, body: '', truncated: false },
        api,
      ),
    ).toBeNull();
  });
});
