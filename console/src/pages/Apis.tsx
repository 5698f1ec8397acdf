import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Loader,
  Modal,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconApi, IconDownload, IconPlus, IconTrash } from '@tabler/icons-react';
import { type RefObject, useRef, useState } from 'react';
import { type ApiView, client } from '../api';
import { ApiForm, msLabel, ROUTE_RULES } from '../components/ApiForm';
import { ApiTestConnection } from '../components/ApiTestConnection';
import { hiddenColumn, ListScaffold, ListTable } from '../components/ListScaffold';
import { saveJsonFile } from '../components/SecretReveal';
import { formatDateTime } from '../format';
import { ConfirmModal, ConsoleLink, ErrorAlert, useAction, useConsole, useLoad } from '../shared';

/** After a window closed: if focus fell to the page (what opened it is gone), put it on `fallback`. */
function refocusAfterClose(fallback: RefObject<HTMLElement | null>) {
  setTimeout(() => {
    const active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    const heading = document.querySelector<HTMLElement>('#main h2');
    if (!fallback.current && heading) heading.tabIndex = -1;
    (fallback.current ?? heading)?.focus();
  }, 400);
}

// ---- the list

export function ApisPage() {
  const { can, navigate } = useConsole();
  const list = useLoad((signal) => client.listApis({}, { signal }), []);
  const [editing, setEditing] = useState<ApiView | 'new' | null>(null);
  const [deleting, setDeleting] = useState<ApiView | null>(null);
  const registerRef = useRef<HTMLButtonElement>(null);
  const manage = can('iam:apis:manage');
  return (
    <ListScaffold
      title="APIs"
      description="APIs behind latchkey: a request under an API's base path is checked (its signature, and the permission of the route it matches) and only then forwarded to the upstream."
      action={
        manage ? (
          <Button
            ref={registerRef}
            leftSection={<IconPlus size={16} aria-hidden />}
            onClick={() => setEditing('new')}
          >
            Register API
          </Button>
        ) : null
      }
      list={list}
      loadingLabel="Loading APIs"
      empty={{
        icon: <IconApi aria-hidden />,
        title: 'No APIs registered yet',
        description: manage
          ? 'Register an API to put it behind latchkey: name its base path, its upstream and its routes.'
          : 'Someone with iam:apis:manage can register an API here.',
      }}
      extra={
        <>
          <Modal
            opened={editing !== null}
            onClose={() => setEditing(null)}
            title={editing === 'new' ? 'Register API' : `Edit API ${editing?.name ?? ''}`}
            size="xl"
          >
            {editing ? (
              <ApiForm
                api={editing === 'new' ? undefined : editing}
                onCancel={() => setEditing(null)}
                onSaved={(saved) => {
                  const created = editing === 'new';
                  setEditing(null);
                  if (created) navigate(`/apis/${saved.id}`);
                  else list.reload();
                }}
              />
            ) : null}
          </Modal>
          <DeleteApiModal
            api={deleting}
            onClose={() => setDeleting(null)}
            onDeleted={() => {
              list.reload();
              refocusAfterClose(registerRef);
            }}
          />
        </>
      }
    >
      {(items) => (
        <ListTable
          label="APIs"
          minWidth={720}
          highlightOnHover
          columns={['Name', 'Base path', 'Upstream', 'Routes', manage && hiddenColumn('Actions')]}
        >
          {items.map((a) => (
            <Table.Tr key={a.id} data-testid="api-row">
              <Table.Td>
                <ConsoleLink to={`/apis/${a.id}`}>{a.name}</ConsoleLink>
              </Table.Td>
              <Table.Td>
                <Code>{a.basePath}</Code>
              </Table.Td>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>
                <Text size="sm">{a.upstream}</Text>
              </Table.Td>
              <Table.Td>{a.routes.length}</Table.Td>
              {manage ? (
                <Table.Td>
                  <Group gap={4} wrap="nowrap" justify="flex-end">
                    <Button
                      size="xs"
                      variant="subtle"
                      aria-label={`Edit API ${a.name}`}
                      onClick={() => setEditing(a)}
                    >
                      Edit
                    </Button>
                    <ActionIcon
                      variant="subtle"
                      color="red"
                      aria-label={`Delete API ${a.name}`}
                      onClick={() => setDeleting(a)}
                    >
                      <IconTrash size={16} aria-hidden />
                    </ActionIcon>
                  </Group>
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </ListScaffold>
  );
}

function DeleteApiModal({
  api,
  onClose,
  onDeleted,
}: {
  api: ApiView | null;
  onClose: () => void;
  onDeleted: () => void;
}) {
  return (
    <ConfirmModal
      opened={api !== null}
      title="Delete API"
      confirmLabel="Delete API"
      onClose={onClose}
      onConfirm={async () => {
        if (!api) return;
        await client.deleteApi({ params: { apiId: api.id } });
        onDeleted();
      }}
    >
      <Text size="sm">
        Delete <strong>{api?.name}</strong> (<Code>{api?.basePath}</Code>)? Its base path answers 404 from now
        on and nothing more reaches {api?.upstream} through latchkey. Roles keep the permissions its routes
        named.
      </Text>
    </ConfirmModal>
  );
}

// ---- one API

/** The file name the server gives the collection (content-disposition of GET …/postman-collection). */
export const postmanFileName = (api: { name: string }) =>
  `${api.name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'api'}.postman_collection.json`;

export function ApiDetailPage({ id }: { id: string }) {
  const { can, navigate } = useConsole();
  const loaded = useLoad((signal) => client.getApi({ params: { apiId: id } }, { signal }), [id]);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const postman = useAction();
  const manage = can('iam:apis:manage');
  if (loaded.error) {
    return (
      <Stack>
        <ConsoleLink to="/apis">← All APIs</ConsoleLink>
        <ErrorAlert error={loaded.error} />
      </Stack>
    );
  }
  if (!loaded.data) return <Loader aria-label="Loading API" />;
  const api = loaded.data;
  const address = `${window.location.origin}${api.basePath}`;
  return (
    <Stack>
      <ConsoleLink to="/apis">← All APIs</ConsoleLink>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2} className="detail-heading">
          <Title order={2}>{api.name}</Title>
          <Text c="dimmed" size="sm">
            Clients call <Code>{address}</Code>
          </Text>
        </Stack>
        <Group gap="xs">
          <Button
            variant="default"
            leftSection={<IconDownload size={16} aria-hidden />}
            loading={postman.busy}
            onClick={() =>
              postman.run(async () =>
                saveJsonFile(
                  await client.apiPostmanCollection({ params: { apiId: api.id } }),
                  postmanFileName(api),
                ),
              )
            }
          >
            Download Postman collection
          </Button>
          {manage ? (
            <>
              <Button variant="default" onClick={() => setEditing(true)}>
                Edit
              </Button>
              <Button
                color="red"
                variant="light"
                leftSection={<IconTrash size={16} aria-hidden />}
                onClick={() => setDeleting(true)}
              >
                Delete
              </Button>
            </>
          ) : null}
        </Group>
      </Group>
      <ErrorAlert error={postman.error} onClose={() => postman.setError(null)} />
      <Table variant="vertical" withTableBorder aria-label={`About ${api.name}`}>
        <Table.Tbody>
          <Table.Tr>
            <Table.Th w={160}>Base path</Table.Th>
            <Table.Td>
              <Code>{api.basePath}</Code>
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Upstream</Table.Th>
            <Table.Td style={{ overflowWrap: 'anywhere' }}>
              <Code>{api.upstream}</Code>
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Unsigned payloads</Table.Th>
            <Table.Td>{api.allowUnsignedPayload ? 'Allowed (the body streams through)' : 'Refused'}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Upstream timeout</Table.Th>
            <Table.Td>{msLabel(api.timeoutMs)}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Changed</Table.Th>
            <Table.Td>{formatDateTime(api.updatedAt)}</Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>

      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="api-routes-title">
        <Title order={3} id="api-routes-title" mb="xs">
          Routes
        </Title>
        <Text size="sm" c="dimmed" mb="sm">
          {ROUTE_RULES} A request that matches no route is refused (NO_MATCHING_ROUTE) and never reaches the
          upstream.
        </Text>
        <ListTable
          label={`Routes of ${api.name}, in order`}
          minWidth={480}
          columns={['#', 'Method', 'Path', 'Permission']}
        >
          {api.routes.map((r, i) => (
            // Routes may repeat; their place is what tells them apart.
            // biome-ignore lint/suspicious/noArrayIndexKey: the order is the identity here
            <Table.Tr key={i} data-testid="route">
              <Table.Td>{i + 1}</Table.Td>
              <Table.Td>
                <Badge variant="default">{r.method}</Badge>
              </Table.Td>
              <Table.Td>
                <Code>{r.path}</Code>
              </Table.Td>
              <Table.Td>
                <Badge variant="outline" tt="none">
                  {r.permission}
                </Badge>
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      </Card>

      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="api-permissions-title">
        <Title order={3} id="api-permissions-title" mb="xs">
          Permissions
        </Title>
        <Text size="sm" c="dimmed" mb="sm">
          A key may use a route when its owner (or the key itself) has a role that grants the route's
          permission.
        </Text>
        <ListTable
          label={`Permissions of ${api.name} and the roles that grant them`}
          minWidth={480}
          columns={['Permission', 'Granted by roles']}
        >
          {api.permissions.map((p) => (
            <Table.Tr key={p.permission} data-testid="api-permission" data-permission={p.permission}>
              <Table.Td>
                <Badge variant="outline" tt="none">
                  {p.permission}
                </Badge>
              </Table.Td>
              <Table.Td>
                {p.grantedBy.length > 0 ? (
                  <Group gap={4} component="ul" style={{ listStyle: 'none', margin: 0, padding: 0 }}>
                    {p.grantedBy.map((r) => (
                      <Badge key={r.id} component="li" variant="light" tt="none">
                        {r.name}
                      </Badge>
                    ))}
                  </Group>
                ) : (
                  <Text size="sm">
                    No role grants this yet.{' '}
                    {can('iam:roles:read') ? (
                      <>
                        Add it to a role in <ConsoleLink to="/groups">Groups and roles</ConsoleLink>.
                      </>
                    ) : (
                      'Ask someone who manages roles to add it to one.'
                    )}
                  </Text>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      </Card>

      <Card withBorder padding="lg" radius="md" component="section" aria-labelledby="api-test-title">
        <Title order={3} id="api-test-title" mb="xs">
          Test Connection
        </Title>
        <ApiTestConnection key={`${api.id}:${api.updatedAt}`} api={api} />
      </Card>

      <Modal opened={editing} onClose={() => setEditing(false)} title={`Edit API ${api.name}`} size="xl">
        {editing ? (
          <ApiForm
            api={api}
            onCancel={() => setEditing(false)}
            onSaved={(saved) => {
              setEditing(false);
              loaded.setData(saved);
            }}
          />
        ) : null}
      </Modal>
      <DeleteApiModal
        api={deleting ? api : null}
        onClose={() => setDeleting(false)}
        onDeleted={() => navigate('/apis')}
      />
    </Stack>
  );
}
