// @vitest-environment happy-dom
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CreatedKey, KeyView } from '../api';
import {
  ACCESS_KEY,
  accessPanel,
  type Call,
  cleanUpAfterEach,
  json,
  keyWith,
  page,
  SECRET,
  stubFetch,
  TENANT,
  wrap,
} from '../test-helpers';
import { SecretReveal } from './SecretReveal';

const keyView: KeyView = keyWith({ owner: { type: 'user', id: 'usr_1', label: 'ana@example.com' } });
const created: CreatedKey = { ...keyView, secretAccessKey: SECRET };

let clipboard: string[] = [];
let requests: Call[] = [];
let keys: KeyView[] = [];

beforeEach(() => {
  clipboard = [];
  keys = [];
  sessionStorage.clear();
  localStorage.clear();
  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: async (t: string) => void clipboard.push(t) },
  });
  requests = stubFetch(({ method, url, body }) => {
    if (method === 'GET' && url.startsWith('/iam/users/usr_1/keys')) return json(200, page(keys));
    if (method === 'POST' && url === '/iam/users/usr_1/keys') {
      keys = [keyView];
      return json(201, created);
    }
    if (url === '/iam/settings') return json(200, { defaultKeyLifetimeDays: 90 });
    if (method === 'POST' && url === '/iam/sample-curl') {
      const b = body as { accessKeyId: string; secretAccessKey: string; path: string };
      return json(200, {
        sigv4: `curl -sS --aws-sigv4 'aws:amz:ap-southeast-5:sqlaccount' --user '${b.accessKeyId}:${b.secretAccessKey}' 'http://127.0.0.1:8080${b.path}'`,
      });
    }
    return undefined;
  });
});

cleanUpAfterEach();

describe('SecretReveal', () => {
  it('copies all key details as key:<access key>::<secret key>,tenant id: <tenant ID>', async () => {
    render(wrap(<SecretReveal created={created} origin="http://127.0.0.1:8080" />));
    fireEvent.click(screen.getByRole('button', { name: 'Copy all: access key, secret key and tenant ID' }));
    await waitFor(() => expect(clipboard).toHaveLength(1));
    expect(clipboard[0]).toBe(`key:${ACCESS_KEY}::${SECRET},tenant id: ${TENANT}`);
  });

  it('copies the access key, the secret key and a runnable sample cURL separately', async () => {
    render(wrap(<SecretReveal created={created} origin="http://127.0.0.1:8080" />));
    fireEvent.click(screen.getByRole('button', { name: 'Copy access key' }));
    fireEvent.click(screen.getByRole('button', { name: 'Copy secret key' }));
    // The sample comes from the server (POST /iam/sample-curl).
    fireEvent.click(await screen.findByRole('button', { name: 'Copy sample cURL' }));
    await waitFor(() => expect(clipboard).toHaveLength(3));
    expect(clipboard[0]).toBe(ACCESS_KEY);
    expect(clipboard[1]).toBe(SECRET);
    expect(clipboard[2]).toBe(
      `curl -sS --aws-sigv4 'aws:amz:ap-southeast-5:sqlaccount' --user '${ACCESS_KEY}:${SECRET}' 'http://127.0.0.1:8080/agent/'`,
    );
  });

  it('warns that the secret will not be shown again', () => {
    render(wrap(<SecretReveal created={created} />));
    expect(screen.getByText(/only time the secret key is shown/)).toBeTruthy();
  });
});

describe('API Access panel: the secret is shown once', () => {
  it('shows the secret after Add access, and it is gone from the page and storage after closing', async () => {
    render(accessPanel({ type: 'user', id: 'usr_1', label: 'ana@example.com' }, 'ana@example.com'));
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
    render(accessPanel({ type: 'service_account', id: 'sa_1', label: 'etl' }));
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
