import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  EmptyState,
  Group,
  Loader,
  Modal,
  Select,
  Stack,
  Table,
  Tabs,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPlus, IconShield, IconTrash, IconUsersGroup } from '@tabler/icons-react';
import { useId, useState } from 'react';
import {
  api,
  type GroupMember,
  type GroupView,
  type Page,
  type RoleView,
  type ServiceAccountView,
  type UserView,
} from '../api';
import { GrantChecklist } from '../components/GrantChecklist';
import { GRANT_REASON, grantableRole, grantOptions, permissionsNotHeld } from '../grants';
import { ConfirmModal, ErrorAlert, useConsole, useLoad } from '../shared';

export function GroupsRolesPage() {
  return (
    <Stack>
      <Title order={2}>Groups and roles</Title>
      <Tabs defaultValue="roles" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="roles">Roles</Tabs.Tab>
          <Tabs.Tab value="groups">Groups</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="roles" pt="md">
          <RolesTab />
        </Tabs.Panel>
        <Tabs.Panel value="groups" pt="md">
          <GroupsTab />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function RoleForm({ role, onSaved }: { role?: RoleView; onSaved: () => void }) {
  const { me } = useConsole();
  const catalogue = useLoad((signal) => api.get<{ items: string[] }>('/iam/permissions', { signal }), []);
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [permissions, setPermissions] = useState<string[]>(role?.permissions ?? []);
  const [refused, setRefused] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  // What the role has already may stay (it gives nobody more); only additions must be held.
  const original = role?.permissions ?? [];
  const held = new Set(me.permissions);
  const options = (catalogue.data?.items ?? []).map((p) => ({
    value: p,
    label: p,
    disabled: !held.has(p) && !original.includes(p),
  }));
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          if (role) await api.patch(`/iam/roles/${role.id}`, { name, description, permissions });
          else await api.post('/iam/roles', { name, description, permissions });
          onSaved();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <Stack>
        <TextInput label="Role name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <Textarea
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <TagsInput
          label="Permissions"
          description={`Pick from the list or type a pattern: * matches one part (agent:*), a final * the rest (*:read). ${GRANT_REASON}`}
          data={options}
          value={permissions}
          onChange={(next) => {
            // A typed pattern skips the list's disabled options: check it the same way.
            const added = next.filter((p) => !permissions.includes(p) && !original.includes(p));
            const notHeld = permissionsNotHeld(added, me.permissions, catalogue.data?.items ?? []);
            setRefused(notHeld);
            setPermissions(next.filter((p) => !notHeld.includes(p)));
          }}
          renderOption={({ option }) =>
            (option as { disabled?: boolean }).disabled ? (
              <Stack gap={0}>
                <Text size="sm">{option.value}</Text>
                <Text size="xs" className="grant-reason">
                  You do not hold it. {GRANT_REASON}
                </Text>
              </Stack>
            ) : (
              option.value
            )
          }
          clearable
          maxDropdownHeight={240}
        />
        {refused.length > 0 ? (
          <Alert color="orange" role="alert" title="Not added">
            You do not hold {refused.join(', ')}, so you cannot put it in a role. {GRANT_REASON}
          </Alert>
        ) : null}
        <ErrorAlert error={error ?? catalogue.error} />
        <Button type="submit">{role ? 'Save role' : 'Create role'}</Button>
      </Stack>
    </form>
  );
}

function RolesTab() {
  const { can } = useConsole();
  const roles = useLoad((signal) => api.get<{ items: RoleView[] }>('/iam/roles', { signal }), []);
  const [editing, setEditing] = useState<RoleView | 'new' | null>(null);
  const [deleting, setDeleting] = useState<RoleView | null>(null);
  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          A role is a named set of permissions. Assign roles to users, service accounts, groups or single
          keys.
        </Text>
        {can('iam:roles:manage') ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setEditing('new')}>
            Create role
          </Button>
        ) : null}
      </Group>
      <ErrorAlert error={roles.error} />
      {!roles.data && !roles.error ? <Loader aria-label="Loading roles" /> : null}
      {roles.data && roles.data.items.length === 0 ? (
        <EmptyState
          icon={<IconShield aria-hidden />}
          title="No roles"
          description="Create a role to grant permissions."
        />
      ) : null}
      {roles.data && roles.data.items.length > 0 ? (
        <Table aria-label="Roles">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Role</Table.Th>
              <Table.Th>Permissions</Table.Th>
              <Table.Th>
                <span className="visually-hidden">Actions</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {roles.data.items.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>
                  <Text fw={500}>{r.name}</Text>
                  <Text size="xs" c="dimmed">
                    {r.description}
                  </Text>
                  {r.builtin ? (
                    <Badge size="xs" variant="default">
                      Built-in
                    </Badge>
                  ) : null}
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {r.permissions.map((p) => (
                      <Badge key={p} variant="outline" tt="none">
                        {p}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>
                  {can('iam:roles:manage') && !r.builtin ? (
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant="subtle"
                        onClick={() => setEditing(r)}
                        aria-label={`Edit role ${r.name}`}
                      >
                        Edit
                      </Button>
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        aria-label={`Delete role ${r.name}`}
                        onClick={() => setDeleting(r)}
                      >
                        <IconTrash size={16} aria-hidden />
                      </ActionIcon>
                    </Group>
                  ) : null}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? 'Create role' : 'Edit role'}
        size="lg"
      >
        {editing ? (
          <RoleForm
            role={editing === 'new' ? undefined : editing}
            onSaved={() => {
              setEditing(null);
              roles.reload();
            }}
          />
        ) : null}
      </Modal>
      <ConfirmModal
        opened={deleting !== null}
        title="Delete role"
        confirmLabel="Delete role"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (deleting) await api.delete(`/iam/roles/${deleting.id}`);
          roles.reload();
        }}
      >
        <Text size="sm">Delete the role {deleting?.name}? Everyone holding it loses its permissions.</Text>
      </ConfirmModal>
    </Stack>
  );
}

function GroupForm({ group, roles, onSaved }: { group?: GroupView; roles: RoleView[]; onSaved: () => void }) {
  const [name, setName] = useState(group?.name ?? '');
  const [description, setDescription] = useState(group?.description ?? '');
  const [roleIds, setRoleIds] = useState<string[]>(group?.roles.map((r) => r.id) ?? []);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          if (group) await api.patch(`/iam/groups/${group.id}`, { name, description, roleIds });
          else await api.post('/iam/groups', { name, description, roleIds });
          onSaved();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <Stack>
        <TextInput
          label="Group name"
          required
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Textarea
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <GrantChecklist
          label="Roles"
          options={grantOptions(roles.map(grantableRole), group?.roles ?? [])}
          value={roleIds}
          onChange={setRoleIds}
          emptyText="No roles yet: create one on the Roles tab."
        />
        <ErrorAlert error={error} />
        <Button type="submit">{group ? 'Save group' : 'Create group'}</Button>
      </Stack>
    </form>
  );
}

function Members({ group, onChanged }: { group: GroupView; onChanged: () => void }) {
  const { can } = useConsole();
  const detail = useLoad(
    (signal) => api.get<GroupView & { members: GroupMember[] }>(`/iam/groups/${group.id}`, { signal }),
    [group.id],
  );
  const candidates = useLoad(async (signal) => {
    const users = can('iam:users:read')
      ? (await api.get<Page<UserView>>('/iam/users?limit=200', { signal })).items
      : [];
    const accounts = can('iam:service-accounts:read')
      ? (await api.get<Page<ServiceAccountView>>('/iam/service-accounts?limit=200', { signal })).items
      : [];
    return [
      { group: 'Users', items: users.map((u) => ({ value: `user:${u.id}`, label: u.email })) },
      {
        group: 'Service accounts',
        items: accounts.map((a) => ({ value: `service_account:${a.id}`, label: a.name })),
      },
    ];
  }, []);
  const [adding, setAdding] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const addId = useId();
  const manage = can('iam:groups:manage');
  // A member gets all the group gives: only a group the signed-in person could grant takes new ones.
  const mayAdd = group.grantable;
  // Administrators' members change only by a holder of `*` (who can grant the group).
  const mayRemove = group.grantable || !group.builtin;
  return (
    <Stack>
      {detail.data && detail.data.members.length === 0 ? (
        <Text size="sm" c="dimmed">
          No members yet. Add a user or service account below.
        </Text>
      ) : null}
      {detail.data?.members.map((m) => (
        <Group key={`${m.type}:${m.id}`} justify="space-between">
          <Text size="sm">
            {m.label}{' '}
            <Text span size="xs" c="dimmed">
              ({m.type.replace('_', ' ')})
            </Text>
          </Text>
          {manage ? (
            <ActionIcon
              variant="subtle"
              color="red"
              disabled={!mayRemove}
              // The reason is the description under "Add member" (Mantine names it <id>-description).
              aria-describedby={mayRemove ? undefined : `${addId}-description`}
              aria-label={`Remove ${m.label} from ${group.name}`}
              onClick={async () => {
                setError(null);
                try {
                  await api.delete(`/iam/groups/${group.id}/members/${m.type}/${m.id}`);
                  detail.reload();
                  onChanged();
                } catch (e) {
                  setError(e);
                }
              }}
            >
              <IconTrash size={16} aria-hidden />
            </ActionIcon>
          ) : null}
        </Group>
      ))}
      {manage ? (
        <Group align="flex-end">
          <Select
            label="Add member"
            data={candidates.data ?? []}
            value={adding}
            onChange={setAdding}
            searchable
            id={addId}
            disabled={!mayAdd}
            description={
              mayAdd
                ? undefined
                : group.builtin
                  ? `${GRANT_REASON} Only someone holding every permission (*) can change who is in ${group.name}.`
                  : `${group.name} gives permissions you do not hold, so you cannot add members to it. ${GRANT_REASON}`
            }
            style={{ flex: 1 }}
          />
          <Button
            disabled={!adding || !mayAdd}
            onClick={async () => {
              if (!adding) return;
              const [type, id] = adding.split(':');
              setError(null);
              try {
                await api.post(`/iam/groups/${group.id}/members`, { type, id });
                setAdding(null);
                detail.reload();
                onChanged();
              } catch (e) {
                setError(e);
              }
            }}
          >
            Add
          </Button>
        </Group>
      ) : null}
      <ErrorAlert error={error ?? detail.error} />
    </Stack>
  );
}

function GroupsTab() {
  const { can } = useConsole();
  const groups = useLoad((signal) => api.get<{ items: GroupView[] }>('/iam/groups', { signal }), []);
  const roles = useLoad((signal) => api.get<{ items: RoleView[] }>('/iam/roles', { signal }), []);
  const [editing, setEditing] = useState<GroupView | 'new' | null>(null);
  const [members, setMembers] = useState<GroupView | null>(null);
  const [deleting, setDeleting] = useState<GroupView | null>(null);
  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          Members of a group get the group's roles. Administrators are the members of the built-in
          Administrators group.
        </Text>
        {can('iam:groups:manage') ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setEditing('new')}>
            Create group
          </Button>
        ) : null}
      </Group>
      <ErrorAlert error={groups.error} />
      {!groups.data && !groups.error ? <Loader aria-label="Loading groups" /> : null}
      {groups.data && groups.data.items.length === 0 ? (
        <EmptyState
          icon={<IconUsersGroup aria-hidden />}
          title="No groups"
          description="Create a group to manage roles for many people at once."
        />
      ) : null}
      {groups.data && groups.data.items.length > 0 ? (
        <Table aria-label="Groups">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Group</Table.Th>
              <Table.Th>Roles</Table.Th>
              <Table.Th>Members</Table.Th>
              <Table.Th>
                <span className="visually-hidden">Actions</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {groups.data.items.map((g) => (
              <Table.Tr key={g.id}>
                <Table.Td>
                  <Text fw={500}>{g.name}</Text>
                  <Text size="xs" c="dimmed">
                    {g.description}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {g.roles.map((r) => (
                      <Badge key={r.id} variant="light">
                        {r.name}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>{g.memberCount}</Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button
                      size="xs"
                      variant="subtle"
                      onClick={() => setMembers(g)}
                      aria-label={`Members of ${g.name}`}
                    >
                      Members
                    </Button>
                    {can('iam:groups:manage') && !g.builtin ? (
                      <>
                        <Button
                          size="xs"
                          variant="subtle"
                          onClick={() => setEditing(g)}
                          aria-label={`Edit group ${g.name}`}
                        >
                          Edit
                        </Button>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={`Delete group ${g.name}`}
                          onClick={() => setDeleting(g)}
                        >
                          <IconTrash size={16} aria-hidden />
                        </ActionIcon>
                      </>
                    ) : null}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? 'Create group' : 'Edit group'}
      >
        {editing ? (
          <GroupForm
            group={editing === 'new' ? undefined : editing}
            roles={roles.data?.items ?? []}
            onSaved={() => {
              setEditing(null);
              groups.reload();
            }}
          />
        ) : null}
      </Modal>
      <Modal
        opened={members !== null}
        onClose={() => setMembers(null)}
        title={`Members of ${members?.name ?? ''}`}
      >
        {members ? <Members group={members} onChanged={groups.reload} /> : null}
      </Modal>
      <ConfirmModal
        opened={deleting !== null}
        title="Delete group"
        confirmLabel="Delete group"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (deleting) await api.delete(`/iam/groups/${deleting.id}`);
          groups.reload();
        }}
      >
        <Text size="sm">Delete the group {deleting?.name}? Its members lose the roles it gives.</Text>
      </ConfirmModal>
    </Stack>
  );
}
