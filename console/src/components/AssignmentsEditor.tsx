import { Button, Card, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useId, useState } from 'react';
import { client } from '../api';
import { grantableGroup, grantableRole, grantOptions } from '../grants';
import { type Assignments, type AssignmentsBody, type Principal, principalClient } from '../principals';
import { ErrorAlert, useAction, useConsole, useLoad } from '../shared';
import { GrantChecklist, GrantSelect } from './GrantChecklist';

/** The groups and roles there are to give: each list only when the signed-in person may read it. */
function useGrantables() {
  const { can } = useConsole();
  return useLoad(
    async (signal) => ({
      groups: can('iam:groups:read') ? (await client.listGroups({}, { signal })).items : [],
      roles: can('iam:roles:read') ? (await client.listRoles({}, { signal })).items : [],
    }),
    [],
  );
}

/**
 * Editing the groups and roles of a user, a service account or a key. Only what the signed-in
 * person may grant can be given; what they cannot stays listed with the reason (see grants.ts).
 * The server decides in the end: its refusal is shown with its code.
 */
export function AssignmentsEditor({
  assigned,
  save,
  onSaved,
  readOnlyReason = null,
  compact = false,
  saveLabel,
  savedText,
}: {
  /** What is held now. */
  assigned: Assignments;
  save: (body: Required<AssignmentsBody>) => Promise<unknown>;
  /** Called after a save succeeded (what is held changed). */
  onSaved: () => void;
  /** Why nothing here can be changed (null: it can). */
  readOnlyReason?: string | null;
  /** Selects with pills (the key pane) rather than checklists. */
  compact?: boolean;
  saveLabel: string;
  savedText: string;
}) {
  const options = useGrantables();
  // null: unchanged, as held.
  const [groups, setGroups] = useState<string[] | null>(null);
  const [roles, setRoles] = useState<string[] | null>(null);
  const submit = useAction();
  const [saved, setSaved] = useState(false);
  if (!options.data && !options.error) return <Loader size="sm" aria-label="Loading groups and roles" />;
  const readOnly = readOnlyReason !== null;
  const groupIds = groups ?? assigned.groups.map((g) => g.id);
  const roleIds = roles ?? assigned.roles.map((r) => r.id);
  const picker = (label: 'Groups' | 'Roles', value: string[], set: (v: string[]) => void) => {
    const props = {
      label,
      options:
        label === 'Groups'
          ? grantOptions((options.data?.groups ?? []).map(grantableGroup), assigned.groups)
          : grantOptions((options.data?.roles ?? []).map(grantableRole), assigned.roles),
      value,
      onChange: (v: string[]) => {
        setSaved(false);
        set(v);
      },
      emptyText: label === 'Groups' ? 'No groups.' : 'No roles.',
      readOnly,
    };
    return compact ? <GrantSelect {...props} /> : <GrantChecklist {...props} />;
  };
  return (
    <Stack gap={compact ? 'xs' : 'sm'}>
      {readOnlyReason ? (
        <Text size="sm" c="dimmed">
          {readOnlyReason}
        </Text>
      ) : null}
      {picker('Groups', groupIds, setGroups)}
      {picker('Roles', roleIds, setRoles)}
      <ErrorAlert error={submit.error ?? options.error} />
      <Group>
        <Button
          size="xs"
          loading={submit.busy}
          disabled={readOnly}
          onClick={() => {
            setSaved(false);
            submit.run(async () => {
              await save({ groupIds, roleIds });
              setSaved(true);
              onSaved();
            });
          }}
        >
          {saveLabel}
        </Button>
        {saved ? (
          <Text size="sm" c="teal" role="status">
            {savedText}
          </Text>
        ) : null}
      </Group>
    </Stack>
  );
}

/** The "Groups and roles" card of a user's or a service account's page. */
export function PrincipalAssignmentsCard({
  principal,
  managePermission,
  onSaved,
}: {
  principal: Principal;
  /** Needed to change them (without it they are shown, read-only). */
  managePermission: string;
  /** What the principal holds changed (and with it what the signed-in person may do with it). */
  onSaved: () => void;
}) {
  const { can } = useConsole();
  const titleId = useId();
  const current = useLoad(
    (signal) => principalClient(principal).getAssignments({ signal }),
    [principal.type, principal.id],
  );
  return (
    <Card withBorder padding="lg" radius="md" component="section" aria-labelledby={titleId}>
      <Title order={3} id={titleId} mb="xs">
        Groups and roles
      </Title>
      {current.data ? (
        <AssignmentsEditor
          assigned={current.data}
          readOnlyReason={can(managePermission) ? null : `Changing these needs ${managePermission}.`}
          save={(body) => principalClient(principal).setAssignments(body)}
          onSaved={() => {
            current.reload();
            onSaved();
          }}
          saveLabel="Save groups and roles"
          savedText="Saved."
        />
      ) : current.error ? (
        <ErrorAlert error={current.error} />
      ) : (
        <Loader size="sm" aria-label="Loading assignments" />
      )}
    </Card>
  );
}
