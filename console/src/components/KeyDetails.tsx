import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Code,
  Divider,
  Drawer,
  Group,
  Loader,
  Menu,
  Modal,
  Radio,
  SegmentedControl,
  Stack,
  Switch,
  Table,
  Text,
  Tooltip,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconDots, IconKey, IconRefresh, IconTrash } from '@tabler/icons-react';
import { type ReactNode, type RefObject, useEffect, useState } from 'react';
import { type CreatedKey, client, type EffectivePermissions, type KeyView } from '../api';
import { expiryFields, formatDate, formatDateTime, type ValidityChoice } from '../format';
import { GRANT_REASON, keyBeyondYou } from '../grants';
import { useRefreshWhileVisible } from '../refresh';
import { ConfirmModal, ErrorAlert, KeyStateBadge, LastUsed, useAction, useConsole, useLoad } from '../shared';
import { formatCount, quotaName, rulesOfView, type UsageGranularity } from '../usage';
import { AssignmentsEditor } from './AssignmentsEditor';
import { ValidityPicker } from './KeyForm';
import { hiddenColumn, ListTable } from './ListScaffold';
import { SecretEscapeNotice, SecretReveal } from './SecretReveal';
import { TrafficRulesEditor } from './TrafficRules';
import { UsageChart } from './UsageChart';

/** A leak report named the key (POST /v1/leaked-keys): it is refused, or read-only, until released. */
export function QuarantineBadge({ keyView }: { keyView: KeyView }) {
  if (!keyView.quarantine) return null;
  return (
    <Tooltip label={`Reported leaked ${formatDateTime(keyView.quarantine.at)}`}>
      <Badge color="red" variant="filled" data-testid="key-quarantined">
        Quarantined
      </Badge>
    </Tooltip>
  );
}

/** Why the key is quarantined, where it was found, and the two ways out. */
function QuarantineNotice({
  keyView,
  canRelease,
  onReleased,
}: {
  keyView: KeyView;
  canRelease: boolean;
  onReleased: () => void;
}) {
  const [error, setError] = useState<unknown>(null);
  const q = keyView.quarantine;
  if (!q) return null;
  return (
    <Alert
      color="red"
      title="This key was reported leaked and is quarantined"
      data-testid="quarantine-notice"
    >
      <Stack gap={6}>
        <Text size="sm">
          {q.reason}, {formatDateTime(q.at)}.
          {q.url ? (
            <>
              {' '}
              Found at <Code>{q.url}</Code>.
            </>
          ) : null}
        </Text>
        <Text size="sm">
          Requests signed with it are refused (or, if the tenant chose read-only, all but GET and HEAD).
          Generate a new secret key below: the reported secret stops working at once and the quarantine ends.
        </Text>
        {canRelease ? (
          <Group>
            <Button
              size="xs"
              variant="default"
              onClick={async () => {
                setError(null);
                try {
                  await client.releaseKeyQuarantine({
                    params: { accessKeyId: keyView.accessKeyId },
                    body: {},
                  });
                  onReleased();
                } catch (err) {
                  setError(err);
                }
              }}
            >
              Release without a new secret (the report was wrong)
            </Button>
          </Group>
        ) : null}
        <ErrorAlert error={error} />
      </Stack>
    </Alert>
  );
}

/** The key's effective permissions, read again when `version` changes. */
function useKeyPermissions(accessKeyId: string | null, version: number) {
  return useLoad(
    (signal) =>
      accessKeyId
        ? client.getKeyPermissions({ params: { accessKeyId } }, { signal })
        : Promise.resolve(undefined),
    [accessKeyId, version],
  );
}

function PermissionsList({
  data,
  error,
  loading,
}: {
  data: EffectivePermissions | undefined;
  error: unknown;
  loading: boolean;
}) {
  if (error) return <ErrorAlert error={error} />;
  if (loading && !data) return <Loader size="sm" aria-label="Loading permissions" />;
  if (!data) return null;
  return (
    <Stack gap="xs" data-testid="effective-permissions">
      <Text size="sm" c="dimmed">
        {data.source === 'key'
          ? "From the key's own groups and roles, limited to what its owner may do."
          : "The key has no groups or roles of its own, so it has its owner's permissions."}
      </Text>
      {data.permissions.length === 0 ? (
        <Text size="sm">
          No permissions: the key can authenticate but do nothing. Assign a role that grants some.
        </Text>
      ) : (
        <Group gap={6}>
          {data.permissions.map((p) => (
            <Badge key={p} variant="outline" tt="none" data-testid="permission">
              {p}
            </Badge>
          ))}
        </Group>
      )}
    </Stack>
  );
}

export function PermissionsView({ accessKeyId, version }: { accessKeyId: string; version: number }) {
  const { data, error, loading } = useKeyPermissions(accessKeyId, version);
  return <PermissionsList data={data} error={error} loading={loading} />;
}

/** How long the old secret keeps working after a new one is generated (graceSeconds). */
const GRACE_CHOICES = [
  { value: '0', label: 'Stops working at once' },
  { value: '3600', label: 'Keeps working for 1 hour' },
  { value: '86400', label: 'Keeps working for 24 hours' },
] as const;

/** Why a new secret cannot be generated: whoever gets it can do all the key can. */
function rotateReason(missing: readonly string[]): string {
  return `The key can do what you cannot (${missing.join(', ')}), and a new secret would hand that over. ${GRANT_REASON}`;
}

/**
 * Confirm "Generate new secret key". The key's permissions are read first: when the key holds
 * something the signed-in person does not, the button stays disabled and says why. The server
 * decides in the end (it also compares patterns); its PRIVILEGE_ESCALATION refusal is shown.
 */
function RotateSecretModal({
  keyView,
  opened,
  title,
  children,
  onClose,
  onRotated,
}: {
  keyView: KeyView | null;
  opened: boolean;
  title: string;
  children: ReactNode;
  onClose: () => void;
  onRotated: (created: CreatedKey) => void;
}) {
  const { me } = useConsole();
  const permissions = useKeyPermissions(opened && keyView ? keyView.accessKeyId : null, 0);
  const missing = permissions.data ? keyBeyondYou(permissions.data.permissions, me.permissions) : [];
  const [grace, setGrace] = useState('0');
  // Each time the window opens, the choice starts at "at once".
  useEffect(() => {
    if (opened) setGrace('0');
  }, [opened]);
  return (
    <ConfirmModal
      opened={opened}
      title={title}
      confirmLabel="Generate new secret key"
      color="orange"
      // Unreadable permissions leave the decision to the server (its refusal is shown).
      confirmDisabled={(permissions.loading && !permissions.data) || missing.length > 0}
      onClose={onClose}
      onConfirm={async () => {
        if (!keyView) return;
        const graceSeconds = Number(grace);
        onRotated(
          await client.rotateKeySecret({
            params: { accessKeyId: keyView.accessKeyId },
            body: graceSeconds > 0 ? { graceSeconds } : {},
          }),
        );
      }}
    >
      {children}
      <Radio.Group
        label="The current secret key"
        description="Running clients can keep the old secret for a while, so you can switch them without an outage."
        value={grace}
        onChange={setGrace}
      >
        <Stack gap={6} mt={6}>
          {GRACE_CHOICES.map((c) => (
            <Radio key={c.value} value={c.value} label={c.label} />
          ))}
        </Stack>
      </Radio.Group>
      {permissions.loading && !permissions.data ? <Loader size="sm" aria-label="Checking the key" /> : null}
      {missing.length > 0 ? (
        <Alert color="orange" title="You cannot generate a new secret for this key" role="status">
          {rotateReason(missing)}
        </Alert>
      ) : null}
    </ConfirmModal>
  );
}

/** Only a holder of iam:keys:manage may activate again a key such a holder deactivated. */
function reactivationBlocked(key: KeyView, canManage: boolean): boolean {
  return key.status === 'inactive' && key.deactivatedByManager && !canManage;
}

const REACTIVATE_REASON =
  'Deactivated by an administrator (someone with iam:keys:manage): only they can mark it active again.';

/** Every quota that applies to the key (its own, its owner's, the tenant's) and where it stands. */
export function QuotaStanding({ quotas }: { quotas: KeyView['quotas'] }) {
  if (!quotas || quotas.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="quota-standing">
        No quota applies to this key.
      </Text>
    );
  }
  return (
    <div data-testid="quota-standing">
      <ListTable
        label="Quotas that apply to this key"
        minWidth={440}
        columns={['Quota', 'Used', 'Remaining', 'Resets']}
      >
        {quotas.map((q) => (
          <Table.Tr key={q.name} data-testid="quota-row">
            <Table.Td>{quotaName(q.name)}</Table.Td>
            <Table.Td>
              {formatCount(q.used)} of {formatCount(q.limit)}
            </Table.Td>
            <Table.Td>{formatCount(q.remaining)}</Table.Td>
            <Table.Td>{formatDateTime(q.resetsAt)}</Table.Td>
          </Table.Tr>
        ))}
      </ListTable>
    </div>
  );
}

const USAGE_RANGES: Array<{ value: UsageGranularity; label: string; caption: string }> = [
  { value: 'hour', label: '7 days, by hour', caption: 'Requests with this key, last 7 days' },
  { value: 'day', label: '30 days, by day', caption: 'Requests with this key, last 30 days' },
];

/** The key's requests by outcome: the last 7 days by hour, or 30 days by day. */
export function KeyUsagePanel({ accessKeyId }: { accessKeyId: string }) {
  const [granularity, setGranularity] = useState<UsageGranularity>('hour');
  // The server's clock sets the range (to = now, from = 7 or 30 days before).
  const usage = useLoad(
    (signal) => client.getKeyUsage({ params: { accessKeyId }, query: { granularity } }, { signal }),
    [accessKeyId, granularity],
  );
  const range = USAGE_RANGES.find((r) => r.value === granularity) ?? USAGE_RANGES[0];
  return (
    <Stack gap="xs">
      <SegmentedControl
        aria-label="Usage period"
        value={granularity}
        onChange={(v) => setGranularity(v as UsageGranularity)}
        data={USAGE_RANGES.map(({ value, label }) => ({ value, label }))}
        fullWidth
      />
      <ErrorAlert error={usage.error} />
      {usage.loading && !usage.data ? <Loader size="sm" aria-label="Loading usage" /> : null}
      {usage.data && usage.data.granularity === granularity ? (
        <UsageChart series={usage.data.series} granularity={granularity} label={range?.caption ?? ''} />
      ) : null}
    </Stack>
  );
}

export function ExpiryEditor({ keyView, onSaved }: { keyView: KeyView; onSaved: (k: KeyView) => void }) {
  const [validity, setValidity] = useState<ValidityChoice>(
    keyView.expiresAt ? { kind: 'date', date: keyView.expiresAt.slice(0, 10) } : { kind: 'never' },
  );
  const save = useAction();
  return (
    <Stack gap="xs">
      <Text size="sm">
        Expires: <strong>{keyView.expiresAt ? formatDateTime(keyView.expiresAt) : 'never'}</strong>
      </Text>
      <ValidityPicker value={validity} onChange={setValidity} withDefault={false} />
      <ErrorAlert error={save.error} />
      <Group>
        <Button
          size="xs"
          loading={save.busy}
          onClick={() => {
            if (validity.kind === 'date' && !validity.date) return save.setError(new Error('choose a date'));
            save.run(async () =>
              onSaved(
                await client.updateKey({
                  params: { accessKeyId: keyView.accessKeyId },
                  body: expiryFields(validity),
                }),
              ),
            );
          }}
        >
          Save expiry
        </Button>
      </Group>
    </Stack>
  );
}

/**
 * The Key details pane. `revealed` is the key just created or given a new secret: only then the
 * secret is on screen. Closing the drawer drops it.
 */
export function KeyDetailsDrawer({
  accessKeyId,
  revealed,
  onClose,
  onChanged,
  fallbackFocus,
}: {
  accessKeyId: string | null;
  revealed?: CreatedKey | null;
  onClose: () => void;
  onChanged: () => void;
  /** Where focus goes on closing when what opened the pane is gone (the Add key dialog). */
  fallbackFocus?: RefObject<HTMLElement | null>;
}) {
  const { scope, me, can } = useConsole();
  const [secret, setSecret] = useState<CreatedKey | null>(revealed ?? null);
  const [version, setVersion] = useState(0);
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const [toggleError, setToggleError] = useState<unknown>(null);
  useEffect(() => setSecret(revealed ?? null), [revealed]);
  const {
    data: key,
    error,
    setData,
    reload: reloadKey,
  } = useLoad(
    (signal) =>
      accessKeyId ? client.getKey({ params: { accessKeyId } }, { signal }) : Promise.resolve(undefined),
    [accessKeyId, version],
  );
  // "Last used" and the state move while the pane is open: read the key again (only the key).
  useRefreshWhileVisible(reloadKey, { enabled: accessKeyId !== null });
  const permissions = useKeyPermissions(accessKeyId, version);
  const beyond = permissions.data ? keyBeyondYou(permissions.data.permissions, me.permissions) : [];
  const changed = () => {
    setVersion((v) => v + 1);
    onChanged();
  };
  const close = () => {
    setSecret(null);
    onClose();
  };
  const showingSecret = Boolean(secret && key && secret.accessKeyId === key.accessKeyId);
  return (
    <Drawer
      opened={accessKeyId !== null}
      onClose={close}
      position="right"
      size="lg"
      title="Key details"
      // A new secret on screen: Escape and a click outside do not throw it away (see SecretEscapeNotice).
      closeOnEscape={!showingSecret}
      closeOnClickOutside={!showingSecret}
      onExitTransitionEnd={() => refocus(fallbackFocus)}
      closeButtonProps={{ 'aria-label': 'Close key details' }}
    >
      {error ? <ErrorAlert error={error} /> : null}
      {key && key.accessKeyId === accessKeyId ? (
        <Stack>
          <SecretEscapeNotice active={showingSecret} closeLabel="Close key details" />
          {showingSecret && secret ? <SecretReveal created={secret} scope={scope} /> : null}
          <QuarantineNotice keyView={key} canRelease={can('iam:keys:manage')} onReleased={changed} />
          <Table variant="vertical" withTableBorder>
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={140}>Name</Table.Th>
                <Table.Td>{key.name}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Access key</Table.Th>
                <Table.Td>
                  <Code>{key.accessKeyId}</Code>
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Key type</Table.Th>
                <Table.Td>{key.type === 'api' ? 'API (data ingestion only)' : 'Access'}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Owner</Table.Th>
                <Table.Td>
                  {key.owner.label}{' '}
                  <Text span size="xs" c="dimmed">
                    ({key.owner.type === 'user' ? 'user' : 'service account'})
                  </Text>
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Status</Table.Th>
                <Table.Td>
                  <Group gap={6}>
                    <KeyStateBadge state={key.state} daysLeft={key.daysLeft} />
                    <QuarantineBadge keyView={key} />
                  </Group>
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Last used</Table.Th>
                <Table.Td>
                  <LastUsed at={key.lastUsedAt} ip={key.lastUsedIp} />
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Td>{formatDate(key.createdAt)}</Table.Td>
              </Table.Tr>
            </Table.Tbody>
          </Table>
          <Switch
            label="Key is active"
            description={
              reactivationBlocked(key, can('iam:keys:manage'))
                ? REACTIVATE_REASON
                : 'An inactive key is refused until you mark it active again.'
            }
            classNames={{ label: 'grant-label', description: 'grant-reason' }}
            checked={key.status === 'active'}
            disabled={reactivationBlocked(key, can('iam:keys:manage'))}
            onChange={async (e) => {
              const active = e.currentTarget.checked;
              setToggleError(null);
              try {
                setData(
                  await client.updateKey({ params: { accessKeyId: key.accessKeyId }, body: { active } }),
                );
                onChanged();
              } catch (err) {
                setToggleError(err);
              }
            }}
          />
          <ErrorAlert error={toggleError} />
          <Divider label="Expiry" labelPosition="left" />
          <ExpiryEditor
            key={`${key.accessKeyId}:${key.expiresAt}`}
            keyView={key}
            onSaved={(k) => {
              setData(k);
              onChanged();
            }}
          />
          <Divider label="Traffic limits" labelPosition="left" />
          <TrafficRulesEditor
            rules={rulesOfView(key)}
            canEdit={can('iam:keys:manage')}
            save={(rules) => client.updateKey({ params: { accessKeyId: key.accessKeyId }, body: rules })}
            onSaved={changed}
            legend="Traffic limits of this key"
            about="Set on this key alone. Limits of its owner and the tenant's defaults apply too: the strictest wins."
            readOnlyReason="Only someone with iam:keys:manage can change them."
          />
          <QuotaStanding quotas={key.quotas} />
          <Divider label="Usage" labelPosition="left" />
          <KeyUsagePanel accessKeyId={key.accessKeyId} />
          <Divider label="Assignments" labelPosition="left" />
          <AssignmentsEditor
            key={key.accessKeyId}
            assigned={key}
            compact
            save={(body) => client.setKeyAssignments({ params: { accessKeyId: key.accessKeyId }, body })}
            onSaved={changed}
            saveLabel="Save assignments"
            savedText="Assignments saved. Affected users are notified."
          />
          <Divider label="Effective permissions" labelPosition="left" />
          <PermissionsList data={permissions.data} error={permissions.error} loading={permissions.loading} />
          <Divider />
          {beyond.length > 0 ? (
            <Text size="sm" id={`rotate-reason-${key.accessKeyId}`} data-testid="rotate-reason">
              {rotateReason(beyond)}
            </Text>
          ) : null}
          <Group>
            <Button
              variant="light"
              leftSection={<IconRefresh size={16} aria-hidden />}
              disabled={beyond.length > 0}
              aria-describedby={beyond.length > 0 ? `rotate-reason-${key.accessKeyId}` : undefined}
              onClick={() => setConfirm('rotate')}
            >
              Generate new secret key
            </Button>
            <Button
              color="red"
              variant="light"
              leftSection={<IconTrash size={16} aria-hidden />}
              onClick={() => setConfirm('delete')}
            >
              Delete key
            </Button>
          </Group>
          <RotateSecretModal
            keyView={key}
            opened={confirm === 'rotate'}
            title="Generate new secret key"
            onClose={() => setConfirm(null)}
            onRotated={(created) => {
              setSecret(created);
              changed();
            }}
          >
            <Text size="sm">The new secret key is shown only once, right after this.</Text>
          </RotateSecretModal>
          <ConfirmModal
            opened={confirm === 'delete'}
            title="Delete access key"
            confirmLabel="Delete key"
            onClose={() => setConfirm(null)}
            onConfirm={async () => {
              await client.deleteKey({ params: { accessKeyId: key.accessKeyId } });
              onChanged();
              close();
            }}
          >
            <Text size="sm">
              Delete <strong>{key.name}</strong> (<Code>{key.accessKeyId}</Code>)? Requests signed with it are
              refused from now on. This cannot be undone.
            </Text>
          </ConfirmModal>
        </Stack>
      ) : !error ? (
        <Loader aria-label="Loading key" />
      ) : null}
    </Drawer>
  );
}

const SAVED_CLOSE = 'I have saved the secret key — close';

/**
 * After a window closed: if focus fell to the page (its opener is gone), put it on `fallback`.
 * The window's elements go right after its exit transition, so this looks once they are gone.
 */
function refocus(fallback: RefObject<HTMLElement | null> | undefined) {
  setTimeout(() => {
    const active = document.activeElement;
    if (!active || active === document.body) fallback?.current?.focus();
  }, 50);
}

/** Shows a freshly generated secret in a window of its own (the user / service-account flows). */
export function SecretModal({
  created,
  title,
  onClose,
  fallbackFocus,
}: {
  created: CreatedKey | null;
  title: string;
  onClose: () => void;
  /** Where focus goes on closing when what opened the window is gone (a menu item, a dialog's button). */
  fallbackFocus?: RefObject<HTMLElement | null>;
}) {
  const { scope } = useConsole();
  const phone = useMediaQuery('(max-width: 36em)');
  return (
    <Modal
      opened={created !== null}
      onClose={onClose}
      title={title}
      size="xl"
      fullScreen={phone}
      closeOnEscape={false}
      closeOnClickOutside={false}
      onExitTransitionEnd={() => refocus(fallbackFocus)}
      closeButtonProps={{ 'aria-label': 'Close (the secret key is not shown again)' }}
    >
      {created ? (
        <Stack>
          <SecretEscapeNotice active={created !== null} closeLabel={SAVED_CLOSE} />
          <SecretReveal created={created} scope={scope} />
          <Group justify="flex-end">
            <Button onClick={onClose}>{SAVED_CLOSE}</Button>
          </Group>
        </Stack>
      ) : null}
    </Modal>
  );
}

type Action = { kind: 'expiry' | 'permissions' | 'delete' | 'rotate'; key: KeyView };

/** A table of keys with the per-key Actions menu (and, in panels, trash and regenerate icons). */
export function KeyTable({
  keys,
  showOwner,
  compact,
  onChanged,
  onOpenDetails,
  onSecret,
}: {
  keys: KeyView[];
  showOwner?: boolean;
  /** The API Access panel: trash and revoke-and-regenerate icons on each row. */
  compact?: boolean;
  onChanged: () => void;
  onOpenDetails?: (key: KeyView) => void;
  onSecret: (created: CreatedKey) => void;
}) {
  const { can } = useConsole();
  const [action, setAction] = useState<Action | null>(null);
  const [rowError, setRowError] = useState<unknown>(null);
  const toggle = async (key: KeyView) => {
    setRowError(null);
    try {
      await client.updateKey({
        params: { accessKeyId: key.accessKeyId },
        body: { active: key.status !== 'active' },
      });
      onChanged();
    } catch (e) {
      setRowError(e);
    }
  };
  return (
    <>
      <ErrorAlert error={rowError} onClose={() => setRowError(null)} />
      <ListTable
        label="Access keys"
        minWidth={720}
        highlightOnHover
        verticalSpacing="xs"
        columns={[
          'Name',
          'Access key',
          'Type',
          showOwner && 'Owner',
          'Status',
          'Expires',
          'Last used',
          hiddenColumn('Actions'),
        ]}
      >
        {keys.map((k) => (
          <Table.Tr key={k.accessKeyId} data-testid="key-row" data-access-key={k.accessKeyId}>
            <Table.Td>
              <Group gap={6} wrap="nowrap">
                <IconKey size={14} aria-hidden />
                <Text size="sm">{k.name}</Text>
              </Group>
            </Table.Td>
            <Table.Td>
              <Code>{k.accessKeyId}</Code>
            </Table.Td>
            <Table.Td>
              <Badge variant="default">{k.type === 'api' ? 'API' : 'Access'}</Badge>
            </Table.Td>
            {showOwner ? <Table.Td>{k.owner.label}</Table.Td> : null}
            <Table.Td>
              <Group gap={6} wrap="nowrap">
                <KeyStateBadge state={k.state} daysLeft={k.daysLeft} />
                <QuarantineBadge keyView={k} />
              </Group>
            </Table.Td>
            <Table.Td>{k.expiresAt ? formatDate(k.expiresAt) : 'Never'}</Table.Td>
            <Table.Td>
              <LastUsed at={k.lastUsedAt} ip={k.lastUsedIp} />
            </Table.Td>
            <Table.Td>
              <Group gap={4} wrap="nowrap" justify="flex-end">
                {compact ? (
                  <>
                    <Tooltip label="Revoke and regenerate">
                      <ActionIcon
                        variant="subtle"
                        aria-label={`Revoke and regenerate ${k.name}`}
                        onClick={() => setAction({ kind: 'rotate', key: k })}
                      >
                        <IconRefresh size={16} aria-hidden />
                      </ActionIcon>
                    </Tooltip>
                    <Tooltip label="Delete">
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        aria-label={`Delete ${k.name}`}
                        onClick={() => setAction({ kind: 'delete', key: k })}
                      >
                        <IconTrash size={16} aria-hidden />
                      </ActionIcon>
                    </Tooltip>
                  </>
                ) : null}
                <Menu position="bottom-end" withinPortal>
                  <Menu.Target>
                    <ActionIcon variant="subtle" aria-label={`Actions for ${k.name}`}>
                      <IconDots size={16} aria-hidden />
                    </ActionIcon>
                  </Menu.Target>
                  <Menu.Dropdown>
                    {onOpenDetails ? (
                      <Menu.Item data-autofocus onClick={() => onOpenDetails(k)}>
                        Key details
                      </Menu.Item>
                    ) : null}
                    <Menu.Item
                      data-autofocus={onOpenDetails ? undefined : true}
                      onClick={() => setAction({ kind: 'expiry', key: k })}
                    >
                      Modify expiry
                    </Menu.Item>
                    <Menu.Item onClick={() => setAction({ kind: 'rotate', key: k })}>
                      Generate new secret key
                    </Menu.Item>
                    <Menu.Item onClick={() => setAction({ kind: 'permissions', key: k })}>
                      View permissions
                    </Menu.Item>
                    <Menu.Item
                      onClick={() => toggle(k)}
                      disabled={reactivationBlocked(k, can('iam:keys:manage'))}
                    >
                      {k.status === 'active' ? 'Mark as inactive' : 'Mark as active'}
                    </Menu.Item>
                    {reactivationBlocked(k, can('iam:keys:manage')) ? (
                      <Text size="xs" px="sm" pb={4} maw={260}>
                        {REACTIVATE_REASON}
                      </Text>
                    ) : null}
                    <Menu.Divider />
                    <Menu.Item color="red" data-danger onClick={() => setAction({ kind: 'delete', key: k })}>
                      Delete
                    </Menu.Item>
                  </Menu.Dropdown>
                </Menu>
              </Group>
            </Table.Td>
          </Table.Tr>
        ))}
      </ListTable>
      <Modal opened={action?.kind === 'expiry'} onClose={() => setAction(null)} title="Modify expiry">
        {action?.kind === 'expiry' ? (
          <ExpiryEditor
            keyView={action.key}
            onSaved={() => {
              setAction(null);
              onChanged();
            }}
          />
        ) : null}
      </Modal>
      <Modal
        opened={action?.kind === 'permissions'}
        onClose={() => setAction(null)}
        title="Effective permissions"
        size="lg"
      >
        {action?.kind === 'permissions' ? (
          <PermissionsView accessKeyId={action.key.accessKeyId} version={0} />
        ) : null}
      </Modal>
      <ConfirmModal
        opened={action?.kind === 'delete'}
        title="Delete access key"
        confirmLabel="Delete key"
        onClose={() => setAction(null)}
        onConfirm={async () => {
          if (!action) return;
          await client.deleteKey({ params: { accessKeyId: action.key.accessKeyId } });
          onChanged();
        }}
      >
        <Text size="sm">
          Delete <strong>{action?.key.name}</strong> (<Code>{action?.key.accessKeyId}</Code>)? Its credentials
          stop working at once and cannot be used to authenticate any more.
        </Text>
      </ConfirmModal>
      <RotateSecretModal
        keyView={action?.kind === 'rotate' ? action.key : null}
        opened={action?.kind === 'rotate'}
        title="Revoke and generate a new secret key"
        onClose={() => setAction(null)}
        onRotated={(created) => {
          onChanged();
          onSecret(created);
        }}
      >
        <Text size="sm">
          A new secret key for <strong>{action?.key.name}</strong> replaces the current one. The new secret
          key is shown only once.
        </Text>
      </RotateSecretModal>
    </>
  );
}
