import { Checkbox, Group, MultiSelect, ScrollArea, Stack, Text } from '@mantine/core';
import { IconLock } from '@tabler/icons-react';
import { useState } from 'react';
import type { GrantOption } from '../grants';

/** The props of a picker of groups or roles (a checklist or a select). */
export interface GrantPickerProps {
  label: string;
  options: readonly GrantOption[];
  value: string[];
  onChange: (value: string[]) => void;
  /** The person may not change these assignments at all (the caller says why elsewhere). */
  readOnly?: boolean;
  emptyText: string;
}

/**
 * A labelled list of checkboxes for giving groups or roles. Options the signed-in person cannot
 * grant are disabled and say why in words under their name (tied to the checkbox as its
 * description, so a screen reader reads it too), and stay fully readable: a lock icon and the
 * reason mark them, not a fainter colour.
 */
export function GrantChecklist({ options, readOnly = false, emptyText, ...group }: GrantPickerProps) {
  return (
    <Checkbox.Group {...group}>
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

/**
 * The same choice as GrantChecklist in a compact select, for the key forms: chosen groups or roles
 * as pills, the rest in a list that closes after each choice (so the next field and the Save button
 * are not covered). Options one cannot grant stay listed, disabled, with the reason in words; an
 * assignment one cannot take away keeps its pill without a remove button.
 */
export function GrantSelect({
  label,
  options,
  value,
  onChange,
  readOnly = false,
  emptyText,
}: GrantPickerProps) {
  const [opened, setOpened] = useState(false);
  const locked = new Set(options.filter((o) => o.disabled).map((o) => o.value));
  const reasons = new Map(options.map((o) => [o.value, o.reason]));
  return (
    <MultiSelect
      label={label}
      placeholder={options.length === 0 ? emptyText : value.length === 0 ? 'None: choose to add' : undefined}
      data={options.map((o) => ({ value: o.value, label: o.label, disabled: o.disabled }))}
      value={value}
      disabled={options.length === 0 || readOnly}
      searchable
      nothingFoundMessage="Nothing matches"
      dropdownOpened={opened}
      onDropdownOpen={() => setOpened(true)}
      onDropdownClose={() => setOpened(false)}
      onOptionSubmit={() => setOpened(false)}
      onChange={(next) => {
        // Backspace removes the last pill whatever it is: what cannot be taken away stays.
        const kept = value.filter((v) => locked.has(v) && !next.includes(v));
        onChange([...next, ...kept]);
      }}
      renderOption={({ option }) => {
        const reason = reasons.get(option.value);
        return (
          <Stack gap={0}>
            <Group gap={4} wrap="nowrap" component="span">
              {option.disabled ? <IconLock size={14} aria-hidden /> : null}
              <Text size="sm" span>
                {option.label}
              </Text>
            </Group>
            {reason ? (
              <Text size="xs" className="grant-reason">
                {reason}
              </Text>
            ) : null}
          </Stack>
        );
      }}
    />
  );
}
