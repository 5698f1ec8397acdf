import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Loader,
  Paper,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import {
  IconAlertTriangle,
  IconCheck,
  IconCopy,
  IconDownload,
  IconPlugConnected,
  IconTerminal2,
} from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { ApiError, type CreatedKey, client, errorFrom, type SampleCurl } from '../api';
import { grantsData } from '../data-access';
import { copyAllFormat, DEFAULT_SCOPE, type SigningScope } from '../format';
import { ErrorAlert } from '../shared';
import { signedGet } from '../sigv4';

/** Copy to the clipboard; falls back to a selection copy where the Clipboard API is missing (plain http). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // fall through to the selection copy
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  try {
    document.execCommand('copy');
  } finally {
    area.remove();
  }
}

export function CopyTextButton({
  text,
  label,
  accessibleName,
  variant = 'light',
}: {
  text: string;
  label: string;
  accessibleName?: string;
  variant?: string;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <Button
      variant={variant}
      size="xs"
      leftSection={copied ? <IconCheck size={14} aria-hidden /> : <IconCopy size={14} aria-hidden />}
      color={copied ? 'teal' : undefined}
      aria-label={accessibleName ?? label}
      onClick={async () => {
        await copyText(text);
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      <span aria-live="polite">{copied ? 'Copied' : label}</span>
    </Button>
  );
}

/**
 * A read-only value in monospace with its Copy button ("Copy access key"). The value wraps
 * instead of scrolling inside its field, so a phone shows the whole key.
 */
export function CopyableField({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Group align="flex-end">
      <Textarea
        label={label}
        value={value}
        readOnly
        autosize
        minRows={1}
        style={{ flex: '1 1 16rem' }}
        data-testid={testId}
        styles={{
          input: { fontFamily: 'var(--mantine-font-family-monospace)', wordBreak: 'break-all' },
        }}
      />
      <CopyTextButton text={value} label="Copy" accessibleName={`Copy ${label.toLowerCase()}`} />
    </Group>
  );
}

interface ConnectionResult {
  ok: boolean;
  status: number;
  code?: string;
  message?: string;
  identity?: string;
  detail?: string;
  /** Signed in, but the key holds no data permission: every data request would be refused. */
  readsNothing?: boolean;
}

/** Sign GET /profile with the new key (SigV4, Web Crypto) and report what the server says. */
export async function testConnection(
  origin: string,
  scope: SigningScope,
  accessKeyId: string,
  secretAccessKey: string,
): Promise<ConnectionResult> {
  const url = `${origin}/profile`;
  const response = await signedGet(url, scope, accessKeyId, secretAccessKey);
  if (response === null) {
    return { ok: false, status: 0, code: 'NETWORK_ERROR', message: 'the server could not be reached' };
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    return { ok: false, status: response.status, code: error.code, message: error.message };
  }
  const body = (await response.json()) as {
    tenantId?: string;
    principal?: { type?: string; name?: string; email?: string | null };
    accessKeyId?: string | null;
    permissions?: unknown;
  };
  const who = body.principal;
  const permissions = Array.isArray(body.permissions)
    ? body.permissions.filter((p): p is string => typeof p === 'string')
    : null;
  return {
    ok: true,
    status: response.status,
    // An answer without the list (an older server) says nothing either way.
    readsNothing: permissions !== null && !grantsData(permissions),
    identity: who
      ? `${who.name ?? ''}${who.email ? ` <${who.email}>` : ''} (${who.type ?? 'principal'})`
      : 'unknown',
    detail: `tenant ${body.tenantId ?? '?'}, access key ${body.accessKeyId ?? accessKeyId}`,
  };
}

/**
 * The sample cURL, as the server writes it (POST /iam/sample-curl, the one place commands are made):
 * with the secret in it, so it runs as-is. The secret goes back only to the server that just made
 * it, which neither stores nor logs it; nothing is kept once the reveal closes.
 */
function useSampleCurl(created: CreatedKey): { data: SampleCurl | null; error: unknown } {
  const [state, setState] = useState<{ data: SampleCurl | null; error: unknown }>({
    data: null,
    error: null,
  });
  const { accessKeyId, secretAccessKey } = created;
  useEffect(() => {
    const controller = new AbortController();
    setState({ data: null, error: null });
    client
      .sampleCurlWithSecret(
        { body: { accessKeyId, secretAccessKey, path: '/agent/' } },
        { signal: controller.signal },
      )
      .then((data) => {
        if (!controller.signal.aborted) setState({ data, error: null });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState({ data: null, error });
      });
    return () => controller.abort();
  }, [accessKeyId, secretAccessKey]);
  return state;
}

/** Save a JSON document (a Postman collection) as a file, the browser's way: a download. */
export function saveJsonFile(document_: unknown, fileName: string): void {
  const blob = new Blob([JSON.stringify(document_, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function downloadPostmanCollection(): Promise<void> {
  saveJsonFile(await client.postmanCollection(), 'postman_collection.json');
}

/**
 * While a new secret is on screen, Escape does not close its window (the secret would be gone for
 * good): it says so instead, in an alert a screen reader reads out.
 */
export function SecretEscapeNotice({ active, closeLabel }: { active: boolean; closeLabel: string }) {
  const [pressed, setPressed] = useState(false);
  useEffect(() => {
    setPressed(false);
    if (!active) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setPressed(true);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [active]);
  if (!active || !pressed) return null;
  return (
    <Alert color="orange" role="alert" icon={<IconAlertTriangle aria-hidden />} title="Not closed yet">
      Escape does not close this window while the secret key is shown: it cannot be shown again. Copy it, then
      choose “{closeLabel}”.
    </Alert>
  );
}

/**
 * The one moment a secret is visible: access key, secret key, the copy formats, Test Connection,
 * sample cURL and Postman. The secret lives only in the caller's React state; closing drops it.
 */
export function SecretReveal({
  created,
  scope = DEFAULT_SCOPE,
  origin = window.location.origin,
}: {
  created: CreatedKey;
  scope?: SigningScope;
  origin?: string;
}) {
  const [result, setResult] = useState<ConnectionResult | null>(null);
  const [testing, setTesting] = useState(false);
  const [postmanError, setPostmanError] = useState<unknown>(null);
  const [downloading, setDownloading] = useState(false);
  const sample = useSampleCurl(created);
  return (
    <Paper withBorder p="md" radius="md" data-testid="secret-reveal">
      <Stack gap="sm">
        <Alert color="orange" icon={<IconAlertTriangle aria-hidden />} title="Copy the secret key now">
          This is the only time the secret key is shown. It is stored encrypted and cannot be shown again
          after you close this window. If you lose it, generate a new secret key.
        </Alert>
        <CopyableField label="Access key" value={created.accessKeyId} testId="reveal-access-key" />
        <CopyableField label="Secret key" value={created.secretAccessKey} testId="reveal-secret-key" />
        <Group gap="xs">
          <Text size="sm">Tenant ID</Text>
          <Code>{created.tenantId}</Code>
          <CopyTextButton
            variant="filled"
            text={copyAllFormat(created.accessKeyId, created.secretAccessKey, created.tenantId)}
            label="Copy all"
            accessibleName="Copy all: access key, secret key and tenant ID"
          />
        </Group>

        <Title order={3} size="h4" mt="sm">
          Test with AWS Signature Version 4
        </Title>
        <Text size="sm" c="dimmed">
          Requests are signed with AWS Signature Version 4 (scope {scope.region}/{scope.service}). Test
          Connection signs <Code>GET /profile</Code> in your browser with this key and shows the server's
          answer.
        </Text>
        <Group gap="xs">
          <Button
            leftSection={<IconPlugConnected size={16} aria-hidden />}
            loading={testing}
            onClick={async () => {
              setTesting(true);
              setResult(null);
              try {
                setResult(await testConnection(origin, scope, created.accessKeyId, created.secretAccessKey));
              } finally {
                setTesting(false);
              }
            }}
          >
            Test Connection
          </Button>
          <Button
            variant="default"
            leftSection={<IconDownload size={16} aria-hidden />}
            loading={downloading}
            onClick={async () => {
              setDownloading(true);
              setPostmanError(null);
              try {
                await downloadPostmanCollection();
              } catch (e) {
                setPostmanError(
                  e instanceof ApiError && e.status === 404
                    ? new ApiError(
                        404,
                        e.code,
                        'this server does not offer the Postman collection yet (GET /iam/postman-collection)',
                        e.requestId,
                      )
                    : e,
                );
              } finally {
                setDownloading(false);
              }
            }}
          >
            Download Postman Collection
          </Button>
        </Group>
        {result ? (
          <Alert
            color={!result.ok ? 'red' : result.readsNothing ? 'orange' : 'teal'}
            title={
              !result.ok
                ? 'Connection failed'
                : result.readsNothing
                  ? 'Signed in, but this key can read nothing'
                  : 'Connection succeeded'
            }
            role="status"
            data-testid="connection-result"
          >
            {result.ok ? (
              <Stack gap={4}>
                <Text size="sm">
                  Signed in as {result.identity}; {result.detail}.
                </Text>
                {result.readsNothing ? (
                  <Text size="sm">
                    The key has no data permission (such as <Code>agent:read</Code>), so every data request is
                    refused. Give its owner, or the key, a role with data permissions, such as DataReadOnly.
                  </Text>
                ) : null}
              </Stack>
            ) : (
              <Text size="sm" component="div">
                HTTP {result.status}: {result.message}{' '}
                <Badge color="red" variant="light" data-testid="connection-error-code">
                  {result.code}
                </Badge>
              </Text>
            )}
          </Alert>
        ) : null}
        <ErrorAlert error={postmanError} onClose={() => setPostmanError(null)} />
        <Group justify="space-between" align="center" wrap="nowrap">
          <Group gap={6}>
            <IconTerminal2 size={16} aria-hidden />
            <Text size="sm" fw={500}>
              Sample cURL
            </Text>
          </Group>
          {sample.data ? (
            <CopyTextButton text={sample.data.sigv4} label="Copy" accessibleName="Copy sample cURL" />
          ) : null}
        </Group>
        {sample.data ? (
          <>
            <Code block data-testid="sample-curl" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
              {sample.data.sigv4}
            </Code>
            <Text size="xs" c="dimmed">
              Lists agents; needs curl 7.75 or newer (<Code>curl --version</Code>).
              {sample.data.precomputed
                ? ' For an older curl, copy the command with the signature already made (valid for 15 minutes).'
                : null}
            </Text>
            {sample.data.precomputed ? (
              <Group>
                <CopyTextButton
                  variant="default"
                  text={sample.data.precomputed}
                  label="Copy for older curl"
                  accessibleName="Copy for older curl: the command for curl older than 7.75"
                />
              </Group>
            ) : null}
          </>
        ) : sample.error ? (
          <ErrorAlert error={sample.error} />
        ) : (
          <Loader size="sm" aria-label="Loading the sample cURL" />
        )}
      </Stack>
    </Paper>
  );
}
