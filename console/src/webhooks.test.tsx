// @vitest-environment happy-dom
/**
 * The Webhooks page: adding an endpoint sends the URL and the events the form shows and reveals the
 * signing secret once; an endpoint's page shows why it was disabled, turns it on again, sends a test
 * event and reads the delivery log; the page is offered only with iam:webhooks:read, and changes only
 * with iam:webhooks:manage. fetch is mocked with a small router.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { session, type WebhookDeliveryView, type WebhookView } from './api';
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

const SECRET = `whsec_${'A'.repeat(43)}=`;
let calls: Call[] = [];
let permissions: string[] = [];
let hooks: WebhookView[] = [];
let log: WebhookDeliveryView[] = [];

const hookWith = (overrides: Partial<WebhookView> = {}): WebhookView => ({
  id: 'whk_one',
  url: 'https://hooks.example.com/latchkey',
  description: '',
  events: ['access_key.expiring'],
  enabled: true,
  disabledReason: null,
  consecutiveFailures: 0,
  failingSince: null,
  lastSuccessAt: null,
  createdAt: STAMP,
  updatedAt: STAMP,
  ...overrides,
});

function routes(call: Call): Response | undefined {
  const { url, method } = call;
  if (url === '/iam/me') return json(200, signedInWith(permissions));
  if (url === '/iam/webhooks' && method === 'GET') return json(200, { items: hooks });
  if (url === '/iam/webhooks' && method === 'POST') {
    const created = hookWith({ ...(call.body as object), id: 'whk_new' });
    hooks = [...hooks, created];
    return json(201, { ...created, secret: SECRET });
  }
  const deliveries = /^\/iam\/webhooks\/([^/]+)\/deliveries/.exec(url);
  if (deliveries) return json(200, { items: log, total: log.length, limit: 50, offset: 0 });
  const test = /^\/iam\/webhooks\/([^/]+)\/test$/.exec(url);
  if (test && method === 'POST') {
    const queued: WebhookDeliveryView = {
      id: 'msg_test',
      eventId: 'evt_test',
      eventType: 'webhook.test',
      status: 'pending',
      attempts: 0,
      nextAttemptAt: STAMP,
      lastStatusCode: null,
      lastError: null,
      createdAt: STAMP,
      deliveredAt: null,
    };
    log = [queued, ...log];
    return json(202, queued);
  }
  const one = /^\/iam\/webhooks\/([^/]+)$/.exec(url);
  const found = one ? hooks.find((h) => h.id === one[1]) : undefined;
  if (one && !found) return refusal(404, 'NOT_FOUND', 'webhook not found');
  if (found && method === 'GET') return json(200, found);
  if (found && method === 'PATCH') {
    const body = call.body as { enabled?: boolean };
    const changed = {
      ...found,
      ...body,
      ...(body.enabled ? { disabledReason: null, consecutiveFailures: 0 } : {}),
    };
    hooks = hooks.map((h) => (h.id === found.id ? changed : h));
    return json(200, changed);
  }
  return undefined;
}

beforeEach(() => {
  permissions = ['iam:webhooks:read', 'iam:webhooks:manage'];
  hooks = [];
  log = [];
  session.clear();
  sessionStorage.setItem('latchkey.console.token', 'tok');
  calls = stubFetch((call) => routes(call) ?? consoleDefaults(call));
});

cleanUpAfterEach();

const writes = () =>
  calls
    .filter((c) => c.method !== 'GET' && c.url.startsWith('/iam/webhooks'))
    .map(({ method, url, body }) => ({ method, url, body }));

describe('webhooks', () => {
  it('adds an endpoint with the events chosen, and shows its secret once', async () => {
    renderApp('/webhooks');
    await screen.findByText('No webhook endpoints yet');
    fireEvent.click(screen.getByRole('button', { name: 'Add endpoint' }));
    const dialog = await screen.findByRole('dialog', { name: 'Add webhook endpoint' });
    fireEvent.change(within(dialog).getByLabelText(/^Endpoint URL/), {
      target: { value: ' https://hooks.example.com/new ' },
    });
    fireEvent.click(within(dialog).getByLabelText('Key deleted (access_key.deleted)'));
    fireEvent.click(within(dialog).getByLabelText('Every audit log entry (audit.*)'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add endpoint' }));
    const reveal = await screen.findByRole('dialog', { name: 'Signing secret' });
    expect(within(reveal).getByTestId('webhook-secret').textContent).toBe(SECRET);
    expect(writes()).toEqual([
      {
        method: 'POST',
        url: '/iam/webhooks',
        body: {
          url: 'https://hooks.example.com/new',
          events: ['access_key.expiring', 'access_key.deleted', 'audit.*'],
          description: '',
        },
      },
    ]);
    fireEvent.click(within(reveal).getByRole('button', { name: 'I have stored it' }));
    // On to the endpoint's page: the secret is nowhere any more.
    await screen.findByRole('heading', { name: 'https://hooks.example.com/new' });
    expect(document.body.textContent).not.toContain(SECRET);
  });

  it("shows a disabled endpoint's reason, enables it, sends a test event and lists it in the log", async () => {
    hooks = [
      hookWith({
        enabled: false,
        disabledReason: 'disabled after 15 failed attempts since 2026-01-01T00:00:00.000Z; last: HTTP 500',
        consecutiveFailures: 15,
      }),
    ];
    renderApp('/webhooks/whk_one');
    expect(await screen.findByText(/disabled after 15 failed attempts/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Send test event' }) as HTMLButtonElement).disabled).toBe(
      true,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Enable' }));
    await screen.findByRole('button', { name: 'Disable' });
    fireEvent.click(screen.getByRole('button', { name: 'Send test event' }));
    const row = await screen.findByTestId('delivery-row');
    expect(row.textContent).toContain('webhook.test');
    expect(row.textContent).toContain('pending');
    expect(writes()).toEqual([
      { method: 'PATCH', url: '/iam/webhooks/whk_one', body: { enabled: true } },
      { method: 'POST', url: '/iam/webhooks/whk_one/test', body: {} },
    ]);
  });

  it('offers no changes without iam:webhooks:manage, and no page without iam:webhooks:read', async () => {
    permissions = ['iam:webhooks:read'];
    hooks = [hookWith()];
    renderApp('/webhooks/whk_one');
    await screen.findByRole('heading', { name: 'https://hooks.example.com/latchkey' });
    expect(screen.queryByRole('button', { name: 'Send test event' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete' })).toBeNull();
    expect(screen.getByRole('link', { name: 'Webhooks' })).toBeTruthy();
  });

  it('is in the navigation only with iam:webhooks:read', async () => {
    permissions = ['iam:keys:read'];
    renderApp('/keys');
    await waitFor(() => expect(screen.getByRole('link', { name: 'Access keys' })).toBeTruthy());
    expect(screen.queryByRole('link', { name: 'Webhooks' })).toBeNull();
  });
});
