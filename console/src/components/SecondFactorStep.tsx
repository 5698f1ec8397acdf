import { Alert, Button, Code, CopyButton, Group, List, Stack, Text, TextInput, Title } from '@mantine/core';
import { startAuthentication } from '@simplewebauthn/browser';
import { useEffect, useRef, useState } from 'react';
import { ApiError, client } from '../api';
import { ErrorAlert } from '../shared';

/** What an MFA_REQUIRED or MFA_ENROLMENT_REQUIRED answer carries (src/auth/mfa/gate.ts). */
export interface SecondFactorChallenge {
  challenge: string;
  methods: string[];
  /** The tenant requires a second factor and the person has none yet: set one up first. */
  enrol: boolean;
}

/** The challenge of a sign-in answer that asks for a second factor (null for any other error). */
export function secondFactorChallenge(error: unknown): SecondFactorChallenge | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code !== 'MFA_REQUIRED' && error.code !== 'MFA_ENROLMENT_REQUIRED') return null;
  const { challenge, methods } = error.details;
  if (typeof challenge !== 'string') return null;
  return {
    challenge,
    methods: Array.isArray(methods) ? methods.filter((m): m is string => typeof m === 'string') : [],
    enrol: error.code === 'MFA_ENROLMENT_REQUIRED',
  };
}

/** Recovery codes, shown once, with a copy button. */
export function RecoveryCodeList({ codes }: { codes: string[] }) {
  return (
    <Stack gap="xs">
      <Text size="sm">
        Keep these recovery codes somewhere safe. Each one signs you in once if you lose your authenticator.
        They are not shown again.
      </Text>
      <List spacing={2} size="sm" data-testid="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <List.Item key={c}>
            <Code>{c}</Code>
          </List.Item>
        ))}
      </List>
      <CopyButton value={codes.join('\n')}>
        {({ copied, copy }) => (
          <Button variant="light" size="xs" onClick={copy} w="fit-content">
            {copied ? 'Copied' : 'Copy the codes'}
          </Button>
        )}
      </CopyButton>
    </Stack>
  );
}

/** The secret and otpauth URL of a new authenticator, as copyable text (no QR library is installed). */
export function TotpSecret({ secret, otpauthUrl }: { secret: string; otpauthUrl: string }) {
  return (
    <Stack gap="xs">
      <Text size="sm">
        In your authenticator app, add an account with this key (time-based, 6 digits, every 30 seconds), or
        open the link on the device that has the app.
      </Text>
      <Group gap="xs" wrap="nowrap" align="flex-end">
        <TextInput label="Key" readOnly value={secret} data-testid="totp-secret" style={{ flex: 1 }} />
        <CopyButton value={secret}>
          {({ copied, copy }) => (
            <Button variant="light" onClick={copy} aria-label="Copy the key">
              {copied ? 'Copied' : 'Copy'}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Group gap="xs" wrap="nowrap" align="flex-end">
        <TextInput label="Link (otpauth URL)" readOnly value={otpauthUrl} style={{ flex: 1 }} />
        <CopyButton value={otpauthUrl}>
          {({ copied, copy }) => (
            <Button variant="light" onClick={copy} aria-label="Copy the link">
              {copied ? 'Copied' : 'Copy'}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

/**
 * The second step of a password sign-in: a code from the authenticator app, a recovery code, or a
 * passkey; or, when the tenant requires a second factor the person does not have, setting up an
 * authenticator app first. Ends with `onSignedIn(token)`; `onRestart` goes back to the password.
 */
export function SecondFactorStep({
  step,
  onSignedIn,
  onRestart,
}: {
  step: SecondFactorChallenge;
  onSignedIn: (token: string) => void;
  onRestart: () => void;
}) {
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [setup, setSetup] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [saved, setSaved] = useState<{ token: string; codes: string[] } | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const ended = error instanceof ApiError && error.code === 'MFA_CHALLENGE_INVALID';

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  const finish = async (body: { code: string } | { webauthn: Record<string, unknown> }) => {
    setBusy(true);
    setError(null);
    setCodeError(null);
    try {
      const result = await client.login(
        { body: { auth_mode: 'mfa', challenge: step.challenge, ...body } },
        { anonymous: true },
      );
      if (result.recoveryCodes) setSaved({ token: result.token, codes: result.recoveryCodes });
      else onSignedIn(result.token);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'MFA_CODE_INVALID') {
        setCodeError(
          'webauthn' in body
            ? 'The passkey was not accepted. Try again or use a code.'
            : 'That code is not right.',
        );
        inputRef.current?.focus();
      } else setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (saved) {
    return (
      <Stack>
        <Title order={1} size="h3" ref={headingRef} tabIndex={-1}>
          Two-factor sign-in is on
        </Title>
        <RecoveryCodeList codes={saved.codes} />
        <Button onClick={() => onSignedIn(saved.token)}>I have saved the codes: continue</Button>
      </Stack>
    );
  }

  const label = useRecovery ? 'Recovery code' : 'Authentication code';
  return (
    <form
      noValidate
      onSubmit={async (event) => {
        event.preventDefault();
        if (!code.trim()) {
          setCodeError(useRecovery ? 'Enter a recovery code.' : 'Enter the 6-digit code from your app.');
          inputRef.current?.focus();
          return;
        }
        await finish({ code: code.trim() });
      }}
    >
      <Stack>
        <Title order={1} size="h3" ref={headingRef} tabIndex={-1}>
          {step.enrol ? 'Set up two-factor sign-in' : 'Two-factor sign-in'}
        </Title>
        {step.enrol ? (
          setup ? (
            <TotpSecret secret={setup.secret} otpauthUrl={setup.otpauthUrl} />
          ) : (
            <Stack gap="xs">
              <Text size="sm">
                Your organisation requires a second factor. Set up an authenticator app to finish signing in.
              </Text>
              <Button
                variant="light"
                loading={busy}
                onClick={async () => {
                  setBusy(true);
                  setError(null);
                  try {
                    setSetup(
                      await client.loginMfaEnrolment(
                        { body: { challenge: step.challenge } },
                        { anonymous: true },
                      ),
                    );
                  } catch (e) {
                    setError(e);
                  } finally {
                    setBusy(false);
                  }
                }}
              >
                Set up an authenticator app
              </Button>
            </Stack>
          )
        ) : (
          <Text size="sm">
            {useRecovery
              ? 'Enter one of your recovery codes. Each code works once.'
              : 'Enter the 6-digit code from your authenticator app.'}
          </Text>
        )}
        {!step.enrol || setup ? (
          <TextInput
            ref={inputRef}
            label={label}
            autoComplete="one-time-code"
            inputMode={useRecovery ? 'text' : 'numeric'}
            required
            maxLength={32}
            value={code}
            error={codeError}
            onChange={(e) => {
              setCode(e.currentTarget.value);
              setCodeError(null);
            }}
          />
        ) : null}
        {ended ? (
          <Alert color="orange" title="Sign in again" role="alert">
            This sign-in has ended (it expired, was used, or had too many wrong codes). Enter your password
            again. <strong>(MFA_CHALLENGE_INVALID)</strong>
          </Alert>
        ) : (
          <ErrorAlert error={error} />
        )}
        {!step.enrol || setup ? (
          <Button type="submit" loading={busy} fullWidth disabled={ended}>
            Verify
          </Button>
        ) : null}
        {!step.enrol && step.methods.includes('webauthn') ? (
          <Button
            variant="light"
            fullWidth
            disabled={busy || ended}
            onClick={async () => {
              setError(null);
              setCodeError(null);
              try {
                const optionsJSON = await client.loginWebauthnOptions(
                  { body: { challenge: step.challenge } },
                  { anonymous: true },
                );
                const assertion = await startAuthentication({ optionsJSON: optionsJSON as never });
                await finish({ webauthn: assertion as unknown as Record<string, unknown> });
              } catch (e) {
                setError(e);
              }
            }}
          >
            Use a passkey
          </Button>
        ) : null}
        {!step.enrol && step.methods.includes('recovery') ? (
          <Button
            variant="subtle"
            size="compact-sm"
            onClick={() => {
              setUseRecovery((r) => !r);
              setCode('');
              setCodeError(null);
              inputRef.current?.focus();
            }}
          >
            {useRecovery ? 'Use the authenticator app instead' : 'Use a recovery code'}
          </Button>
        ) : null}
        <Button variant="default" onClick={onRestart}>
          Back to the password
        </Button>
      </Stack>
    </form>
  );
}
