/**
 * The CLI's human output: aligned text columns (a header line, then one line per row, two spaces
 * between columns), and aligned `name  value` lines for one record. No box drawing and no index
 * column, so the output reads in any terminal and pipes into grep, awk and cut.
 *
 * Written here rather than taken from npm: it is a few dozen lines, and the packages that do it
 * either draw boxes unless told otherwise (cli-table3) or bring wrapping and terminal-width
 * handling we do not want (columnify; the output is often piped), for one more dependency to keep
 * up. Widths count code points, so a column of East Asian wide characters may sit out of line.
 */

export interface TableOptions {
  /** What a missing (null or undefined) value shows in a column; `-` when not given. */
  readonly empty?: Readonly<Record<string, string>>;
}

const MISSING = '-';
const GAP = '  ';

/**
 * One value as one line of text. Control characters are shown escaped: a name or description
 * containing a newline must not break the layout, nor an escape sequence reach the terminal.
 */
export function cellText(value: unknown, missing = MISSING): string {
  if (value === null || value === undefined) return missing;
  const text =
    typeof value === 'string'
      ? value
      : value instanceof Date
        ? value.toISOString()
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to escape.
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const width = (text: string): number => [...text].length;
const padEnd = (text: string, to: number): string => text + ' '.repeat(Math.max(0, to - width(text)));
const padStart = (text: string, to: number): string => ' '.repeat(Math.max(0, to - width(text))) + text;

/**
 * Rows as aligned columns under a header of their field names (in order of first appearance).
 * A column of numbers (and missing values) is right-aligned. Lines carry no trailing spaces.
 */
export function formatTable(records: ReadonlyArray<object>, options: TableOptions = {}): string {
  const rows = records as ReadonlyArray<Readonly<Record<string, unknown>>>;
  const columns: string[] = [];
  for (const row of rows)
    for (const name of Object.keys(row)) if (!columns.includes(name)) columns.push(name);
  const cells = rows.map((row) => columns.map((name) => cellText(row[name], options.empty?.[name])));
  const numeric = columns.map(
    (name) =>
      rows.some((row) => typeof row[name] === 'number') &&
      rows.every((row) => row[name] == null || typeof row[name] === 'number'),
  );
  const widths = columns.map((name, i) =>
    Math.max(width(name), ...cells.map((line) => width(line[i] as string))),
  );
  const render = (line: readonly string[]) =>
    line
      .map((text, i) =>
        numeric[i] ? padStart(text, widths[i] as number) : padEnd(text, widths[i] as number),
      )
      .join(GAP)
      .trimEnd();
  return [render(columns), ...cells.map(render)].join('\n');
}

/** One record as `name  value` lines, the names padded to the longest. */
export function formatRecord(value: object, options: TableOptions = {}): string {
  const record = value as Readonly<Record<string, unknown>>;
  const names = Object.keys(record);
  const longest = Math.max(0, ...names.map(width));
  return names
    .map((name) => `${padEnd(name, longest)}${GAP}${cellText(record[name], options.empty?.[name])}`.trimEnd())
    .join('\n');
}
