import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
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
import {
  IconChevronDown,
  IconDots,
  IconTrash,
  IconUserCheck,
  IconUserOff,
  IconUserPlus,
  IconUsers,
} from '@tabler/icons-react';
import { useRef, useState } from 'react';
import { NAME_LENGTH_MAX, PAGE_SIZE } from '../../../src/limits';
import { type CreatedKey, client, type OperationInput, type UserView } from '../api';
import { ApiAccessPanel } from '../components/ApiAccessPanel';
import { PrincipalAssignmentsCard } from '../components/AssignmentsEditor';
import { MIN_PASSWORD_LENGTH } from '../components/ChangePassword';
import { SecretModal } from '../components/KeyDetails';
import { NoDataAccessWarning } from '../components/KeyForm';
import { hiddenColumn, ListScaffold, ListTable, SearchBox, useSearch } from '../components/ListScaffold';
import { TrafficRulesCard } from '../components/TrafficRules';
import { formatDateTime } from '../format';
import { beyondYouReason, GRANT_REASON } from '../grants';
import {
  ConfirmModal,
  ConsoleLink,
  ErrorAlert,
  StatusBadge,
  useAction,
  useConsole,
  useLoad,
} from '../shared';
import { rulesOfView } from '../usage';

export function UsersPage() {
  const { navigate, can } = useConsole();
  const search = useSearch();
  const [adding, setAdding] = useState(false);
  const [acting, setActing] = useState<UserAction | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const manage = can('iam:users:manage');
  const users = useLoad(
    (signal) => client.listUsers({ query: { search: search.debounced, limit: PAGE_SIZE.max } }, { signal }),
    [search.debounced],
  );
  return (
    <ListScaffold
      title="Users"
      action={
        manage ? (
          <Button leftSection={<IconUserPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            Add user
          </Button>
        ) : null
      }
      toolbar={<SearchBox label="Search users" placeholder="Name or email" search={search} />}
      notices={<ErrorAlert error={actionError} onClose={() => setActionError(null)} />}
      list={users}
      loadingLabel="Loading users"
      empty={{
        icon: <IconUsers aria-hidden />,
        title: search.debounced ? 'No user matches your search' : 'No users yet',
        description: search.debounced ? 'Try another name or email.' : 'Add a user to give someone access.',
      }}
      extra={
        <>
          <UserActionModals action={acting} onClose={() => setActing(null)} onDone={users.reload} />
          <Modal opened={adding} onClose={() => setAdding(false)} title="Add user">
            <AddUserForm
              onDone={(u) => {
                setAdding(false);
                navigate(`/users/${u.id}`);
              }}
            />
          </Modal>
        </>
      }
    >
      {(items) => (
        <ListTable
          label="Users"
          minWidth={640}
          highlightOnHover
          columns={['Name', 'Email', 'Status', 'Sign-in', 'Created', manage && hiddenColumn('Actions')]}
        >
          {items.map((u) => (
            <Table.Tr key={u.id}>
              <Table.Td>
                <ConsoleLink to={`/users/${u.id}`}>{u.name}</ConsoleLink>
                {u.isAdministrator ? (
                  <Badge ml="xs" size="xs" variant="light">
                    Administrator
                  </Badge>
                ) : null}
              </Table.Td>
              <Table.Td>{u.email}</Table.Td>
              <Table.Td>
                <StatusBadge status={u.status} />
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
              <Table.Td>{formatDateTime(u.createdAt)}</Table.Td>
              {manage ? (
                <Table.Td>
                  <Menu position="bottom-end" withinPortal>
                    <Menu.Target>
                      <ActionIcon variant="subtle" aria-label={`Actions for ${u.name}`}>
                        <IconDots size={16} aria-hidden />
                      </ActionIcon>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item data-autofocus onClick={() => navigate(`/users/${u.id}`)}>
                        Open (rename, password)
                      </Menu.Item>
                      <Menu.Item
                        leftSection={
                          u.status === 'active' ? (
                            <IconUserOff size={16} aria-hidden />
                          ) : (
                            <IconUserCheck size={16} aria-hidden />
                          )
                        }
                        onClick={async () => {
                          setActionError(null);
                          if (u.status === 'active') return setActing({ kind: 'disable', user: u });
                          try {
                            await enableUser(u);
                            users.reload();
                          } catch (e) {
                            setActionError(e);
                          }
                        }}
                      >
                        {u.status === 'active' ? 'Disable user' : 'Enable user'}
                      </Menu.Item>
                      <Menu.Item onClick={() => setActing({ kind: 'reset-mfa', user: u })}>
                        Reset MFA
                      </Menu.Item>
                      <Menu.Divider />
                      <Menu.Item
                        color="red"
                        data-danger
                        leftSection={<IconTrash size={16} aria-hidden />}
                        onClick={() => setActing({ kind: 'delete', user: u })}
                      >
                        Delete user
                      </Menu.Item>
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </ListScaffold>
  );
}

type UserAction = { kind: 'disable' | 'delete' | 'reset-mfa'; user: UserView };

const updateUser = (u: UserView, body: OperationInput<'updateUser'>['body']) =>
  client.updateUser({ params: { userId: u.id }, body });
const enableUser = (u: UserView) => updateUser(u, { status: 'active' });

/**
 * Disabling and deleting, each confirmed first. The server's refusals (the last administrator,
 * permissions the signed-in person lacks) show in the dialog with their code.
 */
function UserActionModals({
  action,
  onClose,
  onDone,
}: {
  action: UserAction | null;
  onClose: () => void;
  /** Called after the change succeeded (deleted: the user is gone). */
  onDone: (kind: UserAction['kind']) => void;
}) {
  const u = action?.user;
  return (
    <>
      <ConfirmModal
        opened={action?.kind === 'disable'}
        title="Disable user"
        confirmLabel="Disable user"
        color="orange"
        onClose={onClose}
        onConfirm={async () => {
          if (!u) return;
          await updateUser(u, { status: 'disabled' });
          onDone('disable');
        }}
      >
        <Text size="sm">
          Disable {u?.name} ({u?.email})? Their sessions end at once, they cannot sign in, and requests signed
          with their access keys are refused until the user is enabled again. Nothing is deleted.
        </Text>
      </ConfirmModal>
      <ConfirmModal
        opened={action?.kind === 'reset-mfa'}
        title="Reset MFA"
        confirmLabel="Reset MFA"
        color="orange"
        onClose={onClose}
        onConfirm={async () => {
          if (!u) return;
          await client.resetUserMfa({ params: { userId: u.id } });
          onDone('reset-mfa');
        }}
      >
        <Text size="sm">
          Remove every second factor of {u?.name} ({u?.email}): their authenticator app, passkeys and recovery
          codes? They sign in with their password alone (and set up a second factor again if the tenant
          requires one). Do this only for someone who lost theirs, once you know it is them.
        </Text>
      </ConfirmModal>
      <ConfirmModal
        opened={action?.kind === 'delete'}
        title="Delete user"
        confirmLabel="Delete user"
        onClose={onClose}
        onConfirm={async () => {
          if (!u) return;
          await client.deleteUser({ params: { userId: u.id } });
          onDone('delete');
        }}
      >
        <Text size="sm">
          Delete {u?.name} ({u?.email})? Their access keys, group memberships and roles are deleted with them,
          and requests signed with those keys are refused. This cannot be undone: to stop access for a while,
          disable the user instead.
        </Text>
      </ConfirmModal>
    </>
  );
}

/** Why the password of a user cannot be set from here (null: it can). */
function passwordBlockedReason(u: UserView, meId: string): string | null {
  if (u.id === meId) return 'This is you: change your own password from Your account, Change password.';
  if (!u.withinYourPermissions)
    return `${u.name} holds permissions you do not hold, so you cannot set their password. ${GRANT_REASON}`;
  return null;
}

function SetPasswordForm({ user, onDone }: { user: UserView; onDone: () => void }) {
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<{ field: 'next' | 'repeat'; message: string } | null>(null);
  const submit = useAction();
  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit.setError(null);
        setProblem(null);
        if (next.length < MIN_PASSWORD_LENGTH)
          return setProblem({
            field: 'next',
            message: `The password needs at least ${MIN_PASSWORD_LENGTH} characters.`,
          });
        if (repeat !== next)
          return setProblem({ field: 'repeat', message: 'The two passwords are not the same.' });
        submit.run(async () => {
          await updateUser(user, { password: next });
          onDone();
        });
      }}
    >
      <Stack>
        <Text size="sm">
          {user.name}'s sessions end and they sign in with the new password from now on. Tell them the
          password through a channel you trust.
        </Text>
        <PasswordInput
          label="New password"
          description={`At least ${MIN_PASSWORD_LENGTH} characters.`}
          autoComplete="new-password"
          required
          value={next}
          error={problem?.field === 'next' ? problem.message : undefined}
          onChange={(e) => setNext(e.currentTarget.value)}
          data-autofocus
        />
        <PasswordInput
          label="Repeat the new password"
          autoComplete="new-password"
          required
          value={repeat}
          error={problem?.field === 'repeat' ? problem.message : undefined}
          onChange={(e) => setRepeat(e.currentTarget.value)}
        />
        <ErrorAlert error={submit.error} />
        <Button type="submit" loading={submit.busy}>
          Set password
        </Button>
      </Stack>
    </form>
  );
}

/** Name, status, password and deletion of one user, for those who may manage users. */
function UserAccountCard({ user, onChanged }: { user: UserView; onChanged: () => void }) {
  const { me, navigate } = useConsole();
  const [name, setName] = useState(user.name);
  const rename = useAction();
  const [renamed, setRenamed] = useState(false);
  const [statusError, setStatusError] = useState<unknown>(null);
  const [acting, setActing] = useState<UserAction | null>(null);
  const [settingPassword, setSettingPassword] = useState(false);
  const [passwordSet, setPasswordSet] = useState(false);
  const blocked = passwordBlockedReason(user, me.id);
  const unchanged = name.trim() === user.name || name.trim() === '';
  return (
    <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="account-title">
      <Title order={3} id="account-title" mb="xs">
        Account
      </Title>
      <Stack>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setRenamed(false);
            rename.run(async () => {
              await updateUser(user, { name: name.trim() });
              setRenamed(true);
              onChanged();
            });
          }}
        >
          <Group align="flex-end">
            <TextInput
              label="Name"
              required
              maxLength={NAME_LENGTH_MAX}
              value={name}
              onChange={(e) => {
                setRenamed(false);
                setName(e.currentTarget.value);
              }}
              style={{ flex: '1 1 200px' }}
            />
            <Button type="submit" variant="default" loading={rename.busy} disabled={unchanged}>
              Rename
            </Button>
          </Group>
          {renamed ? (
            <Text size="sm" c="teal" role="status" mt={4}>
              Renamed.
            </Text>
          ) : null}
          <ErrorAlert error={rename.error} />
        </form>
        <Group gap="sm">
          {user.status === 'active' ? (
            <Button
              variant="default"
              color="orange"
              leftSection={<IconUserOff size={16} aria-hidden />}
              onClick={() => setActing({ kind: 'disable', user })}
            >
              Disable user
            </Button>
          ) : (
            <Button
              variant="default"
              leftSection={<IconUserCheck size={16} aria-hidden />}
              onClick={async () => {
                setStatusError(null);
                try {
                  await enableUser(user);
                  onChanged();
                } catch (err) {
                  setStatusError(err);
                }
              }}
            >
              Enable user
            </Button>
          )}
          <Button
            variant="default"
            disabled={blocked !== null}
            aria-describedby={blocked ? 'set-password-reason' : undefined}
            onClick={() => {
              setPasswordSet(false);
              setSettingPassword(true);
            }}
          >
            Set password
          </Button>
          <Button
            variant="light"
            color="red"
            leftSection={<IconTrash size={16} aria-hidden />}
            onClick={() => setActing({ kind: 'delete', user })}
          >
            Delete user
          </Button>
        </Group>
        {blocked ? (
          <Text size="sm" id="set-password-reason" className="grant-reason">
            {blocked}
          </Text>
        ) : null}
        {passwordSet ? (
          <Text size="sm" c="teal" role="status">
            Password set. {user.name}'s earlier sessions have ended.
          </Text>
        ) : null}
        <ErrorAlert error={statusError} onClose={() => setStatusError(null)} />
      </Stack>
      <UserActionModals
        action={acting}
        onClose={() => setActing(null)}
        onDone={(kind) => (kind === 'delete' ? navigate('/users') : onChanged())}
      />
      <Modal
        opened={settingPassword}
        onClose={() => setSettingPassword(false)}
        title={`Set password of ${user.name}`}
      >
        {settingPassword ? (
          <SetPasswordForm
            user={user}
            onDone={() => {
              setSettingPassword(false);
              setPasswordSet(true);
              onChanged();
            }}
          />
        ) : null}
      </Modal>
    </Card>
  );
}

function AddUserForm({ onDone }: { onDone: (u: UserView) => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const submit = useAction();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit.run(async () =>
          onDone(await client.createUser({ body: { email, name, ...(password ? { password } : {}) } })),
        );
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
          description={`Optional: at least ${MIN_PASSWORD_LENGTH} characters. Without one the user cannot sign in until given one.`}
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
        />
        <ErrorAlert error={submit.error} />
        <Button type="submit" loading={submit.busy}>
          Add user
        </Button>
      </Stack>
    </form>
  );
}

export function UserDetailPage({ userId }: { userId: string }) {
  const { can } = useConsole();
  const user = useLoad((signal) => client.getUser({ params: { userId } }, { signal }), [userId]);
  const [confirmApiKey, setConfirmApiKey] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const moreRef = useRef<HTMLButtonElement>(null);
  const [panelVersion, setPanelVersion] = useState(0);
  const [statusError, setStatusError] = useState<unknown>(null);
  if (user.error) return <ErrorAlert error={user.error} />;
  if (!user.data) return <Loader aria-label="Loading user" />;
  const u = user.data;
  return (
    <Stack>
      <ConsoleLink to="/users">← All users</ConsoleLink>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2} className="detail-heading">
          <Title order={2}>{u.name}</Title>
          <Text c="dimmed">{u.email}</Text>
          <Group gap={6}>
            <StatusBadge status={u.status} />
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
              <Button
                ref={moreRef}
                variant="default"
                rightSection={<IconChevronDown size={16} aria-hidden />}
              >
                More
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item
                data-autofocus
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
      {can('iam:users:manage') ? <UserAccountCard key={u.id} user={u} onChanged={user.reload} /> : null}
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
              await updateUser(u, { apiUser });
              // The list and detail answers say what the signed-in person may do with the user: read it again.
              user.reload();
            } catch (err) {
              setStatusError(err);
            }
          }}
        />
        <ErrorAlert error={statusError} />
      </Card>
      <TrafficRulesCard
        rules={rulesOfView(u)}
        canEdit={can('iam:users:manage')}
        save={(rules) => updateUser(u, rules)}
        onSaved={user.reload}
        about={`Shared by all of ${u.name}'s keys, on top of each key's own limits and the tenant's defaults: the strictest wins.`}
        readOnlyReason="Only someone with iam:users:manage can change these."
      />
      <PrincipalAssignmentsCard
        principal={{ type: 'user', id: u.id }}
        managePermission="iam:users:manage"
        onSaved={user.reload}
      />
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
          const result = await client.createUserKey({
            params: { userId: u.id },
            body: { name: 'API Secret Key', apiUser: true },
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
        <NoDataAccessWarning owner={{ type: 'user', id: u.id }} label={u.name} />
      </ConfirmModal>
      <SecretModal
        created={created}
        title="API Secret Key"
        onClose={() => setCreated(null)}
        fallbackFocus={moreRef}
      />
    </Stack>
  );
}
