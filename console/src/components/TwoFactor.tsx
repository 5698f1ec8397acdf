import { Alert, Badge, Button, Divider, Group, Loader, Stack, Text, TextInput, Title } from '@mantine/core';
import { startRegistration } from '@simplewebauthn/browser';
import { useState } from 'react';
import { ApiError, client } from '../api';
import { ErrorAlert, useLoad } from '../shared';
import { RecoveryCodeList, TotpSecret } from './SecondFactorStep';

/** A code field for confirming a change: its error is tied to it (aria-describedby through Mantine). */
function CodeField({
  label,
  value,
  error,
  onChange,
}: {
  label: string;
  value: string;
  error: string | null;
  onChange: (v: string) => void;
}) {
  return (
    <TextInput
      label={label}
      description="A code from your authenticator app, or a recovery code."
      autoComplete="one-time-code"
      maxLength={32}
      required
      value={value}
      error={error}
      onChange={(e) => onChange(e.currentTarget.value)}
    />
  );
}

const codeProblem = (e: unknown): string | null =>
  e instanceof ApiError && e.code === 'MFA_CODE_INVALID' ? 'That code is not right.' : null;

/**
 * The signed-in person's second factors (from the account menu): the authenticator app (TOTP),
 * recovery codes, passkeys. Secrets and recovery codes are shown once, never stored by the console.
 */
export function TwoFactorSettings({ onClose }: { onClose: () => void }) {
  const status = useLoad((signal) => client.getMyMfa({}, { signal }), []);
  const [setup, setSetup] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<null | 'remove-totp' | 'new-codes' | { passkey: string }>(
    null,
  );
  const [passkeyName, setPasskeyName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setCodeError(null);
    try {
      await action();
    } catch (e) {
      const problem = codeProblem(e);
      if (problem) setCodeError(problem);
      else setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (status.loading && !status.data) return <Loader size="sm" aria-label="Loading" />;
  const s = status.data;
  if (!s) return <ErrorAlert error={status.error} />;

  if (codes) {
    return (
      <Stack>
        <RecoveryCodeList codes={codes} />
        <Group justify="flex-end">
          <Button
            data-autofocus
            onClick={() => {
              setCodes(null);
              status.reload();
            }}
          >
            Done
          </Button>
        </Group>
      </Stack>
    );
  }

  return (
    <Stack>
      {s.required && !s.totp && s.passkeys.length === 0 ? (
        <Alert color="yellow" role="status">
          Your organisation requires two-factor sign-in: set up a second factor.
        </Alert>
      ) : null}
      <Title order={2} size="h4">
        Authenticator app
      </Title>
      {s.totp ? (
        <Group gap="xs">
          <Badge color="teal" variant="light">
            On
          </Badge>
          <Text size="sm">{s.recoveryCodesLeft} recovery codes left</Text>
        </Group>
      ) : setup ? (
        <form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            if (!code.trim()) return setCodeError('Enter the 6-digit code from your app.');
            void run(async () => {
              const answer = await client.verifyTotp({ body: { code: code.trim() } });
              setSetup(null);
              setCode('');
              setCodes(answer.recoveryCodes);
            });
          }}
        >
          <Stack>
            <TotpSecret secret={setup.secret} otpauthUrl={setup.otpauthUrl} />
            <TextInput
              label="Code from the app"
              autoComplete="one-time-code"
              inputMode="numeric"
              maxLength={32}
              required
              value={code}
              error={codeError}
              onChange={(e) => setCode(e.currentTarget.value)}
            />
            <Group justify="flex-end">
              <Button type="submit" loading={busy}>
                Turn on
              </Button>
            </Group>
          </Stack>
        </form>
      ) : (
        <Group>
          <Text size="sm">Off.</Text>
          <Button
            variant="light"
            loading={busy}
            onClick={() => void run(async () => setSetup(await client.startTotp({ body: {} })))}
          >
            Set up an authenticator app
          </Button>
        </Group>
      )}
      <Divider />
      <Title order={2} size="h4">
        Passkeys
      </Title>
      {s.passkeys.length === 0 ? <Text size="sm">None.</Text> : null}
      {s.passkeys.map((p) => (
        <Group key={p.id} justify="space-between">
          <Text size="sm">{p.name}</Text>
          <Button
            variant="subtle"
            color="red"
            size="compact-sm"
            aria-label={`Remove passkey ${p.name}`}
            onClick={() => setConfirming({ passkey: p.id })}
          >
            Remove
          </Button>
        </Group>
      ))}
      <Group align="flex-end">
        <TextInput
          label="New passkey name"
          maxLength={100}
          value={passkeyName}
          onChange={(e) => setPasskeyName(e.currentTarget.value)}
          style={{ flex: 1 }}
        />
        <Button
          variant="light"
          loading={busy}
          onClick={() =>
            void run(async () => {
              const optionsJSON = await client.passkeyRegistrationOptions({ body: {} });
              const response = await startRegistration({ optionsJSON: optionsJSON as never });
              const answer = await client.registerPasskey({
                body: {
                  ...(passkeyName.trim() ? { name: passkeyName.trim() } : {}),
                  response: response as unknown as Record<string, unknown>,
                },
              });
              setPasskeyName('');
              if (answer.recoveryCodes) setCodes(answer.recoveryCodes);
              else status.reload();
            })
          }
        >
          Add a passkey
        </Button>
      </Group>
      {s.totp || s.passkeys.length > 0 ? (
        <>
          <Divider />
          {confirming ? (
            <form
              noValidate
              onSubmit={(event) => {
                event.preventDefault();
                if (!code.trim()) return setCodeError('Enter a code.');
                void run(async () => {
                  const body = { code: code.trim() };
                  if (confirming === 'remove-totp') await client.deleteTotp({ body });
                  else if (confirming === 'new-codes')
                    setCodes((await client.regenerateRecoveryCodes({ body })).recoveryCodes);
                  else await client.deletePasskey({ params: { passkeyId: confirming.passkey }, body });
                  setConfirming(null);
                  setCode('');
                  status.reload();
                });
              }}
            >
              <Stack>
                <CodeField
                  label={
                    confirming === 'remove-totp'
                      ? 'Code to remove the authenticator app'
                      : confirming === 'new-codes'
                        ? 'Code to make new recovery codes'
                        : 'Code to remove the passkey'
                  }
                  value={code}
                  error={codeError}
                  onChange={setCode}
                />
                <Group justify="flex-end">
                  <Button variant="default" onClick={() => setConfirming(null)}>
                    Cancel
                  </Button>
                  <Button type="submit" loading={busy} color={confirming === 'new-codes' ? undefined : 'red'}>
                    Confirm
                  </Button>
                </Group>
              </Stack>
            </form>
          ) : (
            <Group>
              <Button variant="default" onClick={() => setConfirming('new-codes')}>
                New recovery codes
              </Button>
              {s.totp ? (
                <Button variant="default" color="red" onClick={() => setConfirming('remove-totp')}>
                  Remove the authenticator app
                </Button>
              ) : null}
            </Group>
          )}
        </>
      ) : null}
      <ErrorAlert error={error} />
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Close
        </Button>
      </Group>
    </Stack>
  );
}
