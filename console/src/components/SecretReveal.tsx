import { Alert, Badge, Button, Code, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import {
  IconAlertTriangle,
  IconCheck,
  IconCopy,
  IconDownload,
  IconPlugConnected,
  IconTerminal2,
} from '@tabler/icons-react';
import { useState } from 'react';
import { ApiError, api, type CreatedKey, errorFrom } from '../api';
import { copyAllFormat, DEFAULT_SCOPE, type SigningScope, sampleCurl } from '../format';
import { ErrorAlert } from '../shared';
import { signRequest } from '../sigv4';

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

interface ConnectionResult {
  ok: boolean;
  status: number;
  code?: string;
  message?: string;
  identity?: string;
  detail?: string;
}

/** Sign GET /profile with the new key (SigV4, Web Crypto) and report what the server says. */
export async function testConnection(
  origin: string,
  scope: SigningScope,
  accessKeyId: string,
  secretAccessKey: string,
): Promise<ConnectionResult> {
  const url = `${origin}/profile`;
  const signed = await signRequest({
    method: 'GET',
    url,
    accessKeyId,
    secretAccessKey,
    region: scope.region,
    service: scope.service,
  });
  let response: Response;
  try {
    response = await fetch(url, { headers: signed.headers, credentials: 'omit', cache: 'no-store' });
  } catch {
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
  };
  const who = body.principal;
  return {
    ok: true,
    status: response.status,
    identity: who
      ? `${who.name ?? ''}${who.email ? ` <${who.email}>` : ''} (${who.type ?? 'principal'})`
      : 'unknown',
    detail: `tenant ${body.tenantId ?? '?'}, access key ${body.accessKeyId ?? accessKeyId}`,
  };
}

async function downloadPostmanCollection(): Promise<void> {
  const collection = await api.get<unknown>('/iam/postman-collection');
  const blob = new Blob([JSON.stringify(collection, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = 'postman_collection.json';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
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
  // The signing scope comes from GET /version: the secret never travels back to the server.
  const curl = sampleCurl(origin, scope, created.accessKeyId, created.secretAccessKey);
  return (
    <Paper withBorder p="md" radius="md" data-testid="secret-reveal">
      <Stack gap="sm">
        <Alert color="orange" icon={<IconAlertTriangle aria-hidden />} title="Copy the secret key now">
          This is the only time the secret key is shown. It is stored encrypted and cannot be shown again
          after you close this window. If you lose it, generate a new secret key.
        </Alert>
        <Group align="flex-end" wrap="nowrap">
          <TextInput
            label="Access key"
            value={created.accessKeyId}
            readOnly
            style={{ flex: 1 }}
            data-testid="reveal-access-key"
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <CopyTextButton text={created.accessKeyId} label="Copy" accessibleName="Copy access key" />
        </Group>
        <Group align="flex-end" wrap="nowrap">
          <TextInput
            label="Secret key"
            value={created.secretAccessKey}
            readOnly
            style={{ flex: 1 }}
            data-testid="reveal-secret-key"
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <CopyTextButton text={created.secretAccessKey} label="Copy" accessibleName="Copy secret key" />
        </Group>
        <Group gap="xs">
          <Text size="sm">Tenant ID</Text>
          <Code>{created.tenantId}</Code>
          <CopyTextButton
            variant="filled"
            text={copyAllFormat(created.accessKeyId, created.secretAccessKey, created.tenantId)}
            label="Copy all"
            accessibleName="Copy access key, secret key and tenant ID"
          />
        </Group>

        <Title order={4} mt="sm">
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
            color={result.ok ? 'teal' : 'red'}
            title={result.ok ? 'Connection succeeded' : 'Connection failed'}
            role="status"
            data-testid="connection-result"
          >
            {result.ok ? (
              <Text size="sm">
                Signed in as {result.identity}; {result.detail}.
              </Text>
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
          <CopyTextButton text={curl} label="Copy" accessibleName="Copy sample cURL" />
        </Group>
        <Code block data-testid="sample-curl" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
          {curl}
        </Code>
      </Stack>
    </Paper>
  );
}
