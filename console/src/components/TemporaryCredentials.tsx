import { Alert, Button, Code, Group, Select, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { client } from '../api';
import { ErrorAlert } from '../shared';
import { CopyableField, CopyTextButton } from './SecretReveal';

type Issued = Awaited<ReturnType<typeof client.createSessionCredentials>>;

const DURATIONS = [
  { value: '900', label: '15 minutes' },
  { value: '3600', label: '1 hour' },
  { value: '14400', label: '4 hours' },
  { value: '43200', label: '12 hours' },
];

/** The three AWS environment variables every AWS SDK, the AWS CLI and botocore read. */
export function awsEnvironment(c: Pick<Issued, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>): string {
  return [
    `export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
    `export AWS_SESSION_TOKEN=${c.sessionToken}`,
  ].join('\n');
}

/**
 * Temporary SigV4 credentials for the signed-in person (POST /iam/session-credentials): for a
 * script or a laptop that should not hold a long-term key. They follow this sign-in: a new password
 * ends them. Shown once.
 */
export function TemporaryCredentialsForm({ onClose }: { onClose: () => void }) {
  const [duration, setDuration] = useState<string>('3600');
  const [issued, setIssued] = useState<Issued | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (issued) {
    return (
      <Stack>
        <Alert color="yellow" title="Copy them now" role="status">
          The secret and the session token are shown only this once. They stop working at{' '}
          {new Date(issued.expiration).toLocaleString()}, or when your password changes.
        </Alert>
        <CopyableField label="Access key ID" value={issued.accessKeyId} testId="temp-access-key" />
        <CopyableField label="Secret access key" value={issued.secretAccessKey} testId="temp-secret" />
        <CopyableField label="Session token" value={issued.sessionToken} testId="temp-token" />
        <Text size="sm">
          Sign requests with all three, as with AWS STS credentials: the token goes in the{' '}
          <Code>X-Amz-Security-Token</Code> header.
        </Text>
        <Group justify="space-between">
          <CopyTextButton text={awsEnvironment(issued)} label="Copy as environment variables" />
          <Button onClick={onClose} data-autofocus>
            Done
          </Button>
        </Group>
      </Stack>
    );
  }

  return (
    <form
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        setBusy(true);
        try {
          setIssued(await client.createSessionCredentials({ body: { durationSeconds: Number(duration) } }));
        } catch (e) {
          setError(e);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Stack>
        <Text size="sm">
          Short-lived credentials that sign requests like an access key, with what you may do now. They are
          not listed with your keys and end by themselves.
        </Text>
        <Select
          label="Valid for"
          data={DURATIONS}
          value={duration}
          onChange={(v) => setDuration(v ?? '3600')}
          allowDeselect={false}
          data-autofocus
        />
        {error ? <ErrorAlert error={error} /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={busy}>
            Create
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
