import { ActionIcon, Button, Group, Indicator, Popover, ScrollArea, Stack, Text } from '@mantine/core';
import { IconBell } from '@tabler/icons-react';
import { useCallback, useEffect, useState } from 'react';
import { client, type NotificationView } from '../api';
import { formatDateTime, localizeDates } from '../format';
import { ErrorAlert } from '../shared';

const isRead = (n: NotificationView) => n.read || Boolean(n.readAt);

/**
 * The bell: unread notifications (assignment changes, keys expiring soon). Shown only when the
 * server has the notifications API; polled every 30 s.
 */
export function NotificationBell() {
  const [items, setItems] = useState<NotificationView[] | null>(null);
  const [available, setAvailable] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [opened, setOpened] = useState(false);

  const load = useCallback(async () => {
    try {
      setItems((await client.listNotifications({ query: { limit: 50 } })).items);
      setAvailable(true);
    } catch {
      setAvailable(false);
    }
  }, []);

  useEffect(() => {
    load();
    const timer = setInterval(load, 30_000);
    return () => clearInterval(timer);
  }, [load]);

  if (!available || !items) return null;
  const unread = items.filter((n) => !isRead(n));
  return (
    <Popover
      opened={opened}
      onChange={setOpened}
      position="bottom-end"
      width={360}
      shadow="md"
      trapFocus
      returnFocus
    >
      {/* The button is the target: it carries aria-expanded and aria-controls, not a wrapper. */}
      <Popover.Target>
        <ActionIcon
          variant="subtle"
          size="lg"
          aria-label={`Notifications, ${unread.length} unread`}
          data-testid="notification-bell"
          onClick={() => {
            setOpened((o) => !o);
            load();
          }}
        >
          <Indicator label={unread.length} size={16} disabled={unread.length === 0} offset={-2} color="red">
            <IconBell size={20} aria-hidden />
          </Indicator>
        </ActionIcon>
      </Popover.Target>
      <Popover.Dropdown aria-label="Notifications">
        <Stack gap="xs">
          <Group justify="space-between">
            <Text fw={600}>Notifications</Text>
            <Button
              size="xs"
              variant="subtle"
              disabled={unread.length === 0}
              onClick={async () => {
                setError(null);
                try {
                  await client.markAllNotificationsRead();
                  await load();
                } catch (e) {
                  setError(e);
                }
              }}
            >
              Mark all as read
            </Button>
          </Group>
          <ErrorAlert error={error} />
          {items.length === 0 ? (
            <Text size="sm" c="dimmed">
              Nothing new. Changes to your keys' groups and roles, and keys about to expire, show up here.
            </Text>
          ) : (
            <ScrollArea.Autosize mah={360}>
              <Stack gap="xs" data-testid="notification-list">
                {items.map((n) => (
                  <Stack
                    key={n.id}
                    gap={2}
                    p="xs"
                    bg={isRead(n) ? undefined : 'var(--mantine-color-blue-light)'}
                    style={{ borderRadius: 6 }}
                  >
                    <Text size="sm" fw={isRead(n) ? 400 : 600}>
                      {localizeDates(n.title || n.kind)}
                    </Text>
                    {/* The server writes moments as ISO-8601 UTC: shown here like every other date. */}
                    {n.body ? <Text size="sm">{localizeDates(n.body)}</Text> : null}
                    <Group justify="space-between">
                      <Text size="xs" c="dimmed" component="time" dateTime={n.createdAt}>
                        {formatDateTime(n.createdAt)}
                      </Text>
                      {isRead(n) ? null : (
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          aria-label={`Mark as read: ${localizeDates(n.title || 'notification')}`}
                          onClick={async () => {
                            try {
                              await client.markNotificationRead({ params: { notificationId: n.id } });
                              await load();
                            } catch (e) {
                              setError(e);
                            }
                          }}
                        >
                          Mark as read
                        </Button>
                      )}
                    </Group>
                  </Stack>
                ))}
              </Stack>
            </ScrollArea.Autosize>
          )}
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}
