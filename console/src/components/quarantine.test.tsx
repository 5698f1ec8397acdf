// @vitest-environment happy-dom
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyView } from '../api';
import {
  ACCESS_KEY,
  type Call,
  cleanUpAfterEach,
  json,
  keyWith,
  meWith,
  stubFetch,
  wrap,
} from '../test-helpers';
import { KeyDetailsDrawer, KeyTable } from './KeyDetails';

const quarantined: KeyView = keyWith({
  quarantine: {
    at: '2026-12-05T01:02:03.000Z',
    reason: 'reported leaked by GitHub secret scanning (content)',
    url: 'https://github.com/acme/app/blob/main/.env',
  },
});
let calls: Call[] = [];
let current: KeyView = quarantined;

beforeEach(() => {
  current = quarantined;
  calls = stubFetch(({ method, url }) => {
    if (method === 'GET' && url === `/iam/keys/${ACCESS_KEY}`) return json(200, current);
    if (method === 'POST' && url === `/iam/keys/${ACCESS_KEY}/quarantine/release`) {
      current = { ...quarantined, quarantine: null };
      return json(200, current);
    }
    return undefined;
  });
});

cleanUpAfterEach();

describe('a quarantined key', () => {
  it('is badged in the key list', () => {
    render(
      wrap(
        <KeyTable
          keys={[quarantined, keyWith({ accessKeyId: 'LKIAOTHER', name: 'other' })]}
          onChanged={() => undefined}
          onSecret={() => undefined}
        />,
      ),
    );
    expect(screen.getAllByTestId('key-quarantined')).toHaveLength(1);
  });

  it('shows why and where in its details, and an administrator can release it', async () => {
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
      ),
    );
    const notice = await screen.findByTestId('quarantine-notice');
    expect(notice.textContent).toContain('reported leaked by GitHub secret scanning (content)');
    expect(notice.textContent).toContain('https://github.com/acme/app/blob/main/.env');
    expect(screen.getByTestId('key-quarantined').textContent).toBe('Quarantined');
    fireEvent.click(screen.getByRole('button', { name: /Release without a new secret/ }));
    await waitFor(() =>
      expect(
        calls.some((c) => c.method === 'POST' && c.url === `/iam/keys/${ACCESS_KEY}/quarantine/release`),
      ).toBe(true),
    );
    await waitFor(() => expect(screen.queryByTestId('quarantine-notice')).toBeNull());
  });

  it('offers no release to someone without iam:keys:manage', async () => {
    render(
      wrap(
        <KeyDetailsDrawer accessKeyId={ACCESS_KEY} onClose={() => undefined} onChanged={() => undefined} />,
        meWith({ permissions: ['iam:keys:read'] }),
      ),
    );
    await screen.findByTestId('quarantine-notice');
    expect(screen.queryByRole('button', { name: /Release without a new secret/ })).toBeNull();
  });
});
