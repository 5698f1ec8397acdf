import { Alert, Button, Checkbox, Group, Radio, Select, Stack, Text, TextInput } from '@mantine/core';
import { useEffect, useState } from 'react';
import { api, type IamSettings, type Page, type ServiceAccountView, type UserView } from '../api';
import { expiryFields, tomorrow, type ValidityChoice } from '../format';
import { GRANT_REASON } from '../grants';
import { ErrorAlert, useConsole } from '../shared';

interface OwnerOption {
  value: string;
  label: string;
  disabled: boolean;
}

export interface NewKeyRequest {
  owner: { type: 'user' | 'service_account'; id: string };
  body: Record<string, unknown>;
}

const DAY_CHOICES = [7, 30, 60, 90, 180, 365];

/** Validity picker: the IAM settings default, a number of days, a custom date, or never. */
export function ValidityPicker({
  value,
  onChange,
  withDefault,
  defaultDays,
}: {
  value: ValidityChoice;
  onChange: (v: ValidityChoice) => void;
  withDefault: boolean;
  defaultDays?: number | null;
}) {
  const selectValue = value.kind === 'days' ? `days:${value.days}` : value.kind;
  const defaultLabel =
    defaultDays === undefined
      ? 'Default (from IAM settings)'
      : defaultDays === null
        ? 'Default (never expires, from IAM settings)'
        : `Default (${defaultDays} days, from IAM settings)`;
  return (
    <Stack gap="xs">
      <Select
        label="Validity"
        description="How long the key works. You can extend it later by editing the key."
        allowDeselect={false}
        value={selectValue}
        data={[
          ...(withDefault ? [{ value: 'default', label: defaultLabel }] : []),
          ...DAY_CHOICES.map((d) => ({ value: `days:${d}`, label: `${d} days` })),
          { value: 'date', label: 'Custom date' },
          { value: 'never', label: 'Never expires' },
        ]}
        onChange={(v) => {
          if (!v) return;
          if (v.startsWith('days:')) onChange({ kind: 'days', days: Number(v.slice(5)) });
          else if (v === 'date') onChange({ kind: 'date', date: value.kind === 'date' ? value.date : '' });
          else onChange({ kind: v as 'default' | 'never' });
        }}
      />
      {value.kind === 'date' ? (
        <TextInput
          type="date"
          label="Expiry date"
          description="The key works through the end of this day (UTC)."
          min={tomorrow()}
          required
          value={value.date}
          onChange={(e) => onChange({ kind: 'date', date: e.currentTarget.value })}
        />
      ) : null}
      {value.kind === 'never' ? (
        <Text size="xs" c="orange">
          For better security, prefer a definite expiry date.
        </Text>
      ) : null}
    </Stack>
  );
}

export function useIamSettings(): IamSettings | null {
  const { can } = useConsole();
  const [settings, setSettings] = useState<IamSettings | null>(null);
  useEffect(() => {
    if (!can('iam:settings:read')) return;
    api
      .get<IamSettings>('/iam/settings')
      .then(setSettings)
      .catch(() => setSettings(null));
  }, [can]);
  return settings;
}

/**
 * The form behind "Add key" (tenant-wide, with an owner picker) and "Add access" (a user's or
 * service account's API Access panel, with the email option).
 */
export function KeyForm({
  fixedOwner,
  ownerEmail,
  withEmailOption,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  fixedOwner?: { type: 'user' | 'service_account'; id: string; label: string };
  /** The address keys would be emailed to; null = none on file. */
  ownerEmail?: string | null;
  withEmailOption?: boolean;
  submitLabel: string;
  onSubmit: (request: NewKeyRequest) => Promise<void>;
  onCancel: () => void;
}) {
  const { me, can } = useConsole();
  const settings = useIamSettings();
  const [owner, setOwner] = useState(`user:${me.id}`);
  const [owners, setOwners] = useState<Array<{ group: string; items: OwnerOption[] }>>([]);
  const [name, setName] = useState('');
  const [type, setType] = useState<'access' | 'api'>('access');
  const [validity, setValidity] = useState<ValidityChoice>({
    kind: withEmailOption ? 'default' : 'days',
    days: 90,
  } as ValidityChoice);
  const [sendEmail, setSendEmail] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [localProblem, setLocalProblem] = useState<string | null>(null);

  useEffect(() => {
    if (fixedOwner) return;
    const load = async () => {
      const users = can('iam:users:read')
        ? (await api.get<Page<UserView>>('/iam/users?limit=200')).items
        : [];
      const accounts = can('iam:service-accounts:read')
        ? (await api.get<Page<ServiceAccountView>>('/iam/service-accounts?limit=200')).items
        : [];
      // A key for someone holding more than you would hand you their permissions: not offered.
      const userItems: OwnerOption[] = users.map((u) => ({
        value: `user:${u.id}`,
        label: u.id === me.id ? `${u.email} (you)` : u.email,
        disabled: !u.withinYourPermissions,
      }));
      if (!users.some((u) => u.id === me.id))
        userItems.unshift({ value: `user:${me.id}`, label: `${me.email ?? me.name} (you)`, disabled: false });
      setOwners([
        { group: 'Users', items: userItems },
        ...(accounts.length
          ? [
              {
                group: 'Service accounts',
                items: accounts.map((a) => ({
                  value: `service_account:${a.id}`,
                  label: a.name,
                  disabled: !a.withinYourPermissions,
                })),
              },
            ]
          : []),
      ]);
    };
    load().catch(setError);
  }, [fixedOwner, can, me]);

  const emailMissing = withEmailOption && sendEmail && !ownerEmail;

  return (
    <form
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        setLocalProblem(null);
        if (validity.kind === 'date' && !validity.date) {
          setLocalProblem('Choose the expiry date, or pick another validity.');
          return;
        }
        if (emailMissing) {
          setLocalProblem('This account has no email address: add one before sending the keys by email.');
          return;
        }
        const [ownerType, ownerId] = (fixedOwner ? `${fixedOwner.type}:${fixedOwner.id}` : owner).split(
          ':',
        ) as ['user' | 'service_account', string];
        const body: Record<string, unknown> = { type, ...expiryFields(validity) };
        if (name.trim()) body.name = name.trim();
        if (withEmailOption && sendEmail) body.sendEmail = true;
        setBusy(true);
        try {
          await onSubmit({ owner: { type: ownerType, id: ownerId }, body });
        } catch (e) {
          setError(e);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Stack>
        {fixedOwner ? (
          <Text size="sm">
            Owner: <strong>{fixedOwner.label}</strong>
          </Text>
        ) : (
          <Select
            label="Owner"
            description="Who the key acts for. A key never has more permissions than its owner. You can choose only owners whose permissions you hold yourself."
            data={owners}
            value={owner}
            searchable
            allowDeselect={false}
            onChange={(v) => v && setOwner(v)}
            renderOption={({ option }) =>
              option.disabled ? (
                <Stack gap={0}>
                  <Text size="sm">{option.label}</Text>
                  <Text size="xs" className="grant-reason">
                    Holds permissions you do not hold. {GRANT_REASON}
                  </Text>
                </Stack>
              ) : (
                option.label
              )
            }
          />
        )}
        <TextInput
          label="Key name"
          description="A label to recognise the key in lists; it is not used to authenticate."
          placeholder="e.g. Payroll sync"
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Radio.Group label="Key type" value={type} onChange={(v) => setType(v as 'access' | 'api')}>
          <Stack gap={6} mt={4}>
            <Radio
              value="access"
              label="Access"
              description="Everything the owner may do: signed requests and token sign-in."
            />
            <Radio
              value="api"
              label="API"
              description="For data ingestion only: signs data requests, never the admin API, no token sign-in."
            />
          </Stack>
        </Radio.Group>
        <ValidityPicker
          value={validity}
          onChange={setValidity}
          withDefault
          defaultDays={settings ? settings.defaultKeyLifetimeDays : undefined}
        />
        {withEmailOption ? (
          <Stack gap={4}>
            <Checkbox
              label={
                ownerEmail
                  ? `Send the API and secret keys by email to ${ownerEmail}`
                  : 'Send the API and secret keys by email'
              }
              checked={sendEmail}
              onChange={(e) => setSendEmail(e.currentTarget.checked)}
            />
            {emailMissing ? (
              <Alert color="orange" p="xs">
                This account has no email address. Add an email address to the service account to email the
                keys, or untick the option.
              </Alert>
            ) : null}
          </Stack>
        ) : null}
        {localProblem ? (
          <Alert color="red" role="alert">
            {localProblem}
          </Alert>
        ) : null}
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} disabled={Boolean(emailMissing)}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
