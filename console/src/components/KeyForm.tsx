import { Alert, Button, Checkbox, Code, Group, Radio, Select, Stack, Text, TextInput } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { NAME_LENGTH_MAX } from '../../../src/limits';
import { client, type IamSettings } from '../api';
import { type DataAccess, grantsData } from '../data-access';
import { expiryFields, tomorrow, type ValidityChoice } from '../format';
import { GRANT_REASON } from '../grants';
import { listPrincipals, type NewKeyBody, type Principal, principalClient } from '../principals';
import { ErrorAlert, useConsole, useLoad } from '../shared';
import { setRules, TrafficRulesFields, useTrafficDraft } from './TrafficRules';

/**
 * Could a key for this owner read any data? `null` while finding out; `unknown` when the
 * signed-in person may not read the owner (no warning is shown then). The server resolves the
 * owner's permissions (GET …/permissions); for the signed-in person GET /iam/me already has them.
 */
export function useOwnerDataAccess(owner: Principal | null): DataAccess | null {
  const { me, can } = useConsole();
  const type = owner?.type;
  const id = owner?.id;
  const found = useLoad<DataAccess>(
    async (signal) => {
      if (!type || !id) return 'unknown';
      if (type === 'user' && id === me.id) {
        if (grantsData(me.permissions)) return 'some';
        // Signed in with a password, /iam/me has all the person holds (with a key, only the key's).
        if (me.authenticatedWith === 'password') return 'none';
      }
      if (!can(type === 'user' ? 'iam:users:read' : 'iam:service-accounts:read')) return 'unknown';
      const held = await principalClient({ type, id }).getPermissions({ signal });
      return held.readsData ? 'some' : 'none';
    },
    [type, id, me, can],
  );
  if (found.error) return 'unknown';
  return found.loading ? null : (found.data ?? null);
}

/**
 * Shown before a key is created for an owner with no data permission: the key would sign requests
 * that are all refused. A warning, not a block (the owner may get a role afterwards).
 */
export function NoDataAccessWarning({ owner, label }: { owner: Principal | null; label: string }) {
  const { me } = useConsole();
  const access = useOwnerDataAccess(owner);
  if (access !== 'none' || !owner) return null;
  const self = owner.type === 'user' && owner.id === me.id;
  return (
    <Alert
      color="orange"
      icon={<IconAlertTriangle aria-hidden />}
      title="This key would read nothing"
      data-testid="no-data-warning"
    >
      <Text size="sm">
        {self ? 'You hold' : `${label} holds`} no data permission (such as <Code>agent:read</Code>), only
        admin-API permissions (<Code>iam:…</Code>) or none at all. The key would authenticate, but every data
        request would be refused. Give {self ? 'yourself' : label} a role with data permissions, such as
        DataReadOnly, under Groups and roles; the key follows at once.
      </Text>
    </Alert>
  );
}

interface OwnerOption {
  value: string;
  label: string;
  disabled: boolean;
}

export interface NewKeyRequest {
  owner: Principal;
  body: NewKeyBody;
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
    client
      .getSettings()
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
  const traffic = useTrafficDraft();

  useEffect(() => {
    if (fixedOwner) return;
    const load = async () => {
      const { users, serviceAccounts: accounts } = await listPrincipals(can);
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
  const [chosenType, chosenId] = owner.split(':') as ['user' | 'service_account', string];
  const keyOwner: Principal = fixedOwner
    ? { type: fixedOwner.type, id: fixedOwner.id }
    : { type: chosenType, id: chosenId };
  const ownerLabel =
    fixedOwner?.label ?? owners.flatMap((g) => g.items).find((o) => o.value === owner)?.label ?? 'The owner';

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
        const rules = traffic.collect();
        if (!rules) return;
        const body: NewKeyBody = { type, ...expiryFields(validity), ...setRules(rules) };
        if (name.trim()) body.name = name.trim();
        if (withEmailOption && sendEmail) body.sendEmail = true;
        setBusy(true);
        try {
          await onSubmit({ owner: keyOwner, body });
        } catch (e) {
          traffic.failed(e);
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
          maxLength={NAME_LENGTH_MAX}
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
        <TrafficRulesFields
          state={traffic}
          description="Limits for this key alone. Limits set on its owner and the tenant's defaults apply too: the strictest wins."
        />
        <NoDataAccessWarning owner={keyOwner} label={ownerLabel.replace(/ \(you\)$/, '')} />
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
