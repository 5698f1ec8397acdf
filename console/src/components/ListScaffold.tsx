import {
  EmptyState,
  Group,
  Loader,
  Stack,
  Table,
  type TableProps,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconSearch } from '@tabler/icons-react';
import { type ReactNode, useLayoutEffect, useRef, useState } from 'react';
import { ErrorAlert } from '../shared';

/** A search box's text, and the same text once typing pauses (what the list is read with). */
export function useSearch() {
  const [value, setValue] = useState('');
  const [debounced] = useDebouncedValue(value, 250);
  return { value, setValue, debounced };
}

export function SearchBox({
  label,
  placeholder,
  search,
  maw = 360,
}: {
  label: string;
  placeholder?: string;
  search: ReturnType<typeof useSearch>;
  maw?: number;
}) {
  return (
    <TextInput
      label={label}
      placeholder={placeholder}
      leftSection={<IconSearch size={16} aria-hidden />}
      value={search.value}
      onChange={(e) => search.setValue(e.currentTarget.value)}
      maw={maw}
    />
  );
}

/** A list answer (`{items,…}`) as useLoad gives it. */
export interface LoadedList<D extends { items: readonly unknown[] }> {
  data?: D;
  error: unknown;
  loading: boolean;
}

export interface ListStatesProps<D extends { items: readonly unknown[] }> {
  list: LoadedList<D>;
  /** The loader's accessible name ("Loading users"). */
  loadingLabel: string;
  loaderSize?: string;
  empty: { icon: ReactNode; title: string; description: string };
  /** What shows when the list has items (a table). */
  children: (items: D['items'], data: D) => ReactNode;
}

/** A list's error, its loader while nothing is there yet, its empty state, or its items. */
export function ListStates<D extends { items: readonly unknown[] }>({
  list,
  loadingLabel,
  loaderSize,
  empty,
  children,
}: ListStatesProps<D>) {
  const { data } = list;
  return (
    <>
      <ErrorAlert error={list.error} />
      {list.loading && !data ? <Loader size={loaderSize} aria-label={loadingLabel} /> : null}
      {data && data.items.length === 0 ? (
        <EmptyState icon={empty.icon} title={empty.title} description={empty.description} />
      ) : null}
      {data && data.items.length > 0 ? children(data.items, data) : null}
    </>
  );
}

/**
 * A list page (or tab): its heading with an action (Add …), a line about it, a toolbar (search,
 * filters), then the list's states and items; `extra` (dialogs) comes last.
 */
export function ListScaffold<D extends { items: readonly unknown[] }>({
  title,
  description,
  action,
  toolbar,
  notices,
  extra,
  ...states
}: ListStatesProps<D> & {
  /** The page's heading; without one, `description` stands beside the action (a tab). */
  title?: string;
  description?: ReactNode;
  action?: ReactNode;
  toolbar?: ReactNode;
  /** Alerts of actions on the items, above the list. */
  notices?: ReactNode;
  extra?: ReactNode;
}) {
  const about = description ? (
    <Text size="sm" c="dimmed">
      {description}
    </Text>
  ) : null;
  return (
    <Stack>
      <Group justify="space-between">
        {title ? <Title order={2}>{title}</Title> : about}
        {action}
      </Group>
      {title ? about : null}
      {toolbar}
      {notices}
      <ListStates {...states} />
      {extra}
    </Stack>
  );
}

/** A column heading read by screen readers only (a column of row actions). */
export const hiddenColumn = (label: string) => ({ hidden: label });

/**
 * Label each cell with its column heading (`data-label`) and give the table its roles explicitly:
 * on a phone the rows are stacked (console.css), and a table laid out with CSS display values
 * other than table's loses its table semantics in some browsers unless the roles are set.
 * Set once when the table mounts, then again whenever its rows or headings change.
 */
function useStackedLabels(table: React.RefObject<HTMLTableElement | null>) {
  useLayoutEffect(() => {
    const el = table.current;
    if (!el) return;
    const label = () => {
      // A column whose heading is for screen readers only (row actions) shows no label either.
      const headings = [...el.querySelectorAll('thead th')].map((th) =>
        th.querySelector('.visually-hidden') ? '' : (th.textContent?.trim() ?? ''),
      );
      el.setAttribute('role', 'table');
      for (const group of el.querySelectorAll('thead, tbody')) group.setAttribute('role', 'rowgroup');
      for (const tr of el.querySelectorAll('tr')) tr.setAttribute('role', 'row');
      for (const th of el.querySelectorAll('thead th')) th.setAttribute('role', 'columnheader');
      for (const tr of el.querySelectorAll('tbody tr')) {
        [...tr.children].forEach((cell, i) => {
          if (cell.getAttribute('role') !== 'cell') cell.setAttribute('role', 'cell');
          const heading = headings[i] ?? '';
          if (cell.getAttribute('data-label') !== heading) cell.setAttribute('data-label', heading);
        });
      }
    };
    label();
    // Attributes are not watched, so labelling does not wake the observer again.
    const observer = new MutationObserver(label);
    observer.observe(el, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, [table]);
}

/**
 * A list's table. Wide screens: a container that scrolls sideways when the table is wider than
 * the screen, so the page itself does not. Phones: each row is stacked, its cells one under the
 * other with their column's name, so status, expiry and every action are on screen (console.css).
 */
export function ListTable({
  label,
  minWidth,
  columns,
  children,
  ...table
}: {
  label: string;
  minWidth: number;
  /** Headings; null, false or undefined leaves a column out. */
  columns: ReadonlyArray<string | { hidden: string } | null | false | undefined>;
  children: ReactNode;
} & Omit<TableProps, 'children'>) {
  const ref = useRef<HTMLTableElement>(null);
  useStackedLabels(ref);
  return (
    <Table.ScrollContainer minWidth={minWidth} className="stacked-table">
      <Table aria-label={label} ref={ref} {...table}>
        <Table.Thead>
          <Table.Tr>
            {columns.map((c) =>
              !c ? null : typeof c === 'string' ? (
                <Table.Th key={c}>{c}</Table.Th>
              ) : (
                <Table.Th key={c.hidden}>
                  <span className="visually-hidden">{c.hidden}</span>
                </Table.Th>
              ),
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
