/** Registering or changing an API behind the gateway: its fields and its routes, in order. */
import {
  ActionIcon,
  Button,
  Fieldset,
  Group,
  NativeSelect,
  NumberInput,
  Stack,
  Switch,
  Text,
  TextInput,
} from '@mantine/core';
import { IconArrowDown, IconArrowUp, IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useId, useRef, useState } from 'react';
import { API_ROUTES_MAX, UPSTREAM_TIMEOUT_MS } from '../../../src/limits';
import { ApiError, type ApiRoute, type ApiRouteMethod, type ApiView, client } from '../api';
import { ErrorAlert, useAction } from '../shared';

/** The methods a route may name, in the order the form offers them (`*`: any method). */
export const ROUTE_METHODS: readonly ApiRouteMethod[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  '*',
];

/** What the server waits for an upstream when the API names no timeout (src/gateway/apis.ts). */
export const DEFAULT_TIMEOUT_MS = 30_000;

export const ROUTE_RULES =
  'Routes are tried in order and the first match wins. A path is relative to the base path: literal segments, * for one segment, a final /* for the rest. Method * is any method; GET also matches HEAD.';

export const msLabel = (ms: number) =>
  ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;

// ---- the form's fields named by a refusal

/** A field of the form: `name`, `basePath`, `upstream`, `timeoutMs`, `routes`, or `routes.<i>.<part>`. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The field a refusal of POST or PATCH /iam/apis names, and what it says of it: INVALID_API names
 * it first (`routes[1].path: a route path starts with /`), a schema refusal after `body`
 * (`body.timeoutMs must be >= 100`, `body.routes/0/permission must …`); a taken base path or name
 * belongs to that field. Null when the refusal names none.
 */
export function fieldOfError(error: unknown): FieldError | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code === 'BASE_PATH_TAKEN') return { field: 'basePath', message: error.message };
  if (error.code === 'ALREADY_EXISTS') return { field: 'name', message: error.message };
  if (error.code !== 'INVALID_API' && error.code !== 'VALIDATION_FAILED') return null;
  const m =
    /^(?:body[./])?(name|basePath|upstream|timeoutMs|allowUnsignedPayload|routes)(?:(?:\[|\/)(\d+)\]?(?:[./](method|path|permission))?)?(?::\s*|\s+)([\s\S]*)$/.exec(
      error.message,
    );
  if (!m) return null;
  const [, top, index, part, rest] = m;
  const field =
    top === 'routes' && index !== undefined ? `routes.${index}.${part ?? 'path'}` : (top as string);
  return { field, message: rest?.trim() || error.message };
}

// ---- the register / edit form

interface RouteRow extends ApiRoute {
  /** Stable across moves (React's key, and the ids of the row's controls). */
  key: number;
}

type ApiBody = {
  name: string;
  basePath: string;
  upstream: string;
  routes: ApiRoute[];
  allowUnsignedPayload: boolean;
  timeoutMs?: number;
};

/** The PATCH body: only what changed (routes as a whole). Empty when nothing did. */
function changesOf(api: ApiView, body: ApiBody): Partial<ApiBody> {
  const out: Partial<ApiBody> = {};
  if (body.name !== api.name) out.name = body.name;
  if (body.basePath !== api.basePath) out.basePath = body.basePath;
  if (body.upstream !== api.upstream) out.upstream = body.upstream;
  if (body.allowUnsignedPayload !== api.allowUnsignedPayload)
    out.allowUnsignedPayload = body.allowUnsignedPayload;
  const timeoutMs = body.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs !== api.timeoutMs) out.timeoutMs = timeoutMs;
  const same =
    body.routes.length === api.routes.length &&
    body.routes.every((r, i) => {
      const o = api.routes[i];
      return o !== undefined && r.method === o.method && r.path === o.path && r.permission === o.permission;
    });
  if (!same) out.routes = body.routes;
  return out;
}

/**
 * Register an API, or change one (PATCH with what changed): name, base path, upstream, unsigned
 * payloads, timeout, and its routes in order. A refusal is shown under the form, and on the field
 * it names (which takes focus).
 */
export function ApiForm({
  api,
  onSaved,
  onCancel,
}: {
  api?: ApiView;
  onSaved: (api: ApiView) => void;
  onCancel?: () => void;
}) {
  const id = useId();
  const nextKey = useRef(0);
  const toRow = (r: ApiRoute): RouteRow => ({ ...r, key: nextKey.current++ });
  const [name, setName] = useState(api?.name ?? '');
  const [basePath, setBasePath] = useState(api?.basePath ?? '');
  const [upstream, setUpstream] = useState(api?.upstream ?? '');
  const [unsigned, setUnsigned] = useState(api?.allowUnsignedPayload ?? false);
  const [timeoutMs, setTimeoutMs] = useState<string | number>(api?.timeoutMs ?? '');
  const [routes, setRoutes] = useState<RouteRow[]>(() =>
    (api?.routes ?? [{ method: 'GET', path: '', permission: '' }]).map(toRow),
  );
  const submit = useAction();
  /** The refusal's field, with a route's index turned into its row's key (rows may move after). */
  const [failed, setFailed] = useState<{ field: string; message: string } | null>(null);
  useEffect(() => {
    if (failed) document.getElementById(`${id}-${failed.field}`)?.focus();
  }, [failed, id]);

  const errorOf = (field: string) => (failed?.field === field ? failed.message : undefined);
  const edited = (field: string) => {
    if (failed?.field === field) setFailed(null);
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setFailed(null);
        const keys = routes.map((r) => r.key);
        const body: ApiBody = {
          name: name.trim(),
          basePath: basePath.trim(),
          upstream: upstream.trim(),
          routes: routes.map(({ method, path, permission }) => ({
            method,
            path: path.trim(),
            permission: permission.trim(),
          })),
          allowUnsignedPayload: unsigned,
          ...(timeoutMs === '' ? {} : { timeoutMs: Number(timeoutMs) }),
        };
        submit.run(async () => {
          try {
            if (api) {
              const changes = changesOf(api, body);
              onSaved(
                Object.keys(changes).length === 0
                  ? api
                  : await client.updateApi({ params: { apiId: api.id }, body: changes }),
              );
            } else {
              onSaved(await client.createApi({ body }));
            }
          } catch (error) {
            const named = fieldOfError(error);
            if (named) {
              const route = /^routes\.(\d+)\.(\w+)$/.exec(named.field);
              const key = route ? keys[Number(route[1])] : undefined;
              setFailed(
                route
                  ? key === undefined
                    ? { field: 'routes', message: named.message }
                    : { field: `route-${key}-${route[2]}`, message: named.message }
                  : named,
              );
            }
            throw error;
          }
        });
      }}
    >
      <Stack>
        <TextInput
          id={`${id}-name`}
          label="Name"
          required
          maxLength={100}
          placeholder="orders"
          value={name}
          error={errorOf('name')}
          onChange={(e) => {
            setName(e.currentTarget.value);
            edited('name');
          }}
        />
        <TextInput
          id={`${id}-basePath`}
          label="Base path"
          description="Where clients reach the API on latchkey, like /api/orders."
          required
          placeholder="/api/orders"
          value={basePath}
          error={errorOf('basePath')}
          onChange={(e) => {
            setBasePath(e.currentTarget.value);
            edited('basePath');
          }}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
        <TextInput
          id={`${id}-upstream`}
          label="Upstream URL"
          description="Where latchkey forwards what it lets through (http or https; a path is a prefix)."
          required
          type="url"
          placeholder="https://orders.internal:8443"
          value={upstream}
          error={errorOf('upstream')}
          onChange={(e) => {
            setUpstream(e.currentTarget.value);
            edited('upstream');
          }}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
        <Switch
          id={`${id}-allowUnsignedPayload`}
          label="Allow unsigned payloads"
          description="Accept x-amz-content-sha256: UNSIGNED-PAYLOAD: the body streams to the upstream without being checked against the signature (large uploads)."
          classNames={{ description: 'grant-reason' }}
          checked={unsigned}
          onChange={(e) => setUnsigned(e.currentTarget.checked)}
        />
        <NumberInput
          id={`${id}-timeoutMs`}
          label="Upstream timeout (ms)"
          description={`How long latchkey waits for the upstream's answer: ${UPSTREAM_TIMEOUT_MS.min} to ${UPSTREAM_TIMEOUT_MS.max} ms. Empty: ${DEFAULT_TIMEOUT_MS} (${msLabel(DEFAULT_TIMEOUT_MS)}).`}
          placeholder={String(DEFAULT_TIMEOUT_MS)}
          min={UPSTREAM_TIMEOUT_MS.min}
          max={UPSTREAM_TIMEOUT_MS.max}
          allowDecimal={false}
          allowNegative={false}
          thousandSeparator={false}
          value={timeoutMs}
          error={errorOf('timeoutMs')}
          onChange={(v) => {
            setTimeoutMs(v);
            edited('timeoutMs');
          }}
          maw={420}
        />
        <RoutesEditor
          id={id}
          routes={routes}
          onChange={setRoutes}
          newRow={() => toRow({ method: 'GET', path: '', permission: '' })}
          errorOf={errorOf}
          edited={edited}
        />
        <ErrorAlert error={submit.error} />
        <Group justify="flex-end">
          {onCancel ? (
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          ) : null}
          <Button type="submit" loading={submit.busy}>
            {api ? 'Save API' : 'Register API'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/**
 * The routes in order, each a labelled group (method, path, permission) with Move up, Move down and
 * Remove; Add route at the end. Focus follows the row that moved, and a live region says where it went.
 */
function RoutesEditor({
  id,
  routes,
  onChange,
  newRow,
  errorOf,
  edited,
}: {
  id: string;
  routes: RouteRow[];
  onChange: (routes: RouteRow[]) => void;
  newRow: () => RouteRow;
  errorOf: (field: string) => string | undefined;
  edited: (field: string) => void;
}) {
  const [focusNext, setFocusNext] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const addRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!focusNext) return;
    (focusNext === 'add' ? addRef.current : document.getElementById(focusNext))?.focus();
    setFocusNext(null);
  }, [focusNext]);
  const control = (key: number, part: string) => `${id}-route-${key}-${part}`;
  const update = (key: number, part: 'method' | 'path' | 'permission', value: string) => {
    onChange(routes.map((r) => (r.key === key ? { ...r, [part]: value } : r)));
    edited(`route-${key}-${part}`);
  };
  const move = (from: number, to: number, direction: 'up' | 'down') => {
    const next = [...routes];
    const [row] = next.splice(from, 1);
    if (!row) return;
    next.splice(to, 0, row);
    onChange(next);
    // The same button again, unless the row reached the end it was moving to.
    const atEnd = direction === 'up' ? to === 0 : to === next.length - 1;
    setFocusNext(control(row.key, atEnd ? (direction === 'up' ? 'down' : 'up') : direction));
    setAnnouncement(`Route ${from + 1} moved ${direction}: it is now route ${to + 1} of ${next.length}.`);
  };
  const remove = (index: number) => {
    const next = routes.filter((_, i) => i !== index);
    onChange(next);
    const stays = next[Math.min(index, next.length - 1)];
    setFocusNext(next.length > 1 && stays ? control(stays.key, 'remove') : 'add');
    setAnnouncement(
      `Route ${index + 1} removed. ${next.length} ${next.length === 1 ? 'route' : 'routes'} left.`,
    );
  };
  return (
    <Stack
      gap="xs"
      role="group"
      aria-labelledby={`${id}-routes-label`}
      aria-describedby={`${id}-routes-rules`}
    >
      <div>
        <Text fw={500} size="sm" id={`${id}-routes-label`}>
          Routes
        </Text>
        <Text size="xs" className="grant-reason" id={`${id}-routes-rules`}>
          {ROUTE_RULES} Each route's permission decides who may use it (like orders:read); you must hold it
          yourself.
        </Text>
      </div>
      {errorOf('routes') ? (
        <Text size="sm" c="red" role="alert" id={`${id}-routes`} tabIndex={-1}>
          {errorOf('routes')}
        </Text>
      ) : null}
      {routes.map((r, i) => (
        <Fieldset key={r.key} legend={`Route ${i + 1}`} p="sm" data-testid="route-row">
          <Group align="flex-end" gap="sm">
            <NativeSelect
              id={control(r.key, 'method')}
              label="Method"
              data={ROUTE_METHODS.map((m) => ({ value: m, label: m === '*' ? '* (any)' : m }))}
              value={r.method}
              error={errorOf(`route-${r.key}-method`)}
              onChange={(e) => update(r.key, 'method', e.currentTarget.value)}
              w={120}
            />
            <TextInput
              id={control(r.key, 'path')}
              label="Path"
              required
              placeholder="/items/*"
              value={r.path}
              error={errorOf(`route-${r.key}-path`)}
              onChange={(e) => update(r.key, 'path', e.currentTarget.value)}
              style={{ flex: '1 1 10rem' }}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            />
            <TextInput
              id={control(r.key, 'permission')}
              label="Permission"
              required
              placeholder="orders:read"
              value={r.permission}
              error={errorOf(`route-${r.key}-permission`)}
              onChange={(e) => update(r.key, 'permission', e.currentTarget.value)}
              style={{ flex: '1 1 10rem' }}
            />
            <Group gap={4} wrap="nowrap">
              <ActionIcon
                id={control(r.key, 'up')}
                variant="subtle"
                size="lg"
                disabled={i === 0}
                aria-label={`Move route ${i + 1} up`}
                onClick={() => move(i, i - 1, 'up')}
              >
                <IconArrowUp size={16} aria-hidden />
              </ActionIcon>
              <ActionIcon
                id={control(r.key, 'down')}
                variant="subtle"
                size="lg"
                disabled={i === routes.length - 1}
                aria-label={`Move route ${i + 1} down`}
                onClick={() => move(i, i + 1, 'down')}
              >
                <IconArrowDown size={16} aria-hidden />
              </ActionIcon>
              <ActionIcon
                id={control(r.key, 'remove')}
                variant="subtle"
                color="red"
                size="lg"
                disabled={routes.length === 1}
                aria-label={`Remove route ${i + 1}`}
                onClick={() => remove(i)}
              >
                <IconTrash size={16} aria-hidden />
              </ActionIcon>
            </Group>
          </Group>
        </Fieldset>
      ))}
      <Group>
        <Button
          ref={addRef}
          variant="light"
          leftSection={<IconPlus size={16} aria-hidden />}
          disabled={routes.length >= API_ROUTES_MAX}
          onClick={() => {
            const row = newRow();
            onChange([...routes, row]);
            setFocusNext(control(row.key, 'path'));
            setAnnouncement(`Route ${routes.length + 1} added.`);
          }}
        >
          Add route
        </Button>
        {routes.length >= API_ROUTES_MAX ? (
          <Text size="xs" className="grant-reason">
            An API has at most {API_ROUTES_MAX} routes.
          </Text>
        ) : null}
      </Group>
      <div aria-live="polite" className="visually-hidden" data-testid="routes-announcement">
        {announcement}
      </div>
    </Stack>
  );
}
