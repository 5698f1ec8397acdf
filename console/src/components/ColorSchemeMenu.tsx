import { ActionIcon, type MantineColorScheme, Menu, useMantineColorScheme } from '@mantine/core';
import { IconDeviceDesktop, IconMoon, IconSun } from '@tabler/icons-react';

const SCHEMES = [
  { value: 'auto', label: 'Same as the system', icon: IconDeviceDesktop },
  { value: 'light', label: 'Light', icon: IconSun },
  { value: 'dark', label: 'Dark', icon: IconMoon },
] as const;

/**
 * The colour scheme: the system's (the default), light or dark. Mantine keeps the choice in
 * localStorage, so it holds on this browser across sign-ins.
 */
export function ColorSchemeMenu() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const current = SCHEMES.find((s) => s.value === colorScheme) ?? SCHEMES[0];
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon variant="subtle" size="lg" aria-label={`Colour scheme: ${current.label}`}>
          <current.icon size={20} aria-hidden />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Colour scheme</Menu.Label>
        <Menu.RadioGroup value={colorScheme} onChange={(v) => setColorScheme(v as MantineColorScheme)}>
          {SCHEMES.map((s) => (
            <Menu.RadioItem
              key={s.value}
              value={s.value}
              closeMenuOnClick
              data-autofocus={s.value === colorScheme ? true : undefined}
            >
              {s.label}
            </Menu.RadioItem>
          ))}
        </Menu.RadioGroup>
      </Menu.Dropdown>
    </Menu>
  );
}
