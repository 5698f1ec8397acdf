import { Checkbox, Group, ScrollArea, Stack, Text } from '@mantine/core';
import { IconLock } from '@tabler/icons-react';
import type { GrantOption } from '../grants';

/**
 * A labelled list of checkboxes for giving groups or roles. Options the signed-in person cannot
 * grant are disabled and say why in words under their name (tied to the checkbox as its
 * description, so a screen reader reads it too), and stay fully readable: a lock icon and the
 * reason mark them, not a fainter colour.
 */
export function GrantChecklist({
  label,
  options,
  value,
  onChange,
  readOnly = false,
  emptyText,
}: {
  label: string;
  options: readonly GrantOption[];
  value: string[];
  onChange: (value: string[]) => void;
  /** The person may not change these assignments at all (the caller says why elsewhere). */
  readOnly?: boolean;
  emptyText: string;
}) {
  return (
    <Checkbox.Group label={label} value={value} onChange={onChange}>
      {options.length === 0 ? (
        <Text size="sm" c="dimmed" mt={4}>
          {emptyText}
        </Text>
      ) : (
        <ScrollArea.Autosize mah={280} type="auto" offsetScrollbars>
          <Stack gap={8} mt={6} mb={2}>
            {options.map((o) => (
              <Checkbox
                key={o.value}
                value={o.value}
                disabled={o.disabled || readOnly}
                classNames={{ label: 'grant-label', description: 'grant-reason' }}
                label={
                  o.disabled ? (
                    <Group gap={4} wrap="nowrap" component="span">
                      <IconLock size={14} aria-hidden />
                      {o.label}
                    </Group>
                  ) : (
                    o.label
                  )
                }
                description={o.reason ?? undefined}
              />
            ))}
          </Stack>
        </ScrollArea.Autosize>
      )}
    </Checkbox.Group>
  );
}
