// @vitest-environment happy-dom
/**
 * The audit log names who did what to whom, and every date on screen (audit log, notification
 * bell, lists) is local and readable: no ISO-8601 string reaches the page.
 */
import { MantineProvider } from '@mantine/core';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError, session } from './api';
import { formatDateTime } from './format';
import { ErrorAlert } from './shared';
import {
  cleanUpAfterEach,
  consoleDefaults,
  json,
  page,
  renderApp,
  signedInWith,
  stubFetch,
} from './test-helpers';

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

const ME = signedInWith(['iam:audit:read', 'iam:users:read', 'iam:service-accounts:read']);

const ENTRIES = [
  {
    id: 'aud_3',
    at: '2026-12-04T06:05:00.000Z',
    actor: { type: 'user', id: 'usr_me', name: 'Mia Admin' },
    action: 'access_key.update',
    target: { type: 'access_key', id: 'LKIA7Q3M9XK2VB8RT4HN0CJ5WD', name: 'nightly-etl' },
    sourceIp: '127.0.0.1',
    requestId: 'req_3',
    before: { name: 'etl' },
    after: { name: 'nightly-etl' },
  },
  {
    id: 'aud_2',
    at: '2026-12-03T22:00:00.000Z',
    actor: { type: 'service_account', id: 'sac_bot', name: 'etl-bot' },
    action: 'user.delete',
    target: { type: 'user', id: 'usr_gone', name: null },
    sourceIp: null,
    requestId: null,
    before: null,
    after: null,
  },
  {
    id: 'aud_1',
    at: '2026-12-01T00:00:00.000Z',
    actor: { type: 'system', id: 'cli', name: null },
    action: 'settings.update',
    target: { type: 'tenant', id: '111111111111', name: 'Acme' },
    sourceIp: null,
    requestId: null,
    before: null,
    after: null,
  },
];

const NOTIFICATIONS = [
  {
    id: 'ntf_1',
    kind: 'key_expiring',
    title: 'Your access key "ci" expires soon',
    body: 'Your access key "ci" (LKIA1) expires at 2026-12-05T10:30:00.000Z. Extend it before then to keep it working.',
    data: {},
    actor: null,
    createdAt: '2026-12-04T10:30:00.000Z',
    read: false,
    readAt: null,
  },
];

const RITA = {
  id: 'usr_rita',
  tenantId: '111111111111',
  email: 'rita@example.com',
  name: 'Rita Tan',
  status: 'active',
  apiUser: false,
  isAdministrator: false,
  hasPassword: true,
  createdAt: '2026-11-02T03:04:05.000Z',
  updatedAt: '2026-11-02T03:04:05.000Z',
  withinYourPermissions: true,
};

beforeEach(() => {
  session.clear();
  sessionStorage.setItem('latchkey.console.token', 'tok');
  stubFetch((call) => {
    const { url } = call;
    if (url === '/iam/me') return json(200, ME);
    if (url.startsWith('/iam/audit')) return json(200, { items: ENTRIES, total: 3, limit: 25, offset: 0 });
    if (url.startsWith('/iam/notifications')) return json(200, { items: NOTIFICATIONS });
    if (url.startsWith('/iam/users')) return json(200, page([RITA]));
    return consoleDefaults(call);
  });
});

cleanUpAfterEach();

describe('the audit log', () => {
  it('names actors and targets next to their ids, and says when one is gone', async () => {
    renderApp('/audit');
    await screen.findByRole('table', { name: 'Audit log' });
    const actors = screen.getAllByTestId('audit-actor').map((c) => c.textContent);
    const targets = screen.getAllByTestId('audit-target').map((c) => c.textContent);
    expect(actors).toEqual([
      'Mia AdminUser · usr_me',
      'etl-botService account · sac_bot',
      'OperatorOperator (CLI) · cli',
    ]);
    expect(targets).toEqual([
      'nightly-etlAccess key · LKIA7Q3M9XK2VB8RT4HN0CJ5WD',
      'no longer existsUser · usr_gone',
      'AcmeTenant · 111111111111',
    ]);
  });

  it('shows when each change happened as a local, readable date', async () => {
    renderApp('/audit');
    const table = await screen.findByRole('table', { name: 'Audit log' });
    for (const e of ENTRIES) expect(within(table).getByText(formatDateTime(e.at))).toBeTruthy();
    expect(document.body.textContent).not.toMatch(ISO);
    const details = screen.getByRole('button', {
      name: `Details of access_key.update at ${formatDateTime(ENTRIES[0]?.at)}`,
    });
    fireEvent.click(details);
    const dialog = await screen.findByRole('dialog');
    expect(dialog.textContent).toContain('By Mia Admin');
    expect(dialog.textContent).toContain('on nightly-etl');
  });
});

describe('dates elsewhere', () => {
  it('the notification bell shows local dates, also inside the server-written text', async () => {
    renderApp('/audit');
    fireEvent.click(await screen.findByTestId('notification-bell'));
    const list = await screen.findByTestId('notification-list');
    expect(list.textContent).toContain(formatDateTime('2026-12-04T10:30:00.000Z'));
    expect(list.textContent).toContain(`expires at ${formatDateTime('2026-12-05T10:30:00.000Z')}.`);
    expect(list.textContent).not.toMatch(ISO);
  });

  it('lists show created dates the same way', async () => {
    renderApp('/users');
    await screen.findByRole('link', { name: 'Rita Tan' });
    expect(screen.getByText(formatDateTime('2026-11-02T03:04:05.000Z'))).toBeTruthy();
    expect(document.body.textContent).not.toMatch(/\d{4}-\d{2}-\d{2}/);
  });

  it('a server message that names a moment shows it as a local date too', () => {
    const limit = '2027-03-04T05:06:07.000Z';
    render(
      <MantineProvider env="test">
        <ErrorAlert
          error={
            new ApiError(
              400,
              'EXPIRY_BEYOND_MAXIMUM',
              `keys in this tenant may live at most 90 days (until ${limit})`,
            )
          }
        />
      </MantineProvider>,
    );
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain(`(until ${formatDateTime(limit)})`);
    expect(alert.textContent).not.toMatch(ISO);
  });
});
