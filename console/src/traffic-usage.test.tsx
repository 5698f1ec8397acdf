// @vitest-environment happy-dom
/**
 * Traffic limits and usage in the console: the "Traffic limits" fields of a new key, of a key
 * (managers only), of a user, of a service account and of the tenant's settings send the bodies
 * the contract names, and the server's INVALID_CIDR shows at Allowed networks; the usage chart's
 * text alternative; the Usage page's items and its choices; the "Unused for" filter of Access
 * keys. fetch is mocked with a small router.
 */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { type IamSettings, type KeyView, session } from './api';
import { KeyDetailsDrawer } from './components/KeyDetails';
import { KeyForm } from './components/KeyForm';
import { rulesOf } from './components/TrafficRules';
import { UsageChart } from './components/UsageChart';
import { principalClient } from './principals';
import {
  ACCESS_KEY,
  type Call,
  cleanUpAfterEach,
  consoleDefaults,
  descriptionOf,
  json,
  keyWith,
  meWith,
  page,
  refusal,
  renderApp,
  signedInWith,
  stubFetch,
  TENANT,
  wrap,
} from './test-helpers';
import { quotaName, type UsagePoint, usageSummary } from './usage';

let calls: Call[] = [];
let answer: (call: Call) => Response | undefined = () => undefined;
let permissions: string[] = [];
let key: KeyView = keyWith();

const ZERO = { ok: 0, throttled: 0, denied: 0, invalid_signature: 0, expired: 0, inactive: 0 };
const HOUR = 3_600_000;
const hour = (n: number) => new Date(Date.UTC(2026, 11, 4, n)).toISOString().replace('.000Z', 'Z');
/** Seven hours, two of them with requests. */
const SERIES: UsagePoint[] = [0, 1, 2, 3, 4, 5, 6].map((n) => ({
  t: hour(n),
  ...ZERO,
  ...(n === 2 ? { ok: 3, throttled: 2 } : {}),
  ...(n === 5 ? { ok: 1, denied: 1 } : {}),
}));

const rita = {
  id: 'usr_rita',
  tenantId: TENANT,
  email: 'rita@example.com',
  name: 'Rita Tan',
  status: 'active' as const,
  apiUser: false,
  isAdministrator: false,
  hasPassword: true,
  rateLimit: null,
  quota: null,
  allowedCidrs: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  withinYourPermissions: true,
};
const etl = {
  id: 'sa_etl',
  tenantId: TENANT,
  name: 'etl-loader',
  email: null,
  description: '',
  status: 'active' as const,
  rateLimit: { limit: 5, periodSeconds: 1 },
  quota: null,
  allowedCidrs: ['10.0.0.0/8'],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  withinYourPermissions: true,
};
const settings: IamSettings = {
  defaultKeyLifetimeDays: 90,
  maxKeyLifetimeDays: null,
  tokenLifetimeSeconds: 3600,
  userKeyLimit: 2,
  reminderLeadDays: 2,
  acceptedScopes: [],
  allowUnsignedPayload: false,
  emailSecretInline: false,
  rateLimit: null,
  quota: null,
  allowedCidrs: null,
  usageRetentionDays: 90,
  leakedKeyAction: 'disable',
  maxSessionDurationSeconds: 43200,
  mfaRequired: 'off',
};

const badCidr = () =>
  refusal(400, 'INVALID_CIDR', 'allowedCidrs: "10.0.0.5/8" has host bits set (did you mean 10.0.0.0/8?)', {
    cidr: '10.0.0.5/8',
  });

/** PATCH answers: the record with what was sent. */
function routes(call: Call): Response | undefined {
  const { url, method } = call;
  if (url === '/iam/me') return json(200, signedInWith(permissions));
  if (url === `/iam/keys/${ACCESS_KEY}` && method === 'GET') return json(200, key);
  if (url === `/iam/keys/${ACCESS_KEY}` && method === 'PATCH') {
    key = { ...key, ...(call.body as object) };
    return json(200, key);
  }
  if (url.startsWith(`/iam/keys/${ACCESS_KEY}/usage`)) {
    const granularity = url.includes('granularity=day') ? 'day' : 'hour';
    return json(200, { accessKeyId: ACCESS_KEY, granularity, from: hour(0), to: hour(7), series: SERIES });
  }
  if (url.startsWith(`/iam/keys/${ACCESS_KEY}/`)) {
    return json(200, { accessKeyId: ACCESS_KEY, permissions: [], source: 'owner', ownerPermissions: [] });
  }
  if (url.startsWith('/iam/keys?')) return json(200, page([key]));
  if (url === '/iam/users/usr_rita' && method === 'GET') return json(200, rita);
  if (url === '/iam/users/usr_rita' && method === 'PATCH')
    return json(200, { ...rita, ...(call.body as object) });
  if (url === '/iam/service-accounts/sa_etl' && method === 'GET') return json(200, etl);
  if (url === '/iam/service-accounts/sa_etl' && method === 'PATCH')
    return json(200, { ...etl, ...(call.body as object) });
  if (url.endsWith('/assignments')) return json(200, { groups: [], roles: [] });
  if (url.endsWith('/permissions')) return json(200, { permissions: [], readsData: true });
  if (url.includes('/keys')) return json(200, page([]));
  if (url === '/iam/settings' && method === 'GET') return json(200, settings);
  if (url === '/iam/settings' && method === 'PATCH')
    return json(200, { ...settings, ...(call.body as object) });
  if (url === '/iam/groups' || url === '/iam/roles') return json(200, { items: [] });
  return undefined;
}

beforeEach(() => {
  answer = () => undefined;
  permissions = ['iam:keys:read', 'iam:keys:manage', 'iam:users:read', 'iam:users:manage'];
  key = keyWith();
  session.clear();
  sessionStorage.setItem('latchkey.console.token', 'tok');
  calls = stubFetch((call) => answer(call) ?? routes(call) ?? consoleDefaults(call));
});

cleanUpAfterEach();

const writes = () =>
  calls.filter((c) => c.method !== 'GET').map(({ method, url, body }) => ({ method, url, body }));
const type = (element: HTMLElement, value: string) => fireEvent.change(element, { target: { value } });

/** The error Mantine shows under a field (tied to it by aria-describedby). */
const fieldError = (field: HTMLElement) => descriptionOf(field);

describe('the words of usage and rules', () => {
  it('sums a series into one sentence, and names quotas', () => {
    expect(usageSummary({ ...ZERO })).toBe('No requests in this period.');
    expect(usageSummary({ ...ZERO, ok: 1 })).toBe('1 request: 1 OK.');
    expect(usageSummary({ ...ZERO, ok: 1200, throttled: 12, invalid_signature: 1 })).toBe(
      '1,213 requests: 1,200 OK, 12 throttled, 1 invalid signature.',
    );
    expect(quotaName('key-day')).toBe('This key, per day');
    expect(quotaName('principal-month')).toBe('Its owner (all their keys), per month');
    expect(quotaName('something-else')).toBe('something-else');
  });

  it('reads the fields: empty means no rule, numbers are checked, networks one per line', () => {
    expect(
      rulesOf({ rateLimit: '', ratePeriodSeconds: 60, quota: '', quotaPeriod: 'day', cidrs: ' \n' }),
    ).toEqual({
      rules: { rateLimit: null, quota: null, allowedCidrs: null },
    });
    expect(
      rulesOf({
        rateLimit: 10,
        ratePeriodSeconds: 1,
        quota: 500,
        quotaPeriod: 'month',
        cidrs: '203.0.113.0/24\n\n 2001:db8::/32 ',
      }),
    ).toEqual({
      rules: {
        rateLimit: { limit: 10, periodSeconds: 1 },
        quota: { limit: 500, period: 'month' },
        allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
      },
    });
    const bad = rulesOf({ rateLimit: 0, ratePeriodSeconds: 60, quota: 1.5, quotaPeriod: 'day', cidrs: '' });
    expect('errors' in bad && Object.keys(bad.errors).sort()).toEqual(['quota', 'rateLimit']);
  });
});

describe('the usage chart', () => {
  it('says what it draws: a summary for everyone and a table of the busy hours', () => {
    render(
      wrap(<UsageChart series={SERIES} granularity="hour" label="Requests with this key, last 7 days" />),
    );
    expect(screen.getByTestId('usage-summary').textContent).toBe(
      'Requests with this key, last 7 days: 7 requests: 4 OK, 2 throttled, 1 denied.',
    );
    // The figure is named by its summary; the drawing is hidden from screen readers.
    const figure = screen.getByRole('figure');
    expect(figure.getAttribute('aria-labelledby')).toBe(screen.getByTestId('usage-summary').id);
    expect(screen.getByTestId('usage-drawing').getAttribute('aria-hidden')).toBe('true');
    const table = screen.getByRole('table');
    expect(table.querySelector('caption')?.textContent).toContain('by hour');
    const rows = within(table).getAllByRole('row');
    expect(rows.map((r) => [...r.children].map((c) => c.textContent))).toEqual([
      ['Hour', 'Total', 'OK', 'Throttled', 'Denied', 'Invalid signature', 'Expired', 'Inactive'],
      [expect.any(String), '5', '3', '2', '0', '0', '0', '0'],
      [expect.any(String), '2', '1', '0', '1', '0', '0', '0'],
    ]);
  });

  it('has no table when nothing happened, only the summary', () => {
    render(
      wrap(<UsageChart series={SERIES.map((p) => ({ ...p, ...ZERO }))} granularity="day" label="Usage" />),
    );
    expect(screen.getByTestId('usage-summary').textContent).toBe('Usage: No requests in this period.');
    expect(screen.queryByRole('table')).toBeNull();
  });
});

describe('traffic limits of a new key', () => {
  const form = () =>
    render(
      wrap(
        <KeyForm
          fixedOwner={{ type: 'user', id: 'usr_ana', label: 'ana@example.com' }}
          submitLabel="Confirm"
          onCancel={() => undefined}
          onSubmit={async ({ owner, body }) => {
            await principalClient(owner).createKey(body);
          }}
        />,
      ),
    );

  it('sends only the limits that are filled in', async () => {
    answer = (c) => (c.method === 'POST' ? json(201, { ...key, secretAccessKey: 'x' }) : undefined);
    form();
    type(screen.getByLabelText(/^Rate limit \(requests\)/), '10');
    type(screen.getByLabelText(/^Per \(seconds\)/), '1');
    type(screen.getByLabelText(/^Allowed networks/), '203.0.113.0/24\n2001:db8::/32');
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(writes()).toHaveLength(1));
    expect(writes()[0]).toEqual({
      method: 'POST',
      url: '/iam/users/usr_ana/keys',
      body: {
        type: 'access',
        validityDays: 90,
        rateLimit: { limit: 10, periodSeconds: 1 },
        allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
      },
    });
  });

  it('sends no limit at all when none is filled in', async () => {
    answer = (c) => (c.method === 'POST' ? json(201, { ...key, secretAccessKey: 'x' }) : undefined);
    form();
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(writes()).toHaveLength(1));
    expect(writes()[0]?.body).toEqual({ type: 'access', validityDays: 90 });
  });

  it("shows the server's INVALID_CIDR at Allowed networks, which takes focus", async () => {
    answer = (c) => (c.method === 'POST' ? badCidr() : undefined);
    form();
    const networks = screen.getByLabelText(/^Allowed networks/);
    type(networks, '10.0.0.5/8');
    type(screen.getByLabelText(/^Quota \(requests\)/), '1000');
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(networks.getAttribute('aria-invalid')).toBe('true'));
    expect(fieldError(networks)).toContain('"10.0.0.5/8" has host bits set');
    await waitFor(() => expect(document.activeElement).toBe(networks));
    expect(screen.getByTestId('error-code').textContent).toBe('INVALID_CIDR');
    expect(writes()[0]?.body).toEqual({
      type: 'access',
      validityDays: 90,
      quota: { limit: 1000, period: 'day' },
      allowedCidrs: ['10.0.0.5/8'],
    });
  });

  it('checks the numbers before sending', async () => {
    form();
    const rate = screen.getByLabelText(/^Rate limit \(requests\)/);
    type(rate, '0');
    fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(rate.getAttribute('aria-invalid')).toBe('true'));
    expect(fieldError(rate)).toContain('a whole number from 1');
    expect(writes()).toEqual([]);
  });
});

describe('Key details: limits, quotas and usage', () => {
  const drawer = (permissionsOfMe: string[]) =>
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
        meWith({ permissions: permissionsOfMe }),
      ),
    );

  beforeEach(() => {
    key = keyWith({
      rateLimit: { limit: 3, periodSeconds: 60 },
      quota: { limit: 1000, period: 'day' },
      allowedCidrs: null,
      quotas: [
        {
          name: 'key-day',
          limit: 1000,
          period: 'day',
          used: 12,
          remaining: 988,
          resetsAt: '2026-12-05T00:00:00Z',
        },
        {
          name: 'principal-month',
          limit: 50_000,
          period: 'month',
          used: 4_000,
          remaining: 46_000,
          resetsAt: '2027-01-01T00:00:00Z',
        },
      ],
    });
  });

  it('a key manager changes the limits: all three are sent, an empty one as null', async () => {
    drawer(['iam:keys:read', 'iam:keys:manage']);
    const dialog = await screen.findByRole('dialog', { name: 'Key details' });
    expect((await within(dialog).findByTestId('traffic-rules')).textContent).toContain(
      '3 requests per minute',
    );
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change traffic limits' }));
    const rate = within(dialog).getByLabelText(/^Rate limit \(requests\)/) as HTMLInputElement;
    // The first field takes focus.
    await waitFor(() => expect(document.activeElement).toBe(rate));
    expect(rate.value).toBe('3');
    type(rate, '');
    type(within(dialog).getByLabelText(/^Allowed networks/), '203.0.113.7');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save traffic limits' }));
    await within(dialog).findByText('Traffic limits saved.');
    // The fields close; focus is back on the button that opened them.
    await waitFor(() =>
      expect(document.activeElement).toBe(
        within(dialog).getByRole('button', { name: 'Change traffic limits' }),
      ),
    );
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        url: `/iam/keys/${ACCESS_KEY}`,
        body: { rateLimit: null, quota: { limit: 1000, period: 'day' }, allowedCidrs: ['203.0.113.7'] },
      },
    ]);
  });

  it("a key manager sees the server's INVALID_CIDR at the field", async () => {
    answer = (c) => (c.method === 'PATCH' ? badCidr() : undefined);
    drawer(['iam:keys:read', 'iam:keys:manage']);
    const dialog = await screen.findByRole('dialog', { name: 'Key details' });
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Change traffic limits' }));
    const networks = within(dialog).getByLabelText(/^Allowed networks/);
    type(networks, '10.0.0.5/8');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save traffic limits' }));
    await waitFor(() => expect(networks.getAttribute('aria-invalid')).toBe('true'));
    expect(fieldError(networks)).toContain('"10.0.0.5/8"');
  });

  it('the owner without iam:keys:manage sees the limits, not a form', async () => {
    drawer(['agent:read']);
    const dialog = await screen.findByRole('dialog', { name: 'Key details' });
    const rules = await within(dialog).findByTestId('traffic-rules');
    expect(rules.textContent).toContain('3 requests per minute');
    expect(rules.textContent).toContain('1,000 requests per day (UTC)');
    expect(rules.textContent).toContain('Any address');
    expect(within(dialog).queryByRole('button', { name: 'Change traffic limits' })).toBeNull();
    expect(within(dialog).queryByLabelText(/^Allowed networks/)).toBeNull();
    expect(dialog.textContent).toContain('Only someone with iam:keys:manage can change them.');
  });

  it('shows where each quota stands, and the usage of 7 days by hour or 30 by day', async () => {
    drawer(['iam:keys:read']);
    const dialog = await screen.findByRole('dialog', { name: 'Key details' });
    const quotas = await within(dialog).findAllByTestId('quota-row');
    expect(quotas.map((r) => [...r.children].slice(0, 3).map((c) => c.textContent))).toEqual([
      ['This key, per day', '12 of 1,000', '988'],
      ['Its owner (all their keys), per month', '4,000 of 50,000', '46,000'],
    ]);
    const summary = await within(dialog).findByTestId('usage-summary');
    expect(summary.textContent).toBe(
      'Requests with this key, last 7 days: 7 requests: 4 OK, 2 throttled, 1 denied.',
    );
    expect(calls.some((c) => c.url === `/iam/keys/${ACCESS_KEY}/usage?granularity=hour`)).toBe(true);
    fireEvent.click(within(dialog).getByLabelText('30 days, by day'));
    await waitFor(() =>
      expect(within(dialog).getByTestId('usage-summary').textContent).toContain('last 30 days'),
    );
    expect(calls.some((c) => c.url === `/iam/keys/${ACCESS_KEY}/usage?granularity=day`)).toBe(true);
  });
});

describe('traffic limits of users, service accounts and the tenant', () => {
  it("a user's limits, by someone who manages users", async () => {
    renderApp('/users/usr_rita');
    const card = (await screen.findByRole('heading', { name: 'Traffic limits' })).closest(
      'section',
    ) as HTMLElement;
    fireEvent.click(within(card).getByRole('button', { name: 'Change traffic limits' }));
    type(within(card).getByLabelText(/^Quota \(requests\)/), '5000');
    fireEvent.click(within(card).getByRole('button', { name: 'Save traffic limits' }));
    await within(card).findByText('Traffic limits saved.');
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        url: '/iam/users/usr_rita',
        body: { rateLimit: null, quota: { limit: 5000, period: 'day' }, allowedCidrs: null },
      },
    ]);
  });

  it("a user's limits are only shown to someone who reads users", async () => {
    permissions = ['iam:users:read'];
    renderApp('/users/usr_rita');
    const card = (await screen.findByRole('heading', { name: 'Traffic limits' })).closest(
      'section',
    ) as HTMLElement;
    expect(within(card).getByTestId('traffic-rules').textContent).toContain('None');
    expect(within(card).queryByRole('button', { name: 'Change traffic limits' })).toBeNull();
    expect(card.textContent).toContain('Only someone with iam:users:manage can change these.');
  });

  it("a service account's limits, INVALID_CIDR at the field", async () => {
    permissions = ['iam:service-accounts:read', 'iam:service-accounts:manage'];
    answer = (c) =>
      c.method === 'PATCH' && c.url === '/iam/service-accounts/sa_etl' ? badCidr() : undefined;
    renderApp('/service-accounts/sa_etl');
    const card = (await screen.findByRole('heading', { name: 'Traffic limits' })).closest(
      'section',
    ) as HTMLElement;
    expect(within(card).getByTestId('traffic-rules').textContent).toContain('5 requests per second');
    fireEvent.click(within(card).getByRole('button', { name: 'Change traffic limits' }));
    const networks = within(card).getByLabelText(/^Allowed networks/) as HTMLTextAreaElement;
    expect(networks.value).toBe('10.0.0.0/8');
    type(networks, '10.0.0.0/8\n10.0.0.5/8');
    fireEvent.click(within(card).getByRole('button', { name: 'Save traffic limits' }));
    await waitFor(() => expect(networks.getAttribute('aria-invalid')).toBe('true'));
    expect(fieldError(networks)).toContain('"10.0.0.5/8"');
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        url: '/iam/service-accounts/sa_etl',
        body: {
          rateLimit: { limit: 5, periodSeconds: 1 },
          quota: null,
          allowedCidrs: ['10.0.0.0/8', '10.0.0.5/8'],
        },
      },
    ]);
  });

  it('the tenant defaults and usage retention, in IAM settings', async () => {
    permissions = ['iam:settings:read', 'iam:settings:manage'];
    renderApp('/settings');
    const card = (await screen.findByRole('heading', { name: 'Traffic defaults' })).closest(
      'section',
    ) as HTMLElement;
    type(within(card).getByLabelText(/^Rate limit \(requests\)/), '100');
    type(within(card).getByLabelText(/^Allowed networks/), '192.0.2.0/24');
    type(within(card).getByLabelText(/^Keep usage for \(days\)/), '30');
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await screen.findByText('Settings saved.');
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        url: '/iam/settings',
        body: {
          ...settings,
          rateLimit: { limit: 100, periodSeconds: 60 },
          allowedCidrs: ['192.0.2.0/24'],
          usageRetentionDays: 30,
        },
      },
    ]);
  });

  it('the tenant defaults are read-only without iam:settings:manage', async () => {
    permissions = ['iam:settings:read'];
    renderApp('/settings');
    const card = (await screen.findByRole('heading', { name: 'Traffic defaults' })).closest(
      'section',
    ) as HTMLElement;
    expect((within(card).getByLabelText(/^Allowed networks/) as HTMLTextAreaElement).disabled).toBe(true);
    expect(screen.queryByRole('button', { name: 'Save settings' })).toBeNull();
  });
});

describe('finding keys no one uses', () => {
  it('"Unused for" passes unusedDays', async () => {
    renderApp('/keys');
    await screen.findAllByTestId('key-row');
    fireEvent.click(screen.getByRole('combobox', { name: 'Unused for' }));
    fireEvent.click(await screen.findByRole('option', { name: '90 days or more' }));
    await waitFor(() => expect(calls.some((c) => /^\/iam\/keys\?.*unusedDays=90/.test(c.url))).toBe(true));
  });
});

describe('the Usage page', () => {
  const tenantUsage = (groupBy: string) => ({
    groupBy,
    granularity: 'hour',
    from: hour(0),
    to: hour(7),
    series: SERIES,
    totals: { ...ZERO, ok: 4, throttled: 2, denied: 1, total: 7 },
    items:
      groupBy === 'key'
        ? [
            {
              id: ACCESS_KEY,
              name: 'laptop',
              owner: { type: 'user', id: 'usr_ana', label: 'ana@example.com' },
              ...ZERO,
              ok: 3,
              throttled: 2,
              total: 5,
            },
            { id: 'LKIAGONE', name: null, ...ZERO, denied: 2, total: 2 },
          ]
        : groupBy === 'principal'
          ? [{ id: 'sa_etl', name: 'etl-loader', type: 'service_account', ...ZERO, ok: 4, total: 4 }]
          : [{ id: null, name: 'latchkey (data API and /iam)', ...ZERO, ok: 7, total: 7 }],
  });

  beforeEach(() => {
    answer = (c) => {
      if (!c.url.startsWith('/iam/usage?')) return undefined;
      return json(200, tenantUsage(new URL(c.url, 'http://x').searchParams.get('groupBy') ?? 'key'));
    };
  });

  it('lists the most used keys, the totals and the chart, and switches to owners and APIs', async () => {
    renderApp('/usage');
    await screen.findByRole('heading', { name: 'Usage', level: 2 });
    const table = await screen.findByRole('table', { name: 'Most used keys' });
    const rows = within(table).getAllByTestId('usage-item');
    expect([...(rows[0]?.children ?? [])].map((c) => c.textContent)).toEqual([
      `laptop${ACCESS_KEY}`,
      'ana@example.com',
      '5',
      '3',
      '2',
      '0',
      '0',
      '0',
      '0',
    ]);
    expect(rows[1]?.textContent).toContain('Deleted');
    expect(screen.getByTestId('usage-totals').textContent).toContain('Total7');
    expect(screen.getAllByTestId('usage-summary')[0]?.textContent).toBe(
      'Requests in the tenant, last 7 days: 7 requests: 4 OK, 2 throttled, 1 denied.',
    );
    const first = calls.find((c) => c.url.startsWith('/iam/usage?'));
    const query = new URL(first?.url ?? '', 'http://x').searchParams;
    expect(query.get('groupBy')).toBe('key');
    // Seven days back from the current hour.
    const from = Date.parse(query.get('from') ?? '');
    expect(Date.now() - from).toBeGreaterThan(6 * 24 * HOUR);
    expect(Date.now() - from).toBeLessThanOrEqual(7 * 24 * HOUR);

    fireEvent.click(screen.getByLabelText('Owners'));
    const owners = await screen.findByRole('table', { name: /^Most used owners/ });
    const etlRow = within(owners).getByTestId('usage-item');
    expect(within(etlRow).getByRole('link', { name: 'etl-loader' }).getAttribute('href')).toBe(
      '/console/service-accounts/sa_etl',
    );
    expect(etlRow.textContent).toContain('Service account');

    fireEvent.click(screen.getByLabelText('APIs'));
    const apis = await screen.findByRole('table', { name: 'Most used APIs' });
    expect(within(apis).getByTestId('usage-item').textContent).toContain('latchkey (data API and /iam)');

    fireEvent.click(screen.getByLabelText('24 hours'));
    await waitFor(() => {
      const last = calls.filter((c) => c.url.startsWith('/iam/usage?')).at(-1);
      const q = new URL(last?.url ?? '', 'http://x').searchParams;
      expect(q.get('groupBy')).toBe('api');
      expect(Date.now() - Date.parse(q.get('from') ?? '')).toBeLessThanOrEqual(24 * HOUR);
    });
  });

  it('is in the navigation only for those who read keys', async () => {
    permissions = ['iam:users:read'];
    renderApp('/users');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await within(nav).findByRole('link', { name: 'Users' });
    expect(within(nav).queryByRole('link', { name: 'Usage' })).toBeNull();
  });
});
