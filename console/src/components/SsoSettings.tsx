import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  Loader,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import type { Static } from '@sinclair/typebox';
import { useEffect, useState } from 'react';
import type * as V from '../../../src/contract/views';
import { client } from '../api';
import { ErrorAlert, useAction, useConsole, useLoad } from '../shared';
import { CopyTextButton } from './SecretReveal';

type SsoConfig = Static<typeof V.SsoConfigView>;

interface Draft {
  issuer: string;
  clientId: string;
  clientSecret: string;
  enabled: boolean;
  jitEnabled: boolean;
  jitGroupId: string | null;
  domains: string;
}

const draftOf = (c: SsoConfig): Draft => ({
  issuer: c.issuer ?? '',
  clientId: c.clientId ?? '',
  clientSecret: '',
  enabled: c.configured ? c.enabled : true,
  jitEnabled: c.jitEnabled,
  jitGroupId: c.jitGroupId,
  domains: c.allowedDomains.join(', '),
});

/** IAM settings → Single sign-on: the tenant's OIDC identity provider (its own form and save). */
export function SsoSettings() {
  const { can } = useConsole();
  const loaded = useLoad(
    async (signal) => {
      const [config, groups] = await Promise.all([
        client.getSso({}, { signal }),
        can('iam:groups:read') ? client.listGroups({}, { signal }) : Promise.resolve({ items: [] }),
      ]);
      return { config, groups: groups.items };
    },
    [can],
  );
  const [config, setConfig] = useState<SsoConfig | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [subject, setSubject] = useState('');
  const save = useAction();
  const disable = useAction();
  useEffect(() => {
    if (loaded.data) {
      setConfig(loaded.data.config);
      setDraft(draftOf(loaded.data.config));
    }
  }, [loaded.data]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (!config || !draft || !loaded.data) return <Loader aria-label="Loading single sign-on settings" />;
  const readOnly = !can('iam:settings:manage');
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setSaved(null);
    setDraft({ ...draft, [k]: v });
  };
  const groups = loaded.data.groups.map((g) => ({ value: g.id, label: g.name }));
  return (
    <Card withBorder padding="lg" component="section" aria-labelledby="sso">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(null);
          save.run(async () => {
            const next = await client.putSso({
              body: {
                issuer: draft.issuer.trim(),
                clientId: draft.clientId.trim(),
                ...(draft.clientSecret ? { clientSecret: draft.clientSecret } : {}),
                enabled: draft.enabled,
                jitEnabled: draft.jitEnabled,
                jitGroupId: draft.jitEnabled ? draft.jitGroupId : null,
                allowedDomains: draft.domains
                  .split(/[\s,]+/)
                  .map((d) => d.trim())
                  .filter(Boolean),
              },
            });
            setConfig(next);
            setDraft(draftOf(next));
            setSaved('Single sign-on saved.');
          });
        }}
      >
        <Title order={3} id="sso" mb="sm">
          Single sign-on
        </Title>
        <Stack>
          <Text size="sm" c="dimmed">
            People sign in to the console through your OpenID Connect identity provider. Register latchkey at
            the provider as a web application with this redirect URI, then enter its issuer, client ID and
            client secret.
          </Text>
          <Group gap="xs" wrap="nowrap" align="center">
            <Code style={{ overflowWrap: 'anywhere' }} data-testid="sso-redirect-uri">
              {config.redirectUri}
            </Code>
            <CopyTextButton text={config.redirectUri} label="Copy" accessibleName="Copy the redirect URI" />
          </Group>
          <TextInput
            label="Issuer URL"
            description="The provider's issuer, e.g. https://login.example.com/realms/staff"
            required
            disabled={readOnly}
            value={draft.issuer}
            onChange={(e) => set('issuer', e.currentTarget.value)}
          />
          <TextInput
            label="Client ID"
            required
            disabled={readOnly}
            value={draft.clientId}
            onChange={(e) => set('clientId', e.currentTarget.value)}
          />
          <PasswordInput
            label="Client secret"
            description={
              config.clientSecretSet
                ? 'A secret is stored (never shown). Leave empty to keep it, or type a new one.'
                : 'Stored encrypted and never shown again.'
            }
            required={!config.clientSecretSet}
            autoComplete="new-password"
            disabled={readOnly}
            value={draft.clientSecret}
            onChange={(e) => set('clientSecret', e.currentTarget.value)}
          />
          <TextInput
            label="Email domains"
            description="Comma-separated. Only these domains sign in, and people can start from their email. Empty: any domain, sign-in link only."
            disabled={readOnly}
            value={draft.domains}
            onChange={(e) => set('domains', e.currentTarget.value)}
          />
          <Switch
            label="Single sign-on is on"
            disabled={readOnly}
            checked={draft.enabled}
            onChange={(e) => set('enabled', e.currentTarget.checked)}
          />
          <Switch
            label="Create users on their first sign-in"
            description="A verified email that matches no user becomes a new user (without a password)."
            disabled={readOnly}
            checked={draft.jitEnabled}
            onChange={(e) => set('jitEnabled', e.currentTarget.checked)}
          />
          {draft.jitEnabled ? (
            <Select
              label="New users join the group"
              placeholder="No group"
              clearable
              disabled={readOnly}
              data={groups}
              value={draft.jitGroupId}
              onChange={(v) => set('jitGroupId', v)}
            />
          ) : null}
          {config.configured ? (
            <Text size="sm">
              Sign-in link for this tenant:{' '}
              <Code style={{ overflowWrap: 'anywhere' }}>{config.signInUrl}</Code>
            </Text>
          ) : null}
          <ErrorAlert error={save.error} />
          {saved ? (
            <Text c="teal" role="status">
              {saved}
            </Text>
          ) : null}
          {readOnly ? null : (
            <Group>
              <Button type="submit" loading={save.busy}>
                Save single sign-on
              </Button>
              {config.configured ? (
                <Button
                  variant="default"
                  color="red"
                  onClick={() =>
                    save.run(async () => {
                      await client.deleteSso({});
                      loaded.reload();
                      setSaved('Single sign-on removed.');
                    })
                  }
                >
                  Remove
                </Button>
              ) : null}
            </Group>
          )}
        </Stack>
      </form>
      {config.configured && can('iam:users:manage') ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            disable.run(async () => {
              const user = await client.disableSsoSubject({ body: { subject: subject.trim() } });
              setSubject('');
              setSaved(`${user.email} is disabled: their keys and sessions have stopped.`);
            });
          }}
        >
          <Stack mt="lg">
            <Title order={4}>Disable by identity provider subject</Title>
            <Text size="sm" c="dimmed">
              When someone leaves, disable the user linked to their subject (the ID token's sub): their access
              keys and sessions stop at once.
            </Text>
            <Group align="end">
              <TextInput
                label="Subject"
                required
                value={subject}
                onChange={(e) => setSubject(e.currentTarget.value)}
              />
              <Button type="submit" color="red" variant="light" loading={disable.busy}>
                Disable user
              </Button>
            </Group>
            <ErrorAlert error={disable.error} />
          </Stack>
        </form>
      ) : null}
      {!config.configured && readOnly ? (
        <Alert color="gray" mt="sm">
          Single sign-on is not set up.
        </Alert>
      ) : null}
    </Card>
  );
}
