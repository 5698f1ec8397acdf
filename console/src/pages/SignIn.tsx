import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Radio,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconLock } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { ApiError, client, type TenantChoice, tenantChoices } from '../api';
import { ColorSchemeMenu } from '../components/ColorSchemeMenu';
import {
  type SecondFactorChallenge,
  SecondFactorStep,
  secondFactorChallenge,
} from '../components/SecondFactorStep';
import { SsoSignIn } from '../components/SsoSignIn';
import { ErrorAlert } from '../shared';

export function SignIn({
  notice,
  onSignedIn,
}: {
  notice?: string | null;
  onSignedIn: (token: string) => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Set when this email and password sign in to several tenants: the person picks one.
  const [tenants, setTenants] = useState<TenantChoice[] | null>(null);
  const [tenantId, setTenantId] = useState<string | null>(null);
  const [tenantMissing, setTenantMissing] = useState(false);
  const chooserRef = useRef<HTMLDivElement>(null);
  // Set when the password was right and a second factor is asked for (or must be set up).
  const [secondFactor, setSecondFactor] = useState<SecondFactorChallenge | null>(null);
  const apiUser = error instanceof ApiError && error.code === 'API_USER_PASSWORD_LOGIN';

  // The chooser appears after a submit: bring keyboard and screen-reader focus to it.
  useEffect(() => {
    if (tenants) chooserRef.current?.querySelector<HTMLInputElement>('input[type=radio]')?.focus();
  }, [tenants]);

  // Other credentials may belong to other tenants: ask again.
  const resetChoice = () => {
    setTenants(null);
    setTenantId(null);
    setTenantMissing(false);
  };

  if (secondFactor) {
    return (
      <Center mih="100vh" p="md" className="signin-page">
        <Paper withBorder shadow="sm" p="xl" radius="md" w={420} maw="100%" component="main">
          <SecondFactorStep
            step={secondFactor}
            onSignedIn={onSignedIn}
            onRestart={() => {
              setSecondFactor(null);
              setPassword('');
            }}
          />
        </Paper>
      </Center>
    );
  }

  return (
    <Center mih="100vh" p="md" className="signin-page">
      <Paper withBorder shadow="sm" p="xl" radius="md" w={420} maw="100%" component="main">
        <form
          onSubmit={async (event) => {
            event.preventDefault();
            if (tenants && !tenantId) {
              setTenantMissing(true);
              return;
            }
            setBusy(true);
            setError(null);
            try {
              const result = await client.login(
                {
                  body: {
                    auth_mode: 'password',
                    email,
                    password,
                    ...(tenants && tenantId ? { tenantId } : {}),
                  },
                },
                { anonymous: true },
              );
              onSignedIn(result.token);
            } catch (e) {
              const choices = tenantChoices(e);
              const mfa = secondFactorChallenge(e);
              if (mfa) {
                setSecondFactor(mfa);
              } else if (choices.length > 1) {
                setTenants(choices);
                setTenantId(null);
              } else {
                setError(e);
              }
            } finally {
              setBusy(false);
            }
          }}
        >
          <Stack>
            <Stack gap={4} align="center">
              <IconLock size={32} aria-hidden />
              <Title order={1} size="h2">
                latchkey
              </Title>
              <Text c="dimmed" size="sm">
                Sign in to manage users, access keys and permissions
              </Text>
            </Stack>
            {notice ? (
              <Alert color="yellow" role="status">
                {notice}
              </Alert>
            ) : null}
            <TextInput
              label="Email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => {
                setEmail(e.currentTarget.value);
                resetChoice();
              }}
            />
            <PasswordInput
              label="Password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => {
                setPassword(e.currentTarget.value);
                resetChoice();
              }}
            />
            {tenants ? (
              <div ref={chooserRef}>
                <Radio.Group
                  label="Tenant"
                  description="This email and password sign in to several tenants. Choose the one to sign in to."
                  value={tenantId}
                  onChange={(v) => {
                    setTenantId(v);
                    setTenantMissing(false);
                  }}
                  error={tenantMissing ? 'Choose a tenant to sign in to.' : undefined}
                  required
                  data-testid="tenant-chooser"
                >
                  <Stack gap={8} mt={6}>
                    {tenants.map((t) => (
                      <Radio key={t.id} value={t.id} label={t.name} description={`Tenant ID ${t.id}`} />
                    ))}
                  </Stack>
                </Radio.Group>
              </div>
            ) : null}
            {apiUser ? (
              <Alert color="orange" title="This is an API user" role="alert">
                An API secret key was generated for this account, so it can no longer sign in to the console.
                It signs requests with its access key and secret key only. Ask an administrator to turn off
                API-user status if you need to sign in again. <strong>(API_USER_PASSWORD_LOGIN)</strong>
              </Alert>
            ) : (
              <ErrorAlert error={error} />
            )}
            <Button type="submit" loading={busy} fullWidth>
              Sign in
            </Button>
            <SsoSignIn email={email} onSignedIn={onSignedIn} />
          </Stack>
        </form>
      </Paper>
      {/* After the form in the Tab order: signing in comes first. */}
      <div className="signin-scheme">
        <ColorSchemeMenu />
      </div>
    </Center>
  );
}
