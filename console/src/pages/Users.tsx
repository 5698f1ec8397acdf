import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  EmptyState,
  Group,
  Loader,
  Menu,
  Modal,
  PasswordInput,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconChevronDown, IconSearch, IconUserPlus, IconUsers } from '@tabler/icons-react';
import { useState } from 'react';
import {
  api,
  type CreatedKey,
  type GroupView,
  type NamedRef,
  type Page,
  query,
  type RoleView,
  type UserView,
} from '../api';
import { ApiAccessPanel } from '../components/ApiAccessPanel';
import { GrantChecklist } from '../components/GrantChecklist';
import { SecretModal } from '../components/KeyDetails';
import { formatDate } from '../format';
import { beyondYouReason, grantableGroup, grantableRole, grantOptions } from '../grants';
import { ConfirmModal, ErrorAlert, useConsole, useLoad } from '../shared';

export function UsersPage() {
  const { navigate, can } = useConsole();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  const [adding, setAdding] = useState(false);
  const users = useLoad(
    (signal) => api.get<Page<UserView>>(`/iam/users${query({ search: debounced, limit: 200 })}`, { signal }),
    [debounced],
  );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        {can('iam:users:manage') ? (
          <Button leftSection={<IconUserPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            Add user
          </Button>
        ) : null}
      </Group>
      <TextInput
        label="Search users"
        placeholder="Name or email"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
        maw={360}
      />
      <ErrorAlert error={users.error} />
      {users.loading && !users.data ? <Loader aria-label="Loading users" /> : null}
      {users.data && users.data.items.length === 0 ? (
        <EmptyState
          icon={<IconUsers aria-hidden />}
          title={debounced ? 'No user matches your search' : 'No users yet'}
          description={debounced ? 'Try another name or email.' : 'Add a user to give someone access.'}
        />
      ) : null}
      {users.data && users.data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table highlightOnHover aria-label="Users">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Sign-in</Table.Th>
                <Table.Th>Created</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.items.map((u) => (
                <Table.Tr key={u.id}>
                  <Table.Td>
                    <Anchor
                      href={`/console/users/${u.id}`}
                      onClick={(e) => {
                        e.preventDefault();
                        navigate(`/users/${u.id}`);
                      }}
                    >
                      {u.name}
                    </Anchor>
                    {u.isAdministrator ? (
                      <Badge ml="xs" size="xs" variant="light">
                        Administrator
                      </Badge>
                    ) : null}
                  </Table.Td>
                  <Table.Td>{u.email}</Table.Td>
                  <Table.Td>
                    <Badge color={u.status === 'active' ? 'green' : 'gray'} variant="light">
                      {u.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    {u.apiUser ? (
                      <Badge color="grape" variant="light">
                        API user
                      </Badge>
                    ) : (
                      <Text size="sm">Interactive</Text>
                    )}
                  </Table.Td>
                  <Table.Td>{formatDate(u.createdAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add user">
        <AddUserForm
          onDone={(u) => {
            setAdding(false);
            navigate(`/users/${u.id}`);
          }}
        />
      </Modal>
    </Stack>
  );
}

function AddUserForm({ onDone }: { onDone: (u: UserView) => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          onDone(await api.post<UserView>('/iam/users', { email, name, ...(password ? { password } : {}) }));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Stack>
        <TextInput
          label="Email"
          type="email"
          required
          value={email}
          onChange={(e) => setEmail(e.currentTarget.value)}
        />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <PasswordInput
          label="Password"
          description="Optional: at least 12 characters. Without one the user cannot sign in until given one."
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
        />
        <ErrorAlert error={error} />
        <Button type="submit" loading={busy}>
          Add user
        </Button>
      </Stack>
    </form>
  );
}

/**
 * The groups and roles of a user or service account. Only what the signed-in person may grant can
 * be given; what they cannot stays listed with the reason.
 */
function SubjectAssignments({
  path,
  managePermission,
  onSaved,
}: {
  path: string;
  managePermission: string;
  /** What the subject holds changed (and with it what the signed-in person may do with it). */
  onSaved?: () => void;
}) {
  const { can } = useConsole();
  const current = useLoad(
    (signal) => api.get<{ groups: NamedRef[]; roles: NamedRef[] }>(`${path}/assignments`, { signal }),
    [path],
  );
  const options = useLoad(
    async (signal) => ({
      groups: can('iam:groups:read')
        ? (await api.get<{ items: GroupView[] }>('/iam/groups', { signal })).items
        : [],
      roles: can('iam:roles:read')
        ? (await api.get<{ items: RoleView[] }>('/iam/roles', { signal })).items
        : [],
    }),
    [],
  );
  const [groups, setGroups] = useState<string[] | null>(null);
  const [roles, setRoles] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!current.data || !options.data) {
    const loadError = current.error ?? options.error;
    return loadError ? (
      <ErrorAlert error={loadError} />
    ) : (
      <Loader size="sm" aria-label="Loading assignments" />
    );
  }
  const manage = can(managePermission);
  const g = groups ?? current.data.groups.map((x) => x.id);
  const r = roles ?? current.data.roles.map((x) => x.id);
  return (
    <Stack gap="sm">
      {manage ? null : (
        <Text size="sm" c="dimmed">
          Changing these needs {managePermission}.
        </Text>
      )}
      <GrantChecklist
        label="Groups"
        options={grantOptions(options.data.groups.map(grantableGroup), current.data.groups)}
        value={g}
        onChange={(v) => {
          setSaved(false);
          setGroups(v);
        }}
        readOnly={!manage}
        emptyText="No groups."
      />
      <GrantChecklist
        label="Roles"
        options={grantOptions(options.data.roles.map(grantableRole), current.data.roles)}
        value={r}
        onChange={(v) => {
          setSaved(false);
          setRoles(v);
        }}
        readOnly={!manage}
        emptyText="No roles."
      />
      <ErrorAlert error={error} />
      <Group>
        <Button
          size="xs"
          loading={busy}
          disabled={!manage}
          onClick={async () => {
            setError(null);
            setSaved(false);
            setBusy(true);
            try {
              await api.put(`${path}/assignments`, { groupIds: g, roleIds: r });
              setSaved(true);
              setGroups(null);
              setRoles(null);
              current.reload();
              onSaved?.();
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          Save groups and roles
        </Button>
        {saved ? (
          <Text size="sm" c="teal" role="status">
            Saved.
          </Text>
        ) : null}
      </Group>
    </Stack>
  );
}

export { SubjectAssignments };

export function UserDetailPage({ userId }: { userId: string }) {
  const { navigate, can } = useConsole();
  const user = useLoad((signal) => api.get<UserView>(`/iam/users/${userId}`, { signal }), [userId]);
  const [confirmApiKey, setConfirmApiKey] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [panelVersion, setPanelVersion] = useState(0);
  const [statusError, setStatusError] = useState<unknown>(null);
  if (user.error) return <ErrorAlert error={user.error} />;
  if (!user.data) return <Loader aria-label="Loading user" />;
  const u = user.data;
  return (
    <Stack>
      <Anchor
        href="/console/users"
        onClick={(e) => {
          e.preventDefault();
          navigate('/users');
        }}
      >
        ← All users
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
          <Title order={2}>{u.name}</Title>
          <Text c="dimmed">{u.email}</Text>
          <Group gap={6}>
            <Badge color={u.status === 'active' ? 'green' : 'gray'} variant="light">
              {u.status}
            </Badge>
            {u.isAdministrator ? <Badge variant="light">Administrator</Badge> : null}
            {u.apiUser ? (
              <Badge color="grape" variant="light">
                API user
              </Badge>
            ) : null}
          </Group>
        </Stack>
        {can('iam:keys:manage') ? (
          <Menu position="bottom-end">
            <Menu.Target>
              <Button variant="default" rightSection={<IconChevronDown size={16} aria-hidden />}>
                More
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item
                disabled={!u.withinYourPermissions}
                onClick={() => setConfirmApiKey(true)}
                aria-describedby={u.withinYourPermissions ? undefined : 'api-secret-key-reason'}
              >
                API Secret Key
              </Menu.Item>
              {u.withinYourPermissions ? null : (
                <Text size="xs" px="sm" pb="xs" maw={280} id="api-secret-key-reason">
                  {beyondYouReason(u.name)}
                </Text>
              )}
            </Menu.Dropdown>
          </Menu>
        ) : null}
      </Group>
      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="signin-title">
        <Title order={3} id="signin-title" mb="xs">
          Sign-in
        </Title>
        <Switch
          label="API user"
          description="An API user signs requests with keys only and cannot sign in to the console with a password."
          checked={u.apiUser}
          disabled={!can('iam:users:manage')}
          onChange={async (e) => {
            const apiUser = e.currentTarget.checked;
            setStatusError(null);
            try {
              await api.patch<UserView>(`/iam/users/${u.id}`, { apiUser });
              // The list and detail answers say what the signed-in person may do with the user: read it again.
              user.reload();
            } catch (err) {
              setStatusError(err);
            }
          }}
        />
        <ErrorAlert error={statusError} />
      </Card>
      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="assign-title">
        <Title order={3} id="assign-title" mb="xs">
          Groups and roles
        </Title>
        <SubjectAssignments
          path={`/iam/users/${u.id}`}
          managePermission="iam:users:manage"
          onSaved={user.reload}
        />
      </Card>
      <ApiAccessPanel
        key={panelVersion}
        owner={{ type: 'user', id: u.id, label: u.email }}
        ownerEmail={u.email}
        ownerWithinYourPermissions={u.withinYourPermissions}
      />
      <ConfirmModal
        opened={confirmApiKey}
        title="API Secret Key"
        confirmLabel="Generate API Secret Key"
        color="orange"
        onClose={() => setConfirmApiKey(false)}
        onConfirm={async () => {
          const result = await api.post<CreatedKey>(`/iam/users/${u.id}/keys`, {
            name: 'API Secret Key',
            apiUser: true,
          });
          setCreated(result);
          setPanelVersion((v) => v + 1);
          user.reload();
        }}
      >
        <Alert color="orange" title="Important">
          Once an API secret key is generated for {u.name}, this user can no longer sign in to the console
          with a password. The user can only call the API with the access key and secret key.
        </Alert>
        <Text size="sm">The access key and secret key are shown once, right after generation.</Text>
      </ConfirmModal>
      <SecretModal created={created} title="API Secret Key" onClose={() => setCreated(null)} />
    </Stack>
  );
}
