import { Alert, Button, Divider, Loader, Text } from '@mantine/core';
import { IconBuildingSkyscraper } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { client } from '../api';
import { ErrorAlert } from '../shared';

/** What a single sign-on callback left in the address's fragment (read once, then removed). */
function takeOutcome(): { code?: string; error?: string; message?: string } | null {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash.includes('sso_')) return null;
  const params = new URLSearchParams(hash);
  // Out of the address bar and the history at once: the code is single-use and a reload must not retry it.
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  return {
    ...(params.get('sso_code') ? { code: params.get('sso_code') as string } : {}),
    ...(params.get('sso_error') ? { error: params.get('sso_error') as string } : {}),
    ...(params.get('sso_message') ? { message: params.get('sso_message') as string } : {}),
  };
}

/**
 * "Sign in with SSO" on the sign-in page: leaves for the tenant's identity provider (found from the
 * email's domain), and on the way back exchanges the one-time code for a session token.
 */
export function SsoSignIn({ email, onSignedIn }: { email: string; onSignedIn: (token: string) => void }) {
  const [missingEmail, setMissingEmail] = useState(false);
  const [exchanging, setExchanging] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [idpError, setIdpError] = useState<{ code: string; message: string } | null>(null);

  useEffect(() => {
    const outcome = takeOutcome();
    if (!outcome) return;
    if (outcome.error) {
      setIdpError({ code: outcome.error, message: outcome.message ?? 'single sign-on failed' });
      return;
    }
    if (!outcome.code) return;
    setExchanging(true);
    client
      .login({ body: { auth_mode: 'sso', code: outcome.code } }, { anonymous: true })
      .then((result) => onSignedIn(result.token))
      .catch((e: unknown) => setError(e))
      .finally(() => setExchanging(false));
  }, [onSignedIn]);

  if (exchanging) {
    return (
      <Text size="sm" role="status">
        <Loader size="xs" mr="xs" aria-hidden />
        Finishing single sign-on…
      </Text>
    );
  }
  return (
    <>
      <Divider label="or" labelPosition="center" />
      {idpError ? (
        <Alert color="red" title="Single sign-on did not sign you in" role="alert">
          {idpError.message} <strong>({idpError.code})</strong>
        </Alert>
      ) : null}
      <ErrorAlert error={error} />
      <Button
        type="button"
        variant="default"
        fullWidth
        leftSection={<IconBuildingSkyscraper size={16} aria-hidden />}
        onClick={() => {
          if (!/^[^@\s]+@[^@\s]+$/.test(email.trim())) {
            setMissingEmail(true);
            return;
          }
          window.location.assign(`/iam/sso/start?${new URLSearchParams({ email: email.trim() }).toString()}`);
        }}
      >
        Sign in with SSO
      </Button>
      {missingEmail ? (
        <Text size="sm" c="red" role="alert">
          Type your work email above first: it tells latchkey which organisation signs you in.
        </Text>
      ) : null}
    </>
  );
}
