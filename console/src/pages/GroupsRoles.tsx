import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Group,
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
import { type ReactNode, useId, useState } from 'react';
import { client, type GroupMember, type GroupView, type RoleView } from '../api';
import { GrantChecklist } from '../components/GrantChecklist';
import { hiddenColumn, ListScaffold, ListTable, type LoadedList } from '../components/ListScaffold';
import { GRANT_REASON, grantableRole, grantOptions, permissionsNotHeld } from '../grants';
import { listPrincipals } from '../principals';
import { ConfirmModal, ErrorAlert, useAction, useConsole, useLoad } from '../shared';

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

/**
 * The form of a role or a group: its name, its description and the fields given, then Create or
 * Save. `save` writes them (a new item when there is none to edit).
 */
function NamedForm({
  noun,
  item,
  save,
  onSaved,
  loadError,
  children,
}: {
  noun: 'role' | 'group';
  item?: { name: string; description: string };
  save: (fields: { name: string; description: string }) => Promise<unknown>;
  onSaved: () => void;
  /** What the form could not read (shown like a refusal). */
  loadError?: unknown;
  children: ReactNode;
}) {
  const [name, setName] = useState(item?.name ?? '');
  const [description, setDescription] = useState(item?.description ?? '');
  const submit = useAction();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit.run(async () => {
          await save({ name, description });
          onSaved();
        });
      }}
    >
      <Stack>
        <TextInput
          label={noun === 'role' ? 'Role name' : 'Group name'}
          required
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Textarea
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        {children}
        <ErrorAlert error={submit.error ?? loadError} />
        <Button type="submit">{`${item ? 'Save' : 'Create'} ${noun}`}</Button>
      </Stack>
    </form>
  );
}

function RoleForm({ role, onSaved }: { role?: RoleView; onSaved: () => void }) {
  const { me } = useConsole();
  const catalogue = useLoad((signal) => client.listPermissions({}, { signal }), []);
  const [permissions, setPermissions] = useState<string[]>(role?.permissions ?? []);
  const [refused, setRefused] = useState<string[]>([]);
  // What the role has already may stay (it gives nobody more); only additions must be held.
  const original = role?.permissions ?? [];
  const held = new Set(me.permissions);
  const options = (catalogue.data?.items ?? []).map((p) => ({
    value: p,
    label: p,
    disabled: !held.has(p) && !original.includes(p),
  }));
  return (
    <NamedForm
      noun="role"
      item={role}
      save={(fields) => {
        const body = { ...fields, permissions };
        return role ? client.updateRole({ params: { roleId: role.id }, body }) : client.createRole({ body });
      }}
      onSaved={onSaved}
      loadError={catalogue.error}
    >
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
    </NamedForm>
  );
}

function RolesTab() {
  const roles = useLoad((signal) => client.listRoles({}, { signal }), []);
  return (
    <ManagedTab
      noun="role"
      managePermission="iam:roles:manage"
      description="A role is a named set of permissions. Assign roles to users, service accounts, groups or single keys."
      list={roles}
      empty={{
        icon: <IconShield aria-hidden />,
        title: 'No roles',
        description: 'Create a role to grant permissions.',
      }}
      minWidth={560}
      columns={['Role', 'Permissions']}
      cells={(r) => (
        <>
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
        </>
      )}
      formSize="lg"
      form={(role, onSaved) => <RoleForm role={role} onSaved={onSaved} />}
      remove={(r) => client.deleteRole({ params: { roleId: r.id } })}
      removeText={(r) => `Delete the role ${r.name}? Everyone holding it loses its permissions.`}
    />
  );
}

function GroupForm({ group, roles, onSaved }: { group?: GroupView; roles: RoleView[]; onSaved: () => void }) {
  const [roleIds, setRoleIds] = useState<string[]>(group?.roles.map((r) => r.id) ?? []);
  return (
    <NamedForm
      noun="group"
      item={group}
      save={(fields) => {
        const body = { ...fields, roleIds };
        return group
          ? client.updateGroup({ params: { groupId: group.id }, body })
          : client.createGroup({ body });
      }}
      onSaved={onSaved}
    >
      <GrantChecklist
        label="Roles"
        options={grantOptions(roles.map(grantableRole), group?.roles ?? [])}
        value={roleIds}
        onChange={setRoleIds}
        emptyText="No roles yet: create one on the Roles tab."
      />
    </NamedForm>
  );
}

function Members({ group, onChanged }: { group: GroupView; onChanged: () => void }) {
  const { can } = useConsole();
  const detail = useLoad(
    (signal) => client.getGroup({ params: { groupId: group.id } }, { signal }),
    [group.id],
  );
  const candidates = useLoad(async (signal) => {
    const { users, serviceAccounts: accounts } = await listPrincipals(can, { signal });
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
                  await client.removeGroupMember({
                    params: { groupId: group.id, memberType: m.type, memberId: m.id },
                  });
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
              const [type, id] = adding.split(':') as [GroupMember['type'], string];
              setError(null);
              try {
                await client.addGroupMember({ params: { groupId: group.id }, body: { type, id } });
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
  const groups = useLoad((signal) => client.listGroups({}, { signal }), []);
  const roles = useLoad((signal) => client.listRoles({}, { signal }), []);
  const [members, setMembers] = useState<GroupView | null>(null);
  return (
    <ManagedTab
      noun="group"
      managePermission="iam:groups:manage"
      description="Members of a group get the group's roles. Administrators are the members of the built-in Administrators group."
      list={groups}
      empty={{
        icon: <IconUsersGroup aria-hidden />,
        title: 'No groups',
        description: 'Create a group to manage roles for many people at once.',
      }}
      minWidth={600}
      columns={['Group', 'Roles', 'Members']}
      cells={(g) => (
        <>
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
        </>
      )}
      rowAction={(g) => (
        <Button size="xs" variant="subtle" onClick={() => setMembers(g)} aria-label={`Members of ${g.name}`}>
          Members
        </Button>
      )}
      form={(group, onSaved) => <GroupForm group={group} roles={roles.data?.items ?? []} onSaved={onSaved} />}
      remove={(g) => client.deleteGroup({ params: { groupId: g.id } })}
      removeText={(g) => `Delete the group ${g.name}? Its members lose the roles it gives.`}
      extra={
        <Modal
          opened={members !== null}
          onClose={() => setMembers(null)}
          title={`Members of ${members?.name ?? ''}`}
        >
          {members ? <Members group={members} onChanged={groups.reload} /> : null}
        </Modal>
      }
    />
  );
}

/**
 * A tab of roles or of groups: the list, Create for those who may manage them, and on each row
 * that is not built in, Edit (the form in a dialog) and Delete (confirmed first).
 */
function ManagedTab<T extends { id: string; name: string; builtin: boolean }>({
  noun,
  managePermission,
  description,
  list,
  empty,
  minWidth,
  columns,
  cells,
  rowAction,
  form,
  formSize,
  remove,
  removeText,
  extra,
}: {
  noun: 'role' | 'group';
  managePermission: string;
  description: string;
  list: LoadedList<{ items: T[] }> & { reload: () => void };
  empty: { icon: ReactNode; title: string; description: string };
  minWidth: number;
  /** The headings of the columns before the actions. */
  columns: string[];
  cells: (item: T) => ReactNode;
  /** An action of every row, before Edit and Delete. */
  rowAction?: (item: T) => ReactNode;
  /** The create (no item) or edit form. */
  form: (item: T | undefined, onSaved: () => void) => ReactNode;
  formSize?: string;
  remove: (item: T) => Promise<unknown>;
  removeText: (item: T) => string;
  extra?: ReactNode;
}) {
  const { can } = useConsole();
  const [editing, setEditing] = useState<T | 'new' | null>(null);
  const [deleting, setDeleting] = useState<T | null>(null);
  const manage = can(managePermission);
  const plural = noun === 'role' ? 'Roles' : 'Groups';
  return (
    <ListScaffold
      description={description}
      action={
        manage ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setEditing('new')}>
            Create {noun}
          </Button>
        ) : null
      }
      list={list}
      loadingLabel={`Loading ${noun}s`}
      empty={empty}
      extra={
        <>
          <Modal
            opened={editing !== null}
            onClose={() => setEditing(null)}
            title={editing === 'new' ? `Create ${noun}` : `Edit ${noun}`}
            size={formSize}
          >
            {editing
              ? form(editing === 'new' ? undefined : editing, () => {
                  setEditing(null);
                  list.reload();
                })
              : null}
          </Modal>
          <ConfirmModal
            opened={deleting !== null}
            title={`Delete ${noun}`}
            confirmLabel={`Delete ${noun}`}
            onClose={() => setDeleting(null)}
            onConfirm={async () => {
              if (deleting) await remove(deleting);
              list.reload();
            }}
          >
            <Text size="sm">{deleting ? removeText(deleting) : null}</Text>
          </ConfirmModal>
          {extra}
        </>
      }
    >
      {(items) => (
        <ListTable label={plural} minWidth={minWidth} columns={[...columns, hiddenColumn('Actions')]}>
          {items.map((item) => (
            <Table.Tr key={item.id}>
              {cells(item)}
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  {rowAction?.(item)}
                  {manage && !item.builtin ? (
                    <>
                      <Button
                        size="xs"
                        variant="subtle"
                        onClick={() => setEditing(item)}
                        aria-label={`Edit ${noun} ${item.name}`}
                      >
                        Edit
                      </Button>
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        aria-label={`Delete ${noun} ${item.name}`}
                        onClick={() => setDeleting(item)}
                      >
                        <IconTrash size={16} aria-hidden />
                      </ActionIcon>
                    </>
                  ) : null}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </ListScaffold>
  );
}
