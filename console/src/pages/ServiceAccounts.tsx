import {
  Anchor,
  Badge,
  Button,
  Card,
  EmptyState,
  Group,
  Loader,
  Modal,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlus, IconRobot, IconSearch } from '@tabler/icons-react';
import { useState } from 'react';
import { api, type Page, query, type ServiceAccountView } from '../api';
import { ApiAccessPanel } from '../components/ApiAccessPanel';
import { formatDate } from '../format';
import { GRANT_REASON } from '../grants';
import { ErrorAlert, useConsole, useLoad } from '../shared';
import { SubjectAssignments } from './Users';

export function ServiceAccountsPage() {
  const { navigate, can } = useConsole();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  const [adding, setAdding] = useState(false);
  const list = useLoad(
    (signal) =>
      api.get<Page<ServiceAccountView>>(`/iam/service-accounts${query({ search: debounced, limit: 200 })}`, {
        signal,
      }),
    [debounced],
  );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Service accounts</Title>
        {can('iam:service-accounts:manage') ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            Add service account
          </Button>
        ) : null}
      </Group>
      <TextInput
        label="Search service accounts"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
        maw={360}
      />
      <ErrorAlert error={list.error} />
      {list.loading && !list.data ? <Loader aria-label="Loading service accounts" /> : null}
      {list.data && list.data.items.length === 0 ? (
        <EmptyState
          icon={<IconRobot aria-hidden />}
          title={debounced ? 'No service account matches' : 'No service accounts yet'}
          description="Service accounts hold keys for programs rather than people. Add one to get started."
        />
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <Table highlightOnHover aria-label="Service accounts">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Email</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Created</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.items.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>
                  <Anchor
                    href={`/console/service-accounts/${a.id}`}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/service-accounts/${a.id}`);
                    }}
                  >
                    {a.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  {a.email ?? (
                    <Text c="dimmed" size="sm">
                      no email
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Badge color={a.status === 'active' ? 'green' : 'gray'} variant="light">
                    {a.status}
                  </Badge>
                </Table.Td>
                <Table.Td>{formatDate(a.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add service account">
        <ServiceAccountForm
          onSaved={(a) => {
            setAdding(false);
            navigate(`/service-accounts/${a.id}`);
          }}
        />
      </Modal>
    </Stack>
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
  const [error, setError] = useState<unknown>(null);
  // Moving the address keys are mailed to is acting as the account: only within your permissions.
  const emailLocked = existing !== undefined && !existing.withinYourPermissions;
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        const body = {
          name,
          description,
          ...(emailLocked ? {} : { email: email.trim() ? email.trim() : null }),
        };
        try {
          onSaved(
            existing
              ? await api.patch<ServiceAccountView>(`/iam/service-accounts/${existing.id}`, body)
              : await api.post<ServiceAccountView>('/iam/service-accounts', body),
          );
        } catch (err) {
          setError(err);
        }
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
        <ErrorAlert error={error} />
        <Button type="submit">{existing ? 'Save' : 'Add service account'}</Button>
      </Stack>
    </form>
  );
}

export function ServiceAccountDetailPage({ id }: { id: string }) {
  const { navigate, can } = useConsole();
  const account = useLoad(
    (signal) => api.get<ServiceAccountView>(`/iam/service-accounts/${id}`, { signal }),
    [id],
  );
  const [editing, setEditing] = useState(false);
  if (account.error) return <ErrorAlert error={account.error} />;
  if (!account.data) return <Loader aria-label="Loading service account" />;
  const a = account.data;
  return (
    <Stack>
      <Anchor
        href="/console/service-accounts"
        onClick={(e) => {
          e.preventDefault();
          navigate('/service-accounts');
        }}
      >
        ← All service accounts
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
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
      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="sa-assign-title">
        <Title order={3} id="sa-assign-title" mb="xs">
          Groups and roles
        </Title>
        <SubjectAssignments
          path={`/iam/service-accounts/${a.id}`}
          managePermission="iam:service-accounts:manage"
          onSaved={account.reload}
        />
      </Card>
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
