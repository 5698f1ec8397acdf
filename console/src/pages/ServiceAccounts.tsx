import { Button, Group, Loader, Modal, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { IconPlus, IconRobot } from '@tabler/icons-react';
import { useState } from 'react';
import { PAGE_SIZE } from '../../../src/limits';
import { client, type ServiceAccountView } from '../api';
import { ApiAccessPanel } from '../components/ApiAccessPanel';
import { PrincipalAssignmentsCard } from '../components/AssignmentsEditor';
import { ListScaffold, ListTable, SearchBox, useSearch } from '../components/ListScaffold';
import { TrafficRulesCard } from '../components/TrafficRules';
import { formatDateTime } from '../format';
import { GRANT_REASON } from '../grants';
import { ConsoleLink, ErrorAlert, StatusBadge, useAction, useConsole, useLoad } from '../shared';
import { rulesOfView } from '../usage';

export function ServiceAccountsPage() {
  const { navigate, can } = useConsole();
  const search = useSearch();
  const [adding, setAdding] = useState(false);
  const list = useLoad(
    (signal) =>
      client.listServiceAccounts({ query: { search: search.debounced, limit: PAGE_SIZE.max } }, { signal }),
    [search.debounced],
  );
  return (
    <ListScaffold
      title="Service accounts"
      action={
        can('iam:service-accounts:manage') ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            Add service account
          </Button>
        ) : null
      }
      toolbar={<SearchBox label="Search service accounts" search={search} />}
      list={list}
      loadingLabel="Loading service accounts"
      empty={{
        icon: <IconRobot aria-hidden />,
        title: search.debounced ? 'No service account matches' : 'No service accounts yet',
        description: 'Service accounts hold keys for programs rather than people. Add one to get started.',
      }}
      extra={
        <Modal opened={adding} onClose={() => setAdding(false)} title="Add service account">
          <ServiceAccountForm
            onSaved={(a) => {
              setAdding(false);
              navigate(`/service-accounts/${a.id}`);
            }}
          />
        </Modal>
      }
    >
      {(items) => (
        <ListTable
          label="Service accounts"
          minWidth={560}
          highlightOnHover
          columns={['Name', 'Email', 'Status', 'Created']}
        >
          {items.map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>
                <ConsoleLink to={`/service-accounts/${a.id}`}>{a.name}</ConsoleLink>
              </Table.Td>
              <Table.Td>
                {a.email ?? (
                  <Text c="dimmed" size="sm">
                    no email
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <StatusBadge status={a.status} />
              </Table.Td>
              <Table.Td>{formatDateTime(a.createdAt)}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </ListScaffold>
  );
}

function ServiceAccountForm({
  existing,
  onSaved,
}: {
  existing?: ServiceAccountView;
  onSaved: (a: ServiceAccountView) => void;
}) {
  const [name, setName] = useState(existing?.name ?? '');
  const [email, setEmail] = useState(existing?.email ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const submit = useAction();
  // Moving the address keys are mailed to is acting as the account: only within your permissions.
  const emailLocked = existing !== undefined && !existing.withinYourPermissions;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const body = {
          name,
          description,
          ...(emailLocked ? {} : { email: email.trim() ? email.trim() : null }),
        };
        submit.run(async () =>
          onSaved(
            existing
              ? await client.updateServiceAccount({ params: { serviceAccountId: existing.id }, body })
              : await client.createServiceAccount({ body }),
          ),
        );
      }}
    >
      <Stack>
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput
          label="Email"
          type="email"
          description={
            emailLocked
              ? `Keys are emailed to this address, so changing it needs all the permissions of ${existing?.name}. ${GRANT_REASON}`
              : 'Needed to send keys by email.'
          }
          disabled={emailLocked}
          value={email}
          onChange={(e) => setEmail(e.currentTarget.value)}
        />
        <Textarea
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <ErrorAlert error={submit.error} />
        <Button type="submit" loading={submit.busy}>
          {existing ? 'Save' : 'Add service account'}
        </Button>
      </Stack>
    </form>
  );
}

export function ServiceAccountDetailPage({ id }: { id: string }) {
  const { can } = useConsole();
  const account = useLoad(
    (signal) => client.getServiceAccount({ params: { serviceAccountId: id } }, { signal }),
    [id],
  );
  const [editing, setEditing] = useState(false);
  if (account.error) return <ErrorAlert error={account.error} />;
  if (!account.data) return <Loader aria-label="Loading service account" />;
  const a = account.data;
  return (
    <Stack>
      <ConsoleLink to="/service-accounts">← All service accounts</ConsoleLink>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2} className="detail-heading">
          <Title order={2}>{a.name}</Title>
          <Text c="dimmed">{a.email ?? 'No email address'}</Text>
          {a.description ? <Text size="sm">{a.description}</Text> : null}
        </Stack>
        {can('iam:service-accounts:manage') ? (
          <Button variant="default" onClick={() => setEditing(true)}>
            Edit
          </Button>
        ) : null}
      </Group>
      <TrafficRulesCard
        rules={rulesOfView(a)}
        canEdit={can('iam:service-accounts:manage')}
        save={(rules) => client.updateServiceAccount({ params: { serviceAccountId: a.id }, body: rules })}
        onSaved={account.reload}
        about={`Shared by all of ${a.name}'s keys, on top of each key's own limits and the tenant's defaults: the strictest wins.`}
        readOnlyReason="Only someone with iam:service-accounts:manage can change these."
      />
      <PrincipalAssignmentsCard
        principal={{ type: 'service_account', id: a.id }}
        managePermission="iam:service-accounts:manage"
        onSaved={account.reload}
      />
      <ApiAccessPanel
        key={a.email ?? ''}
        owner={{ type: 'service_account', id: a.id, label: a.name }}
        ownerEmail={a.email}
        ownerWithinYourPermissions={a.withinYourPermissions}
      />
      <Modal opened={editing} onClose={() => setEditing(false)} title="Edit service account">
        <ServiceAccountForm
          existing={a}
          onSaved={() => {
            setEditing(false);
            // The PATCH answer does not say what the signed-in person may do with the account.
            account.reload();
          }}
        />
      </Modal>
    </Stack>
  );
}
