import {
  ActionIcon,
  Button,
  Card,
  Checkbox,
  Group,
  Loader,
  NumberInput,
  Radio,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import {
  KEY_LIFETIME_DAYS,
  REMINDER_LEAD_DAYS,
  SESSION_DURATION_SECONDS,
  TOKEN_LIFETIME_SECONDS,
  USAGE_RETENTION_DAYS,
  USER_KEY_LIMIT,
} from '../../../src/limits';
import { client, type IamSettings } from '../api';
import { SsoSettings } from '../components/SsoSettings';
import { TrafficRulesFields, useTrafficDraft } from '../components/TrafficRules';
import { ErrorAlert, useAction, useConsole, useLoad } from '../shared';

export function SettingsPage() {
  return (
    <Stack maw={720}>
      <IamSettingsForm />
      <SsoSettings />
    </Stack>
  );
}

function IamSettingsForm() {
  const { can, scope } = useConsole();
  const loaded = useLoad((signal) => client.getSettings({}, { signal }), []);
  const [form, setForm] = useState<IamSettings | null>(null);
  const submit = useAction();
  const [saved, setSaved] = useState(false);
  const traffic = useTrafficDraft();
  const { reset: resetTraffic } = traffic;
  useEffect(() => {
    if (loaded.data) {
      setForm(loaded.data);
      resetTraffic(loaded.data);
    }
  }, [loaded.data, resetTraffic]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (!form) return <Loader aria-label="Loading settings" />;
  const set = <K extends keyof IamSettings>(k: K, v: IamSettings[K]) => {
    setSaved(false);
    setForm({ ...form, [k]: v });
  };
  const readOnly = !can('iam:settings:manage');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        const rules = traffic.collect();
        if (!rules) return;
        submit.run(async () => {
          try {
            const next = await client.updateSettings({ body: { ...form, ...rules } });
            setForm(next);
            resetTraffic(next);
          } catch (error) {
            traffic.failed(error);
            throw error;
          }
          setSaved(true);
        });
      }}
    >
      <Stack maw={720}>
        <Title order={2}>IAM settings</Title>
        <Card withBorder padding="lg" component="section" aria-labelledby="lifetimes">
          <Title order={3} id="lifetimes" mb="sm">
            Key lifetime
          </Title>
          <Stack>
            <Group align="flex-end">
              <NumberInput
                label="Default key lifetime (days)"
                description="Used when a key is created with the Default lifetime."
                min={KEY_LIFETIME_DAYS.min}
                max={KEY_LIFETIME_DAYS.max}
                disabled={form.defaultKeyLifetimeDays === null || readOnly}
                value={form.defaultKeyLifetimeDays ?? ''}
                onChange={(v) => set('defaultKeyLifetimeDays', typeof v === 'number' ? v : 90)}
              />
              <Checkbox
                label="Never expires by default"
                checked={form.defaultKeyLifetimeDays === null}
                disabled={readOnly}
                onChange={(e) => set('defaultKeyLifetimeDays', e.currentTarget.checked ? null : 90)}
              />
            </Group>
            <Group align="flex-end">
              <NumberInput
                label="Maximum key lifetime (days)"
                description="No key may live longer. Without a maximum, keys may be set to never expire."
                min={KEY_LIFETIME_DAYS.min}
                max={KEY_LIFETIME_DAYS.max}
                disabled={form.maxKeyLifetimeDays === null || readOnly}
                value={form.maxKeyLifetimeDays ?? ''}
                onChange={(v) => set('maxKeyLifetimeDays', typeof v === 'number' ? v : 365)}
              />
              <Checkbox
                label="No maximum"
                checked={form.maxKeyLifetimeDays === null}
                disabled={readOnly}
                onChange={(e) => set('maxKeyLifetimeDays', e.currentTarget.checked ? null : 365)}
              />
            </Group>
            <NumberInput
              label="Reminder lead time (days)"
              description="Keys show as expiring soon, and reminders go out, this many days before expiry."
              min={REMINDER_LEAD_DAYS.min}
              max={REMINDER_LEAD_DAYS.max}
              disabled={readOnly}
              value={form.reminderLeadDays}
              onChange={(v) => set('reminderLeadDays', typeof v === 'number' ? v : 2)}
            />
            <NumberInput
              label="Keys per user"
              description="How many keys a user who is not an administrator may hold."
              min={USER_KEY_LIMIT.min}
              max={USER_KEY_LIMIT.max}
              disabled={readOnly}
              value={form.userKeyLimit}
              onChange={(v) => set('userKeyLimit', typeof v === 'number' ? v : 2)}
            />
          </Stack>
        </Card>
        <Card withBorder padding="lg" component="section" aria-labelledby="tokens">
          <Title order={3} id="tokens" mb="sm">
            Tokens and signing
          </Title>
          <Stack>
            <NumberInput
              label="Token lifetime (seconds)"
              description={`How long a token from POST /iam/login lasts (${TOKEN_LIFETIME_SECONDS.min} to ${TOKEN_LIFETIME_SECONDS.max}).`}
              min={TOKEN_LIFETIME_SECONDS.min}
              max={TOKEN_LIFETIME_SECONDS.max}
              disabled={readOnly}
              value={form.tokenLifetimeSeconds}
              onChange={(v) => set('tokenLifetimeSeconds', typeof v === 'number' ? v : 3600)}
            />
            <NumberInput
              label="Longest temporary credentials (seconds)"
              description={`The most POST /iam/session-credentials may ask for (${SESSION_DURATION_SECONDS.min} to ${SESSION_DURATION_SECONDS.max}).`}
              min={SESSION_DURATION_SECONDS.min}
              max={SESSION_DURATION_SECONDS.max}
              disabled={readOnly}
              value={form.maxSessionDurationSeconds}
              onChange={(v) =>
                set('maxSessionDurationSeconds', typeof v === 'number' ? v : SESSION_DURATION_SECONDS.max)
              }
            />
            <Text size="sm">
              Default signing scope: <strong>{scope.region}</strong> / <strong>{scope.service}</strong>. Also
              accepted:
            </Text>
            {form.acceptedScopes.map((s, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place; their position is their identity
              <Group key={i} align="flex-end">
                <TextInput
                  label={`Region ${i + 1}`}
                  value={s.region}
                  disabled={readOnly}
                  onChange={(e) => {
                    const next = [...form.acceptedScopes];
                    next[i] = { ...s, region: e.currentTarget.value };
                    set('acceptedScopes', next);
                  }}
                />
                <TextInput
                  label={`Service ${i + 1}`}
                  value={s.service}
                  disabled={readOnly}
                  onChange={(e) => {
                    const next = [...form.acceptedScopes];
                    next[i] = { ...s, service: e.currentTarget.value };
                    set('acceptedScopes', next);
                  }}
                />
                <ActionIcon
                  variant="subtle"
                  color="red"
                  size="lg"
                  disabled={readOnly}
                  aria-label={`Remove scope ${s.region}/${s.service}`}
                  onClick={() =>
                    set(
                      'acceptedScopes',
                      form.acceptedScopes.filter((_, j) => j !== i),
                    )
                  }
                >
                  <IconTrash size={16} aria-hidden />
                </ActionIcon>
              </Group>
            ))}
            <Group>
              <Button
                variant="light"
                size="xs"
                disabled={readOnly}
                leftSection={<IconPlus size={14} aria-hidden />}
                onClick={() => set('acceptedScopes', [...form.acceptedScopes, { region: '', service: '' }])}
              >
                Add signing scope
              </Button>
            </Group>
            <Switch
              label="Allow UNSIGNED-PAYLOAD"
              description="Accept signed requests whose body is not part of the signature."
              checked={form.allowUnsignedPayload}
              disabled={readOnly}
              onChange={(e) => set('allowUnsignedPayload', e.currentTarget.checked)}
            />
            <Switch
              label="Put the secret in key emails"
              description="Otherwise emails carry a one-time link."
              checked={form.emailSecretInline}
              disabled={readOnly}
              onChange={(e) => set('emailSecretInline', e.currentTarget.checked)}
            />
            <Radio.Group
              label="When a key is reported leaked"
              description="A secret scanner's report (POST /v1/leaked-keys) quarantines the key at once, until it gets a new secret or is released."
              value={form.leakedKeyAction}
              onChange={(v) => set('leakedKeyAction', v === 'read-only' ? 'read-only' : 'disable')}
            >
              <Group mt="xs">
                <Radio value="disable" label="Refuse every request" disabled={readOnly} />
                <Radio value="read-only" label="Allow GET and HEAD only" disabled={readOnly} />
              </Group>
            </Radio.Group>
            <Radio.Group
              label="Require two-factor sign-in"
              description="Who must finish a password sign-in with a second factor (an authenticator app or a passkey). Someone without one sets it up while signing in."
              value={form.mfaRequired}
              onChange={(v) => set('mfaRequired', v === 'everyone' || v === 'administrators' ? v : 'off')}
            >
              <Group mt="xs">
                <Radio value="off" label="No one" disabled={readOnly} />
                <Radio value="administrators" label="Administrators" disabled={readOnly} />
                <Radio value="everyone" label="Everyone" disabled={readOnly} />
              </Group>
            </Radio.Group>
          </Stack>
        </Card>
        <Card withBorder padding="lg" component="section" aria-labelledby="traffic">
          <Title order={3} id="traffic" mb="sm">
            Traffic defaults
          </Title>
          <Stack>
            <TrafficRulesFields
              state={traffic}
              legend={null}
              disabled={readOnly}
              description="Applied to each key of the tenant on its own, on top of the limits set on the key and on its owner: the strictest wins."
            />
            <NumberInput
              label="Keep usage for (days)"
              description={`Hourly request counts older than this are deleted (${USAGE_RETENTION_DAYS.min} to ${USAGE_RETENTION_DAYS.max}).`}
              min={USAGE_RETENTION_DAYS.min}
              max={USAGE_RETENTION_DAYS.max}
              allowDecimal={false}
              disabled={readOnly}
              value={form.usageRetentionDays}
              onChange={(v) =>
                set('usageRetentionDays', typeof v === 'number' ? v : USAGE_RETENTION_DAYS.default)
              }
            />
          </Stack>
        </Card>
        <ErrorAlert error={submit.error} />
        {saved ? (
          <Text c="teal" role="status">
            Settings saved.
          </Text>
        ) : null}
        {readOnly ? null : (
          <Group>
            <Button type="submit" loading={submit.busy}>
              Save settings
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
