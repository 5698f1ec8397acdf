import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  Group,
  Loader,
  Modal,
  MultiSelect,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import {
  IconAlertTriangle,
  IconPlus,
  IconRefresh,
  IconSend,
  IconTrash,
  IconWebhook,
} from '@tabler/icons-react';
import { useState } from 'react';
import { AUDIT_ACTIONS, KEY_EVENTS } from '../../../src/contract/webhook-events';
import { client, type WebhookDeliveryView, type WebhookView } from '../api';
import { ListScaffold, ListTable } from '../components/ListScaffold';
import { CopyTextButton } from '../components/SecretReveal';
import { formatDateTime } from '../format';
import { ConfirmModal, ConsoleLink, ErrorAlert, useAction, useConsole, useLoad } from '../shared';

const KEY_EVENT_LABELS: Record<(typeof KEY_EVENTS)[number], string> = {
  'access_key.created': 'Key created',
  'access_key.rotated': 'New secret key generated',
  'access_key.deactivated': 'Key deactivated',
  'access_key.deleted': 'Key deleted',
  'access_key.expiring': 'Key expires soon (reminder)',
  'access_key.expired': 'Key expired',
  'access_key.throttled': 'Key throttled (a burst of rate-limit or quota refusals)',
  'access_key.quarantined': 'Key quarantined (reported leaked)',
};
const ALL_AUDIT = 'audit.*';

function EnabledBadge({ hook }: { hook: WebhookView }) {
  return hook.enabled ? (
    <Badge color="teal" variant="light">
      Enabled
    </Badge>
  ) : (
    <Badge color="red" variant="light">
      Disabled
    </Badge>
  );
}

/** The events an endpoint subscribes to, chosen in three parts: key events, every audit entry, or some audit actions. */
function EventsField({ value, onChange }: { value: string[]; onChange: (events: string[]) => void }) {
  const keyEvents = value.filter((e) => !e.startsWith('audit.'));
  const allAudit = value.includes(ALL_AUDIT);
  const auditActions = value.filter((e) => e.startsWith('audit.') && e !== ALL_AUDIT);
  const set = (keys: string[], all: boolean, actions: string[]) =>
    onChange([...keys, ...(all ? [ALL_AUDIT] : actions)]);
  return (
    <Stack gap="xs">
      <Checkbox.Group
        label="Key events"
        value={keyEvents}
        onChange={(keys) => set(keys, allAudit, auditActions)}
      >
        <Stack gap={6} mt={4}>
          {KEY_EVENTS.map((e) => (
            <Checkbox key={e} value={e} label={`${KEY_EVENT_LABELS[e]} (${e})`} />
          ))}
        </Stack>
      </Checkbox.Group>
      <Checkbox
        label="Every audit log entry (audit.*)"
        checked={allAudit}
        onChange={(e) => set(keyEvents, e.currentTarget.checked, auditActions)}
      />
      {allAudit ? null : (
        <MultiSelect
          label="Or only these audit actions"
          placeholder="Choose actions"
          searchable
          clearable
          data={AUDIT_ACTIONS.map((a) => ({ value: `audit.${a}`, label: a }))}
          value={auditActions}
          onChange={(actions) => set(keyEvents, false, actions)}
        />
      )}
    </Stack>
  );
}

/** Register an endpoint, or change one's URL, description and events. */
function WebhookForm({
  hook,
  onSaved,
  onCancel,
}: {
  hook?: WebhookView;
  onSaved: (saved: WebhookView & { secret?: string }) => void;
  onCancel: () => void;
}) {
  const [url, setUrl] = useState(hook?.url ?? '');
  const [description, setDescription] = useState(hook?.description ?? '');
  const [events, setEvents] = useState<string[]>(hook?.events ?? ['access_key.expiring']);
  const save = useAction();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save.run(async () => {
          const body = { url: url.trim(), events, description };
          onSaved(
            hook
              ? await client.updateWebhook({ params: { webhookId: hook.id }, body })
              : await client.createWebhook({ body }),
          );
        });
      }}
    >
      <Stack>
        <TextInput
          label="Endpoint URL"
          description="http:// or https://; events are POSTed here, signed"
          placeholder="https://hooks.example.com/latchkey"
          required
          type="url"
          value={url}
          onChange={(e) => setUrl(e.currentTarget.value)}
          data-autofocus
        />
        <TextInput
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
          maxLength={1000}
        />
        <EventsField value={events} onChange={setEvents} />
        <ErrorAlert error={save.error} onClose={() => save.setError(null)} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={save.busy} disabled={events.length === 0}>
            {hook ? 'Save' : 'Add endpoint'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** The signing secret, this once. */
function SecretOnce({ secret, onDone }: { secret: string | null; onDone: () => void }) {
  return (
    <Modal opened={secret !== null} onClose={onDone} title="Signing secret" centered>
      <Stack>
        <Alert color="yellow" icon={<IconAlertTriangle aria-hidden />} title="Shown this once">
          Store it with your receiver now: latchkey keeps it encrypted and never shows it again. Verify the{' '}
          <Code>webhook-signature</Code> header of every request with it (any Standard Webhooks library does).
        </Alert>
        <Code block data-testid="webhook-secret" style={{ wordBreak: 'break-all' }}>
          {secret}
        </Code>
        <Group justify="space-between">
          <CopyTextButton text={secret ?? ''} label="Copy" accessibleName="Copy signing secret" />
          <Button onClick={onDone}>I have stored it</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

// ---- the list

export function WebhooksPage() {
  const { can, navigate } = useConsole();
  const list = useLoad((signal) => client.listWebhooks({}, { signal }), []);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);
  const manage = can('iam:webhooks:manage');
  return (
    <ListScaffold
      title="Webhooks"
      description="Endpoints latchkey sends events to: key lifecycle events and audit log entries, signed, retried until delivered."
      action={
        manage ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            Add endpoint
          </Button>
        ) : null
      }
      list={list}
      loadingLabel="Loading webhooks"
      empty={{
        icon: <IconWebhook aria-hidden />,
        title: 'No webhook endpoints yet',
        description: manage
          ? 'Add an endpoint to receive events such as a key expiring or being deleted.'
          : 'Someone with iam:webhooks:manage can add an endpoint here.',
      }}
      extra={
        <>
          <Modal opened={adding} onClose={() => setAdding(false)} title="Add webhook endpoint" size="lg">
            {adding ? (
              <WebhookForm
                onCancel={() => setAdding(false)}
                onSaved={(saved) => {
                  setAdding(false);
                  if (saved.secret) setCreated({ id: saved.id, secret: saved.secret });
                  list.reload();
                }}
              />
            ) : null}
          </Modal>
          <SecretOnce
            secret={created?.secret ?? null}
            onDone={() => {
              const id = created?.id;
              setCreated(null);
              if (id) navigate(`/webhooks/${id}`);
            }}
          />
        </>
      }
    >
      {(items) => (
        <ListTable
          label="Webhook endpoints"
          minWidth={640}
          highlightOnHover
          columns={['URL', 'Events', 'Status', 'Last delivered']}
        >
          {items.map((w) => (
            <Table.Tr key={w.id} data-testid="webhook-row">
              <Table.Td style={{ overflowWrap: 'anywhere' }}>
                <ConsoleLink to={`/webhooks/${w.id}`}>{w.url}</ConsoleLink>
                {w.description ? (
                  <Text size="xs" c="dimmed">
                    {w.description}
                  </Text>
                ) : null}
              </Table.Td>
              <Table.Td>{w.events.join(', ')}</Table.Td>
              <Table.Td>
                <EnabledBadge hook={w} />
              </Table.Td>
              <Table.Td>{w.lastSuccessAt ? formatDateTime(w.lastSuccessAt) : 'never'}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </ListScaffold>
  );
}

// ---- one endpoint

const STATUS_COLORS: Record<WebhookDeliveryView['status'], string> = {
  pending: 'yellow',
  sending: 'blue',
  delivered: 'teal',
  failed: 'red',
  dropped: 'gray',
};

function DeliveryLog({ id, version }: { id: string; version: number }) {
  const [status, setStatus] = useState<WebhookDeliveryView['status'] | null>(null);
  const log = useLoad(
    (signal) =>
      client.listWebhookDeliveries(
        { params: { webhookId: id }, query: { limit: 50, ...(status ? { status } : {}) } },
        { signal },
      ),
    [id, status, version],
  );
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <Title order={3}>Delivery log</Title>
        <Group align="flex-end">
          <Select
            label="Status"
            placeholder="Any"
            clearable
            data={['pending', 'sending', 'delivered', 'failed', 'dropped']}
            value={status}
            onChange={(v) => setStatus(v as WebhookDeliveryView['status'] | null)}
            w={160}
          />
          <Button variant="default" leftSection={<IconRefresh size={16} aria-hidden />} onClick={log.reload}>
            Refresh
          </Button>
        </Group>
      </Group>
      <ErrorAlert error={log.error} />
      {log.loading && !log.data ? <Loader aria-label="Loading deliveries" /> : null}
      {log.data && log.data.items.length === 0 ? <Text c="dimmed">No deliveries yet.</Text> : null}
      {log.data && log.data.items.length > 0 ? (
        <ListTable
          label="Deliveries"
          minWidth={720}
          columns={['Event', 'Status', 'Attempts', 'Last answer', 'Created', 'Delivered']}
        >
          {log.data.items.map((d) => (
            <Table.Tr key={d.id} data-testid="delivery-row">
              <Table.Td>
                <Text size="sm">{d.eventType}</Text>
                <Text size="xs" c="dimmed">
                  {d.id}
                </Text>
              </Table.Td>
              <Table.Td>
                <Badge color={STATUS_COLORS[d.status]} variant="light">
                  {d.status}
                </Badge>
                {d.nextAttemptAt ? (
                  <Text size="xs" c="dimmed">
                    next try {formatDateTime(d.nextAttemptAt)}
                  </Text>
                ) : null}
              </Table.Td>
              <Table.Td>{d.attempts}</Table.Td>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>
                {d.lastError ?? (d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : '—')}
              </Table.Td>
              <Table.Td>{formatDateTime(d.createdAt)}</Table.Td>
              <Table.Td>{d.deliveredAt ? formatDateTime(d.deliveredAt) : '—'}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      ) : null}
    </Stack>
  );
}

export function WebhookDetailPage({ id }: { id: string }) {
  const { can, navigate } = useConsole();
  const loaded = useLoad((signal) => client.getWebhook({ params: { webhookId: id } }, { signal }), [id]);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [logVersion, setLogVersion] = useState(0);
  const action = useAction();
  const manage = can('iam:webhooks:manage');
  if (loaded.error) {
    return (
      <Stack>
        <ConsoleLink to="/webhooks">← All webhooks</ConsoleLink>
        <ErrorAlert error={loaded.error} />
      </Stack>
    );
  }
  if (!loaded.data) return <Loader aria-label="Loading webhook" />;
  const hook = loaded.data;
  const setEnabled = (enabled: boolean) =>
    action.run(async () => {
      loaded.setData(await client.updateWebhook({ params: { webhookId: hook.id }, body: { enabled } }));
    });
  return (
    <Stack>
      <ConsoleLink to="/webhooks">← All webhooks</ConsoleLink>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2} className="detail-heading">
          <Title order={2} style={{ overflowWrap: 'anywhere' }}>
            {hook.url}
          </Title>
          {hook.description ? (
            <Text c="dimmed" size="sm">
              {hook.description}
            </Text>
          ) : null}
        </Stack>
        {manage ? (
          <Group gap="xs">
            <Button
              variant="default"
              leftSection={<IconSend size={16} aria-hidden />}
              disabled={!hook.enabled}
              onClick={() =>
                action.run(async () => {
                  await client.testWebhook({ params: { webhookId: hook.id }, body: {} });
                  setLogVersion((v) => v + 1);
                })
              }
            >
              Send test event
            </Button>
            <Button variant="default" onClick={() => setEnabled(!hook.enabled)} loading={action.busy}>
              {hook.enabled ? 'Disable' : 'Enable'}
            </Button>
            <Button variant="default" onClick={() => setEditing(true)}>
              Edit
            </Button>
            <Button variant="default" onClick={() => setRotating(true)}>
              New secret
            </Button>
            <Button
              color="red"
              variant="light"
              leftSection={<IconTrash size={16} aria-hidden />}
              onClick={() => setDeleting(true)}
            >
              Delete
            </Button>
          </Group>
        ) : null}
      </Group>
      <ErrorAlert error={action.error} onClose={() => action.setError(null)} />
      {hook.enabled ? null : (
        <Alert color="red" icon={<IconAlertTriangle aria-hidden />} title="Disabled">
          {hook.disabledReason ?? 'This endpoint receives no events.'} Events raised while it is disabled are
          not sent to it.
        </Alert>
      )}
      <Table variant="vertical" withTableBorder aria-label="About this endpoint">
        <Table.Tbody>
          <Table.Tr>
            <Table.Th w={180}>Status</Table.Th>
            <Table.Td>
              <EnabledBadge hook={hook} />
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Events</Table.Th>
            <Table.Td>{hook.events.join(', ')}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Last delivered</Table.Th>
            <Table.Td>{hook.lastSuccessAt ? formatDateTime(hook.lastSuccessAt) : 'never'}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Failed attempts in a row</Table.Th>
            <Table.Td>
              {hook.consecutiveFailures}
              {hook.failingSince ? ` (since ${formatDateTime(hook.failingSince)})` : ''}
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      <DeliveryLog id={hook.id} version={logVersion} />
      <Modal opened={editing} onClose={() => setEditing(false)} title="Edit webhook endpoint" size="lg">
        {editing ? (
          <WebhookForm
            hook={hook}
            onCancel={() => setEditing(false)}
            onSaved={(saved) => {
              setEditing(false);
              loaded.setData(saved);
            }}
          />
        ) : null}
      </Modal>
      <ConfirmModal
        opened={rotating}
        title="New signing secret"
        confirmLabel="Generate a new secret"
        color="orange"
        onClose={() => setRotating(false)}
        onConfirm={async () => {
          setSecret((await client.rotateWebhookSecret({ params: { webhookId: hook.id }, body: {} })).secret);
        }}
      >
        <Text size="sm">
          Deliveries are signed with the new secret from now on; the receiver must verify with it at once.
        </Text>
      </ConfirmModal>
      <SecretOnce secret={secret} onDone={() => setSecret(null)} />
      <ConfirmModal
        opened={deleting}
        title="Delete webhook endpoint"
        confirmLabel="Delete endpoint"
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await client.deleteWebhook({ params: { webhookId: hook.id } });
          navigate('/webhooks');
        }}
      >
        <Text size="sm">
          Delete the endpoint <Code>{hook.url}</Code>? Events not delivered yet are not sent, and its delivery
          log goes with it.
        </Text>
      </ConfirmModal>
    </Stack>
  );
}
