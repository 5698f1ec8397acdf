/**
 * Test Connection of a registered API: a GET route signed in the browser with a pasted key (the
 * secret is used for the signature only), sent through latchkey to the upstream.
 */
import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  NativeSelect,
  PasswordInput,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { IconPlugConnected } from '@tabler/icons-react';
import { type ReactNode, useState } from 'react';
import { type ApiView, client, type SampleCurl } from '../api';
import type { SigningScope } from '../format';
import { ConsoleLink, useConsole } from '../shared';
import { signedGet } from '../sigv4';
import { msLabel } from './ApiForm';
import { CopyTextButton } from './SecretReveal';

/** The wildcards of a route's path, in order: `one` for a `*` segment, `rest` for a final `/*`. */
export function wildcardsOf(routePath: string): Array<'one' | 'rest'> {
  if (routePath === '/') return [];
  const parts = routePath.slice(1).split('/');
  const out: Array<'one' | 'rest'> = [];
  parts.forEach((p, i) => {
    if (p === '*') out.push(i === parts.length - 1 ? 'rest' : 'one');
  });
  return out;
}

/**
 * The path to request for a route: the base path, the route's literal segments, and each wildcard's
 * value (percent-encoded; the rest may span several segments, or none).
 */
export function requestPath(basePath: string, routePath: string, values: readonly string[]): string {
  if (routePath === '/') return basePath;
  const parts = routePath.slice(1).split('/');
  const out: string[] = [];
  let k = 0;
  parts.forEach((p, i) => {
    if (p !== '*') {
      out.push(p);
      return;
    }
    const value = (values[k++] ?? '').trim();
    if (i === parts.length - 1) out.push(...value.split('/').filter(Boolean).map(encodeURIComponent));
    else out.push(encodeURIComponent(value));
  });
  return out.length > 0 ? `${basePath}/${out.join('/')}` : basePath;
}

/** How much of an answer's body is shown. */
export const BODY_PREVIEW_CHARS = 2000;

export interface RouteTestResult {
  status: number;
  statusText: string;
  /** latchkey's error code, when latchkey itself refused (its `{error:{code}}` body). */
  code?: string;
  message?: string;
  details: Record<string, unknown>;
  contentType: string | null;
  /** The first BODY_PREVIEW_CHARS characters of the body. */
  body: string;
  truncated: boolean;
}

/** The start of a body, without reading more of it than needed. */
async function bodyStart(response: Response, limit: number): Promise<{ text: string; truncated: boolean }> {
  const reader = response.body?.getReader?.();
  if (!reader) {
    const text = await response.text();
    return { text: text.slice(0, limit), truncated: text.length > limit };
  }
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (text.length > limit) {
      await reader.cancel().catch(() => undefined);
      return { text: text.slice(0, limit), truncated: true };
    }
  }
  text += decoder.decode();
  return { text: text.slice(0, limit), truncated: text.length > limit };
}

/**
 * Sign `GET <url>` with the key in this browser (SigV4, Web Crypto) and send it: latchkey checks it
 * and forwards it to the upstream. The secret is used for the signature only.
 */
export async function testApiRoute(
  url: string,
  scope: SigningScope,
  accessKeyId: string,
  secretAccessKey: string,
): Promise<RouteTestResult> {
  const response = await signedGet(url, scope, accessKeyId, secretAccessKey, { redirect: 'manual' });
  if (response === null) {
    return {
      status: 0,
      statusText: '',
      code: 'NETWORK_ERROR',
      message: 'latchkey could not be reached',
      details: {},
      contentType: null,
      body: '',
      truncated: false,
    };
  }
  if (response.type === 'opaqueredirect') {
    return {
      status: 302,
      statusText: 'Redirect',
      details: {},
      contentType: null,
      body: '',
      truncated: false,
    };
  }
  const contentType = response.headers.get('content-type');
  const { text, truncated } = await bodyStart(response, BODY_PREVIEW_CHARS);
  return {
    status: response.status,
    statusText: response.statusText,
    ...(response.ok || truncated ? { details: {} } : latchkeyRefusal(text)),
    contentType,
    body: text,
    truncated,
  };
}

/**
 * latchkey's own refusal, read from a body: `{"error":{"code","message",…}}` (its other fields are
 * the details). An upstream's error body, whatever it looks like, gives no code.
 */
function latchkeyRefusal(text: string): Pick<RouteTestResult, 'code' | 'message' | 'details'> {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    const error = body?.error as { code?: unknown; message?: unknown } | undefined;
    if (error && typeof error === 'object' && typeof error.code === 'string') {
      const { code, message, ...details } = error as Record<string, unknown>;
      return { code: code as string, message: typeof message === 'string' ? message : '', details };
    }
  } catch {
    // not JSON: the upstream's
  }
  return { details: {} };
}

/** What to do about an answer, by latchkey's code (else by status); null for a success. */
export function connectionHint(result: RouteTestResult, api: ApiView): ReactNode {
  const { code, status } = result;
  if (status >= 200 && status < 400 && !code) return null;
  switch (code) {
    case 'NETWORK_ERROR':
      return 'latchkey did not answer: check that it is running and that this page can reach it.';
    case 'SignatureDoesNotMatch':
      return 'The signature does not match: the secret key is not the one of this access key. Paste both again, without spaces.';
    case 'InvalidAccessKeyId':
      return 'latchkey has no such access key: check the access key ID (it starts with LKIA), or the key was deleted.';
    case 'AccessKeyInactive':
    case 'KEY_INACTIVE':
      return 'The key, or its owner, is deactivated: mark it active in Access keys.';
    case 'AccessKeyQuarantined':
    case 'KEY_QUARANTINED':
      return 'The key was reported leaked and is quarantined: generate a new secret for it in Access keys.';
    case 'ExpiredToken':
    case 'KEY_EXPIRED':
      return 'The key has expired: give it a later expiry in Access keys, or use another key.';
    case 'RequestTimeTooSkewed':
      return "This computer's clock is more than 15 minutes off latchkey's: correct the clock and try again.";
    case 'SlowDown':
      return 'Too many failed signatures for this key or address: wait a moment, then try again with the right secret.';
    case 'UNAUTHENTICATED':
      return 'latchkey found no signature it could read in the request: fill in the access key ID and secret key.';
    case 'AccessDenied': {
      const missing =
        typeof result.details.missingPermission === 'string' ? result.details.missingPermission : null;
      return (
        <>
          The key may not use this route{missing ? <> (it needs {missing})</> : null}: give its owner, or the
          key, a role that grants it (see Permissions above, and{' '}
          <ConsoleLink to="/groups">Groups and roles</ConsoleLink>
          ).
        </>
      );
    }
    case 'NO_MATCHING_ROUTE':
      return 'No route of this API matches the path sent: check the values filled in for the * segments.';
    case 'INVALID_PATH':
      return 'The path cannot be sent as it is (an empty, . or .. segment, or an encoded slash): change the values filled in.';
    case 'NOT_FOUND':
      return `latchkey has no API at ${api.basePath} for the key's tenant: use a key of this tenant.`;
    case 'UPSTREAM_UNAVAILABLE':
      return `latchkey could not reach the upstream ${api.upstream}: check the URL, and that the service runs and accepts connections from latchkey's host.`;
    case 'UPSTREAM_TIMEOUT':
      return `The upstream did not answer within ${msLabel(api.timeoutMs)}: check the service, or give the API a longer timeout (Edit).`;
  }
  if (code) return null;
  // Not latchkey's refusal: the upstream answered so (latchkey let the request through).
  if (status === 401 || status === 403)
    return 'latchkey let the request through; the upstream itself refused it. Check what the upstream expects besides latchkey’s identity headers.';
  if (status === 404)
    return `latchkey let the request through; the upstream has nothing at this path. Check the upstream URL (${api.upstream}) and its path prefix.`;
  if (status === 502 || status === 504)
    return `latchkey let the request through; the upstream answered ${status} itself (a proxy in front of it?).`;
  if (status >= 300 && status < 400)
    return 'The upstream answered with a redirect; clients of the API would be sent elsewhere.';
  return null;
}

/**
 * Test a GET route with a key: pick the route, fill in its * segments, paste an access key ID and
 * secret key. The browser signs the request (the secret never leaves this page and is never
 * stored) and shows latchkey's or the upstream's answer.
 */
export function ApiTestConnection({ api }: { api: ApiView }) {
  const { scope } = useConsole();
  const testable = api.routes.filter((r) => r.method === 'GET' || r.method === '*');
  const [choice, setChoice] = useState('0');
  const [values, setValues] = useState<string[]>([]);
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<RouteTestResult | null>(null);
  const [sample, setSample] = useState<SampleCurl | null>(null);
  const route = testable[Number(choice)];
  if (!route) {
    return (
      <Text size="sm">
        This API has no GET route: Test Connection sends a GET request, so there is nothing to test here.
      </Text>
    );
  }
  const wildcards = wildcardsOf(route.path);
  const path = requestPath(api.basePath, route.path, values);
  const hint = result ? connectionHint(result, api) : null;
  const succeeded = result !== null && result.status >= 200 && result.status < 300;
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setTesting(true);
        setResult(null);
        setSample(null);
        try {
          const id = accessKeyId.trim();
          setResult(await testApiRoute(`${window.location.origin}${path}`, scope, id, secret.trim()));
          // The command to run it again, with $LATCHKEY_SECRET_KEY for the secret (which is not sent).
          client
            .sampleCurl({ query: { accessKeyId: id, path, method: 'GET' } })
            .then(setSample)
            .catch(() => setSample(null));
        } finally {
          setTesting(false);
        }
      }}
    >
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Signs <Code>GET {path}</Code> in your browser with AWS Signature Version 4 (scope {scope.region}/
          {scope.service}) and sends it to latchkey, which checks it and forwards it to the upstream. The
          secret key is used only for the signature: it is not stored and not sent.
        </Text>
        <NativeSelect
          label="Route"
          data={testable.map((r, i) => ({
            value: String(i),
            label: `${r.method} ${r.path} (${r.permission})`,
          }))}
          value={choice}
          onChange={(e) => {
            setChoice(e.currentTarget.value);
            setValues([]);
            setResult(null);
          }}
          maw={520}
        />
        {wildcards.map((kind, k) => (
          <TextInput
            // biome-ignore lint/suspicious/noArrayIndexKey: a wildcard is its place in the path
            key={`${choice}-${k}`}
            label={
              kind === 'rest'
                ? 'Rest of the path (/*)'
                : wildcards.filter((w) => w === 'one').length > 1
                  ? `Value of * number ${k + 1}`
                  : 'Value of *'
            }
            description={
              kind === 'rest'
                ? `The rest of ${route.path}: none, one or more segments, like reports/2026.`
                : `One segment of ${route.path}, like 42.`
            }
            required={kind === 'one'}
            value={values[k] ?? ''}
            onChange={(e) => {
              const next = [...values];
              next[k] = e.currentTarget.value;
              setValues(next);
            }}
            maw={520}
          />
        ))}
        <Group align="flex-start" grow preventGrowOverflow={false}>
          <TextInput
            label="Access key ID"
            required
            autoComplete="off"
            spellCheck={false}
            placeholder="LKIA…"
            value={accessKeyId}
            onChange={(e) => setAccessKeyId(e.currentTarget.value)}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            style={{ minWidth: '14rem' }}
          />
          <PasswordInput
            label="Secret key"
            required
            autoComplete="off"
            value={secret}
            onChange={(e) => setSecret(e.currentTarget.value)}
            style={{ minWidth: '14rem' }}
          />
        </Group>
        <Group>
          <Button type="submit" leftSection={<IconPlugConnected size={16} aria-hidden />} loading={testing}>
            Test Connection
          </Button>
        </Group>
        {result ? (
          <Alert
            color={succeeded ? 'teal' : result.status >= 300 && result.status < 400 ? 'orange' : 'red'}
            title={
              result.status === 0
                ? 'No answer'
                : `HTTP ${result.status}${result.statusText ? ` ${result.statusText}` : ''}${
                    result.code ? ': refused by latchkey' : ' from the upstream'
                  }`
            }
            role="status"
            data-testid="api-test-result"
          >
            <Stack gap={6}>
              {result.code ? (
                <Text size="sm" component="div">
                  {result.message}{' '}
                  <Badge color="red" variant="light" data-testid="api-test-code">
                    {result.code}
                  </Badge>
                </Text>
              ) : null}
              {hint ? (
                <Text size="sm" data-testid="api-test-hint">
                  {hint}
                </Text>
              ) : null}
              {result.status !== 0 ? (
                <>
                  <Text size="xs" c="dimmed">
                    {result.contentType ?? 'no content type'}
                    {result.truncated ? ` · the first ${BODY_PREVIEW_CHARS} characters` : ''}
                  </Text>
                  <Code
                    block
                    data-testid="api-test-body"
                    style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
                  >
                    {result.body || '(empty body)'}
                  </Code>
                </>
              ) : null}
            </Stack>
          </Alert>
        ) : null}
        {sample ? (
          <Stack gap={4}>
            <Group justify="space-between" wrap="nowrap">
              <Text size="sm" fw={500}>
                Sample cURL
              </Text>
              <CopyTextButton text={sample.sigv4} label="Copy" accessibleName="Copy sample cURL" />
            </Group>
            <Code
              block
              style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
              data-testid="api-sample-curl"
            >
              {sample.sigv4}
            </Code>
            <Text size="xs" c="dimmed">
              Set LATCHKEY_SECRET_KEY to the secret key first; needs curl 7.75 or newer.
            </Text>
          </Stack>
        ) : null}
      </Stack>
    </form>
  );
}
