import { Alert, Anchor, Badge, Button, Group, Modal, Stack, Text, Tooltip } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { describeError, type Me } from './api';
import { formatDateTime, keyStateLabel, localizeDates, relativeTime, type SigningScope } from './format';
import { patternMatches } from './grants';

export interface ConsoleContext {
  me: Me;
  scope: SigningScope;
  can: (permission: string) => boolean;
  navigate: (path: string) => void;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error('useConsole outside the console');
  return ctx;
}

/** Does any granted pattern allow `permission`? */
export function permissionAllows(granted: readonly string[], permission: string): boolean {
  return granted.some((pattern) => patternMatches(pattern, permission));
}

export function ErrorAlert({ error, onClose }: { error: unknown; onClose?: () => void }) {
  const missingId = useId();
  if (!error) return null;
  const e = describeError(error);
  return (
    <Alert
      color="red"
      icon={<IconAlertCircle aria-hidden />}
      title={e.title}
      role="alert"
      withCloseButton={Boolean(onClose)}
      onClose={onClose}
      closeButtonLabel="Dismiss error"
    >
      <Text size="sm" component="div">
        {/* Server messages name moments in ISO-8601 UTC (an expiry limit): shown as local dates. */}
        {localizeDates(e.message)}{' '}
        <Badge color="red" variant="light" data-testid="error-code">
          {e.code}
        </Badge>
      </Text>
      {e.missingPermissions.length > 0 ? (
        <Stack gap={4} mt="xs">
          <Text size="sm" fw={500} id={missingId}>
            Permissions you do not hold:
          </Text>
          <Group
            gap={4}
            component="ul"
            aria-labelledby={missingId}
            data-testid="missing-permissions"
            style={{ listStyle: 'none', margin: 0, padding: 0 }}
          >
            {e.missingPermissions.map((p) => (
              <Badge key={p} component="li" color="red" variant="outline" tt="none">
                {p}
              </Badge>
            ))}
          </Group>
          <Text size="xs">Ask someone who holds them, such as an administrator, to make this change.</Text>
        </Stack>
      ) : null}
      {e.requestId ? (
        <Text size="xs" c="dimmed">
          Request id {e.requestId}
        </Text>
      ) : null}
    </Alert>
  );
}

/** A link to a page of the console (`/users/…`): opened in place, or in a new tab as any link. */
export function ConsoleLink({ to, children }: { to: string; children: ReactNode }) {
  const { navigate } = useConsole();
  return (
    <Anchor
      href={`/console${to}`}
      onClick={(e) => {
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </Anchor>
  );
}

/** A user's or service account's status. */
export function StatusBadge({ status }: { status: 'active' | 'disabled' }) {
  return (
    <Badge color={status === 'active' ? 'green' : 'gray'} variant="light">
      {status}
    </Badge>
  );
}

export function KeyStateBadge({ state, daysLeft }: { state: string; daysLeft: number | null }) {
  const s = keyStateLabel(state, daysLeft);
  return (
    <Badge color={s.color} variant="light" data-testid="key-state">
      {s.label}
    </Badge>
  );
}

/**
 * When a key was last used: relative ("3 days ago"), with the exact moment and address in a
 * tooltip for the mouse and in the text itself for screen readers. Not a Tab stop: there is
 * nothing to do with it.
 */
export function LastUsed({ at, ip }: { at: string | null; ip?: string | null }) {
  if (!at) {
    return (
      <Text size="sm" c="dimmed">
        {relativeTime(at)}
      </Text>
    );
  }
  const exact = `${formatDateTime(at)}${ip ? ` from ${ip}` : ''}`;
  return (
    <Tooltip label={exact}>
      <Text size="sm" c="dimmed">
        {relativeTime(at)}
        <span className="visually-hidden"> ({exact})</span>
      </Text>
    </Tooltip>
  );
}

/**
 * What a form or button does: `run(action)` clears the last error, is `busy` while the action runs
 * and keeps what it throws in `error` (for an ErrorAlert).
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

/** Load data with cancellation; `reload()` fetches again. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    loadRef
      .current(controller.signal)
      .then((value) => {
        if (!controller.signal.aborted) {
          setData(value);
          setError(null);
        }
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

export function ConfirmModal({
  opened,
  title,
  children,
  confirmLabel,
  color = 'red',
  confirmDisabled = false,
  onConfirm,
  onClose,
}: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  color?: string;
  /** The action cannot be taken (the children say why). */
  confirmDisabled?: boolean;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (opened) setError(null);
  }, [opened]);
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered>
      <Stack>
        {children}
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            color={color}
            loading={busy}
            disabled={confirmDisabled}
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
                onClose();
              } catch (e) {
                setError(e);
              } finally {
                setBusy(false);
              }
            }}
          >
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
