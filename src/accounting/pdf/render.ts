/**
 * A data API document as a PDF (A4, PDFKit with its built-in Helvetica, so no font files):
 * the company (the tenant's name) and the document's title, the party with its address, docno,
 * docdate and the other filled-in header fields, one table per detail array, and the totals.
 *
 * The layout is read from the resource registry and the record, never from resource names: a
 * document's columns are its detail fields (a detail array the registry does not describe is laid
 * out from its rows' own keys), columns nobody filled in are left out, and the totals come from
 * `docamt`, the rows' `taxamt` and `localdocamt`. So resources and fields added to the registry
 * print without changes here.
 *
 * The output is deterministic: the same record prints the same bytes (the document info's
 * CreationDate is the record's `lastmodified`, and PDFKit derives the file ID from the info).
 *
 * Helvetica covers Latin-1 and the Windows-1252 extras only; other characters print as `?`
 * rather than as the wrong glyphs.
 */
import { Decimal as BaseDecimal } from 'decimal.js';
import PDFDocument from 'pdfkit';
import type { FieldDef, FieldType, ResourceDef } from '../registry.js';
import { type DocumentKind, documentKind, type PdfTemplate } from './templates.js';

const Decimal = BaseDecimal.clone({ precision: 64, rounding: BaseDecimal.ROUND_HALF_UP });

type Row = Record<string, unknown>;

export interface PdfInput {
  readonly def: ResourceDef;
  /** The record as the API answers it (`getRecord`): master fields and detail arrays. */
  readonly record: Row;
  /** The tenant's name, printed as the company. */
  readonly companyName: string;
  readonly template: PdfTemplate;
}

// ---- text ------------------------------------------------------------------------------------

/** The Windows-1252 characters above U+00FF that the standard fonts can print. */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/** Text the standard fonts can print: other characters become `?`, control characters spaces. */
export function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\n') out += ch;
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += ' ';
    else if (code <= 0xff || WIN_ANSI_EXTRA.has(ch)) out += ch;
    else out += '?';
  }
  return out;
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** "1234567.5000" → "1,234,567.5000"; anything not a plain decimal is left as it is. */
export function groupDigits(value: string): string {
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(value);
  if (!m) return value;
  const [, sign, whole, fraction] = m as unknown as [string, string, string, string | undefined];
  let grouped = '';
  for (let i = 0; i < whole.length; i++) {
    if (i > 0 && (whole.length - i) % 3 === 0) grouped += ',';
    grouped += whole[i];
  }
  return `${sign}${grouped}${fraction ?? ''}`;
}

const LABELS: Record<string, string> = {
  account: 'Account',
  agent: 'Agent',
  amount: 'Amount',
  amountwithtax: 'Amount with Tax',
  area: 'Area',
  chequenumber: 'Cheque No.',
  cr: 'Credit',
  creditterm: 'Terms',
  currencycode: 'Currency',
  currencyrate: 'Currency Rate',
  description: 'Description',
  disc: 'Disc.',
  docamt: 'Doc. Amount',
  docdate: 'Date',
  docno: 'Doc. No.',
  docnoex: 'Ref. No.',
  doctype: 'Type',
  dr: 'Debit',
  eiv_utc: 'E-invoice Validated',
  itemcode: 'Item Code',
  koamt: 'KO Amount',
  localamount: 'Local Amount',
  localkoamt: 'Local KO Amount',
  localtaxamt: 'Local Tax',
  outstanding: 'Outstanding',
  location: 'Location',
  paymentmethod: 'Payment Method',
  phone1: 'Phone',
  postdate: 'Post Date',
  project: 'Project',
  qty: 'Qty',
  rate: 'UOM Rate',
  refdockey: 'Ref. Key',
  refresource: 'Resource',
  tax: 'Tax',
  taxamt: 'Tax Amt.',
  taxdate: 'Tax Date',
  taxinclusive: 'Tax Incl.',
  taxrate: 'Tax %',
  terms: 'Terms',
  tin: 'TIN',
  tolocation: 'To Location',
  unitcost: 'Unit Cost',
  unitprice: 'Unit Price',
  uom: 'UOM',
};

/** A label for a field the table above does not name: `knockoffdate` → `Knockoffdate`, `udf_x` → `Udf X`. */
const labelOf = (name: string): string =>
  LABELS[name] ??
  name
    .split('_')
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(' ');

const TABLE_LABELS: Record<string, string> = { sdsdocdetail: 'Details', sdsknockoff: 'Knock-off' };
const tableLabelOf = (name: string): string => TABLE_LABELS[name] ?? labelOf(name.replace(/^sds/, ''));

// ---- columns ---------------------------------------------------------------------------------

interface Column {
  readonly name: string;
  readonly label: string;
  readonly type: FieldType;
  readonly scale: number;
  readonly maxLength: number;
  /** Money (2 places) the table's total row sums: entered amounts and the core computed ones. */
  readonly money: boolean;
  /** Which columns give way when a table is too wide: 0 never, then 1 before 2 last. */
  readonly rank: 0 | 1 | 2;
  width: number;
}

/** Never printed: the row's own key, order and link to its document. */
const ROW_BOOKKEEPING = new Set(['dtlkey', 'seq', 'dockey']);
/** Left out by a template without prices, besides every money column. */
const PRICE_COLUMNS = new Set(['unitprice', 'unitcost', 'disc', 'tax', 'taxrate', 'taxinclusive', 'cost']);
/** Shown even when every row holds the field's default (other such columns say nothing). */
const ALWAYS_SHOWN = new Set(['qty', 'uom']);
/**
 * What a document's rows are about: kept when a table is too wide for the page. The other
 * columns give way, fields the server computes (local amounts, amounts with tax…) first.
 */
const CORE = new Set([
  'itemcode',
  'account',
  'code',
  'description',
  'qty',
  'uom',
  'unitprice',
  'unitcost',
  'amount',
  'taxamt',
  'dr',
  'cr',
  'doctype',
  'docno',
  'koamt',
]);

const isBlank = (v: unknown): boolean => v === null || v === undefined || v === '' || v === false;

const sameDecimal = (a: unknown, b: unknown): boolean => {
  try {
    return new Decimal(String(a)).equals(new Decimal(String(b)));
  } catch {
    return false;
  }
};

const atDefault = (field: FieldDef, value: unknown): boolean => {
  if (field.default === null || field.default === undefined) return false;
  if (field.type === 'decimal') return sameDecimal(value, field.default);
  if (field.type === 'boolean') return (value === true) === (field.default === true);
  return value === field.default;
};

function columnOf(field: FieldDef): Column {
  const scale = field.scale ?? 2;
  return {
    name: field.name,
    label: labelOf(field.name),
    type: field.type,
    scale,
    maxLength: field.maxLength ?? 200,
    money: field.type === 'decimal' && scale === 2 && (CORE.has(field.name) || !field.readOnly),
    rank: CORE.has(field.name) ? 0 : field.readOnly ? 2 : 1,
    width: 0,
  };
}

/** Columns of a detail array the registry does not describe, from its rows' keys and values. */
function inferredFields(rows: readonly Row[]): FieldDef[] {
  const names: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!names.includes(key)) names.push(key);
  return names.map((name) => {
    const values = rows.map((r) => r[name]).filter((v) => !isBlank(v));
    if (values.length > 0 && values.every((v) => typeof v === 'boolean')) return { name, type: 'boolean' };
    if (values.length > 0 && values.every((v) => typeof v === 'number' && Number.isInteger(v)))
      return { name, type: 'integer' };
    const decimal = values.length > 0 && values.every((v) => typeof v === 'string' && /^-?\d+\.\d+$/.test(v));
    if (decimal) {
      const scale = Math.max(...values.map((v) => (String(v).split('.')[1] ?? '').length));
      return { name, type: 'decimal', scale };
    }
    const long = values.some((v) => String(v).length > 30);
    return { name, type: 'string', maxLength: long ? 200 : 30 };
  });
}

/**
 * The columns worth printing: not bookkeeping, not prices for a template without them, and
 * filled in — a column whose every row is blank or holds the field's default (a UOM rate of 1,
 * a flag nobody changed, no tax) is left out.
 */
function columnsOf(fields: readonly FieldDef[], rows: readonly Row[], prices: boolean): Column[] {
  const shown = fields
    .filter((f) => !ROW_BOOKKEEPING.has(f.name))
    .filter((f) => prices || !(PRICE_COLUMNS.has(f.name) || (f.type === 'decimal' && (f.scale ?? 2) === 2)))
    .filter((f) => rows.some((r) => !isBlank(r[f.name])))
    .filter((f) => ALWAYS_SHOWN.has(f.name) || !rows.every((r) => atDefault(f, r[f.name])));
  // A computed column repeating an earlier one row for row (local amounts at a rate of 1) says nothing.
  return shown
    .filter(
      (f, i) =>
        !f.readOnly ||
        CORE.has(f.name) ||
        !shown
          .slice(0, i)
          .some((g) => g.type === f.type && rows.every((r) => String(r[g.name]) === String(r[f.name]))),
    )
    .map(columnOf);
}

/**
 * Widths from what the cells hold: each column as wide as its widest value (its title may wrap at
 * spaces), free text (long string fields) sharing what is left but at least `MIN_FREE`. Columns
 * that do not fit give way by rank (rightmost first); if the core columns alone do not fit, they
 * shrink in proportion and their values wrap. Returns the indexes of the columns kept.
 */
const MIN_FREE = 110;

function fitColumns(
  columns: readonly Column[],
  cells: readonly (readonly string[])[],
  width: number,
  measure: (text: string, bold: boolean) => number,
  pad: number,
): number[] {
  const natural = columns.map((c, i) => {
    const words = c.label.split(' ').map((w) => measure(w, true));
    const values = cells.map((row) => measure(row[i] ?? '', false));
    return Math.min(Math.max(...words, ...values, 0) + 2 * pad + 1, width / 2);
  });
  const free = columns.map((c) => c.type === 'string' && c.maxLength > 30);
  const kept = columns.map((_, i) => i);
  const fixedOf = () => kept.reduce((sum, i) => (free[i] ? sum : sum + (natural[i] as number)), 0);
  const freeCount = () => kept.filter((i) => free[i]).length;
  while (fixedOf() + MIN_FREE * freeCount() > width) {
    let drop = -1;
    for (const i of kept) {
      const rank = (columns[i] as Column).rank;
      if (rank > 0 && (drop < 0 || rank >= (columns[drop] as Column).rank)) drop = i;
    }
    if (drop < 0) break;
    kept.splice(kept.indexOf(drop), 1);
  }
  const fixedTotal = fixedOf();
  const flexible = freeCount();
  const room = width - MIN_FREE * flexible;
  const factor = flexible === 0 ? width / Math.max(fixedTotal, 1) : fixedTotal > room ? room / fixedTotal : 1;
  let used = 0;
  for (const i of kept) {
    if (free[i]) continue;
    (columns[i] as Column).width = (natural[i] as number) * factor;
    used += (columns[i] as Column).width;
  }
  for (const i of kept) if (free[i]) (columns[i] as Column).width = (width - used) / flexible;
  return kept;
}

function cellText(value: unknown, column: Column): string {
  if (isBlank(value)) return '';
  if (column.type === 'boolean') return value === true ? 'Yes' : '';
  if (column.type === 'decimal') return groupDigits(String(value));
  return clip(printable(String(value)), 300);
}

const alignOf = (c: Column): 'left' | 'right' =>
  c.type === 'decimal' || c.type === 'integer' ? 'right' : 'left';

// ---- the document ----------------------------------------------------------------------------

const PAGE = { margin: 40, footer: 24 };
const GREY = '#555555';
const RULE = '#999999';
const SHADE = '#eeeeee';

/** Header fields printed elsewhere (party, title block, totals) or never (bookkeeping). */
const HEADER_SHOWN_ELSEWHERE = new Set([
  'dockey',
  'docno',
  'docdate',
  'code',
  'companyname',
  'address1',
  'address2',
  'address3',
  'address4',
  'phone1',
  'description',
  'cancelled',
  'docamt',
  'localdocamt',
  'currencyrate',
  'updatecount',
  'lastmodified',
]);

function partyLabel(kind: DocumentKind, side: string | undefined): string {
  if (kind === 'payment') return side === 'supplier' ? 'Paid To' : 'Received From';
  if (side === 'customer') return 'Bill To';
  return side ? labelOf(side) : 'Party';
}

function headerFieldsOf(def: ResourceDef, record: Row): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of def.fields) {
    if (HEADER_SHOWN_ELSEWHERE.has(f.name) || f.readOnly) continue;
    const value = record[f.name];
    if (isBlank(value)) continue;
    if (f.default !== null && f.default !== undefined) {
      if (f.type === 'decimal' ? sameDecimal(value, f.default) : value === f.default) continue;
    }
    if ((f.name === 'postdate' || f.name === 'taxdate') && value === record.docdate) continue;
    const text =
      f.type === 'boolean' ? 'Yes' : f.type === 'decimal' ? groupDigits(String(value)) : String(value);
    out.push([labelOf(f.name), clip(printable(text), 200)]);
  }
  return out;
}

interface Table {
  readonly name: string;
  readonly columns: Column[];
  readonly rows: readonly Row[];
  /** Print a total row of the money columns (not when the totals block itemises them). */
  readonly totalRow: boolean;
  /** A title above the table: every detail array but the document's main one (`sdsdocdetail`). */
  readonly heading: string | undefined;
}

function tablesOf(def: ResourceDef, record: Row, prices: boolean): Table[] {
  const described = def.details;
  const names = [
    ...described.map((d) => d.name),
    ...Object.keys(record).filter((k) => Array.isArray(record[k]) && !described.some((d) => d.name === k)),
  ];
  const tables: Table[] = [];
  names.forEach((name, index) => {
    const value = record[name];
    if (!Array.isArray(value) || value.length === 0) return;
    const rows = value.filter((r): r is Row => r !== null && typeof r === 'object');
    const fields = described.find((d) => d.name === name)?.fields ?? inferredFields(rows);
    const columns = columnsOf(fields, rows, prices);
    if (columns.length === 0) return;
    // The main table of a document with tax is totalled by the totals block (subtotal, tax, total).
    const itemised = index === 0 && fields.some((f) => f.name === 'taxamt');
    tables.push({
      name,
      columns,
      rows,
      totalRow: prices && !itemised && columns.some((c) => c.money),
      heading: index === 0 ? undefined : tableLabelOf(name),
    });
  });
  return tables;
}

const sum = (rows: readonly Row[], field: string): BaseDecimal =>
  rows.reduce((acc, r) => {
    try {
      return isBlank(r[field]) ? acc : acc.add(new Decimal(String(r[field])));
    } catch {
      return acc;
    }
  }, new Decimal(0));

function totalsOf(def: ResourceDef, record: Row): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [];
  const first = def.details[0];
  const rows = first && Array.isArray(record[first.name]) ? (record[first.name] as Row[]) : [];
  const hasField = (name: string) =>
    (first?.fields.some((f) => f.name === name) ?? false) || rows.some((r) => name in r);
  if (hasField('taxamt')) {
    if (hasField('amount')) out.push(['Subtotal', groupDigits(sum(rows, 'amount').toFixed(2)), false]);
    out.push(['Tax', groupDigits(sum(rows, 'taxamt').toFixed(2)), false]);
  }
  const currency = isBlank(record.currencycode) ? '' : ` (${printable(String(record.currencycode))})`;
  if (!isBlank(record.docamt)) out.push([`Total${currency}`, groupDigits(String(record.docamt)), true]);
  const rate = record.currencyrate;
  if (!isBlank(rate) && !sameDecimal(rate, 1)) {
    out.push(['Currency Rate', groupDigits(String(rate)), false]);
    if (!isBlank(record.localdocamt))
      out.push(['Local Total', groupDigits(String(record.localdocamt)), true]);
  }
  return out;
}

export async function renderDocumentPdf(input: PdfInput): Promise<Buffer> {
  const { def, record, template } = input;
  const { layout } = template;
  const kind = documentKind(def) ?? 'payment';
  const docno = isBlank(record.docno) ? '' : String(record.docno);
  const lastModified = Number(record.lastmodified);
  const stamp = new Date(Number.isFinite(lastModified) && lastModified > 0 ? lastModified * 1000 : 0);
  const doc = new PDFDocument({
    size: 'A4',
    margin: PAGE.margin,
    bufferPages: true,
    info: {
      Title: docno,
      Subject: def.title,
      Author: input.companyName,
      Creator: 'latchkey',
      Producer: 'PDFKit',
      CreationDate: stamp,
      ModDate: stamp,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const fs = layout.fontSize;
  const left = PAGE.margin;
  const width = doc.page.width - 2 * PAGE.margin;
  const bottom = () => doc.page.height - PAGE.margin - PAGE.footer;
  let y = PAGE.margin;

  const write = (
    text: string,
    x: number,
    at: number,
    w: number,
    options: { bold?: boolean; size?: number; align?: 'left' | 'right' | 'center'; color?: string } = {},
  ): number => {
    doc
      .font(options.bold ? 'Helvetica-Bold' : 'Helvetica')
      .fontSize(options.size ?? fs)
      .fillColor(options.color ?? 'black');
    const safe = printable(text);
    doc.text(safe, x, at, { width: w, align: options.align ?? 'left', lineGap: 1 });
    return doc.heightOfString(safe, { width: w, lineGap: 1 });
  };
  const heightOf = (text: string, w: number, size: number, bold = false): number => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(size);
    return doc.heightOfString(printable(text), { width: w, lineGap: 1 });
  };
  const rule = (at: number) => {
    doc
      .moveTo(left, at)
      .lineTo(left + width, at)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke();
  };
  const newPage = () => {
    doc.addPage();
    y = PAGE.margin;
  };

  // Company and title.
  const titleWidth = width * 0.42;
  const companyHeight = write(input.companyName, left, y, width - titleWidth - 10, {
    bold: true,
    size: fs * 1.8,
  });
  let titleHeight = write(def.title, left + width - titleWidth, y, titleWidth, {
    bold: true,
    size: fs * 1.5,
    align: 'right',
  });
  if (record.cancelled === true) {
    titleHeight += write('CANCELLED', left + width - titleWidth, y + titleHeight + 2, titleWidth, {
      bold: true,
      align: 'right',
      color: '#b00020',
    });
  }
  y += Math.max(companyHeight, titleHeight) + fs;
  rule(y);
  y += fs;

  // Party (left) and the document's number, date and other header fields (right).
  const infoWidth = Math.min(250, width * 0.48);
  const infoLeft = left + width - infoWidth;
  const partyWidth = width - infoWidth - 20;
  let partyY = y;
  const codeField = def.fields.find((f) => f.name === 'code');
  const hasParty = codeField !== undefined && !isBlank(record.code ?? record.companyname);
  if (hasParty) {
    partyY += write(partyLabel(kind, codeField?.ref), left, partyY, partyWidth, {
      size: fs * 0.85,
      color: GREY,
    });
    if (!isBlank(record.companyname)) {
      partyY += write(String(record.companyname), left, partyY, partyWidth, { bold: true, size: fs * 1.1 });
    }
    if (!isBlank(record.code)) partyY += write(String(record.code), left, partyY, partyWidth);
    if (layout.partyAddress) {
      for (const name of ['address1', 'address2', 'address3', 'address4']) {
        if (!isBlank(record[name])) partyY += write(String(record[name]), left, partyY, partyWidth);
      }
      if (!isBlank(record.phone1)) partyY += write(`Tel: ${String(record.phone1)}`, left, partyY, partyWidth);
    }
  }
  const info: Array<[string, string]> = [
    ['No.', docno],
    ['Date', isBlank(record.docdate) ? '' : String(record.docdate)],
    ...(layout.headerFields ? headerFieldsOf(def, record) : []),
  ];
  const labelWidth = infoWidth * 0.4;
  let infoY = y;
  for (const [label, value] of info) {
    write(label, infoLeft, infoY, labelWidth - 4, { size: fs * 0.9, color: GREY });
    infoY += Math.max(
      heightOf(label, labelWidth - 4, fs * 0.9),
      write(value, infoLeft + labelWidth, infoY, infoWidth - labelWidth, { bold: label === 'No.' }),
    );
  }
  y = Math.max(partyY, infoY) + fs;

  if (!isBlank(record.description)) {
    const text = String(record.description);
    write('Description', left, y, width, { size: fs * 0.85, color: GREY });
    y += heightOf('Description', width, fs * 0.85);
    y += write(text, left, y, width) + fs * 0.6;
  }

  // The detail tables.
  const cellSize = fs * 0.92;
  const pad = 3;
  const drawHeader = (table: Table) => {
    const h =
      Math.max(...table.columns.map((c) => heightOf(c.label, c.width - 2 * pad, cellSize, true))) + 2 * pad;
    doc.rect(left, y, width, h).fillColor(SHADE).fill();
    let x = left;
    for (const c of table.columns) {
      write(c.label, x + pad, y + pad, c.width - 2 * pad, { bold: true, size: cellSize, align: alignOf(c) });
      x += c.width;
    }
    y += h;
    rule(y);
  };
  const drawRow = (table: Table, cells: string[], bold = false) => {
    const h =
      Math.max(
        ...table.columns.map((c, i) => heightOf(cells[i] ?? '', c.width - 2 * pad, cellSize, bold)),
        heightOf('X', 100, cellSize, bold),
      ) +
      2 * pad;
    if (y + h > bottom()) {
      newPage();
      drawHeader(table);
    }
    let x = left;
    table.columns.forEach((c, i) => {
      const text = cells[i] ?? '';
      if (text !== '')
        write(text, x + pad, y + pad, c.width - 2 * pad, { bold, size: cellSize, align: alignOf(c) });
      x += c.width;
    });
    y += h;
  };

  const tables = tablesOf(def, record, layout.prices);
  for (const all of tables) {
    const allCells = all.rows.map((row) => all.columns.map((c) => cellText(row[c.name], c)));
    const allTotals = all.totalRow
      ? all.columns.map((c, i) =>
          c.money ? groupDigits(sum(all.rows, c.name).toFixed(c.scale)) : i === 0 ? 'Total' : '',
        )
      : undefined;
    const kept = fitColumns(
      all.columns,
      allTotals ? [...allCells, allTotals] : allCells,
      width,
      (text, bold) => {
        doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(cellSize);
        return doc.widthOfString(printable(text));
      },
      pad,
    );
    const table: Table = { ...all, columns: kept.map((i) => all.columns[i] as Column) };
    const cells = allCells.map((row) => kept.map((i) => row[i] ?? ''));
    const totals =
      allTotals && kept.map((i, n) => (n === 0 && allTotals[i] === '' ? 'Total' : (allTotals[i] ?? '')));
    const headingHeight = table.heading ? heightOf(table.heading, width, fs, true) + 4 : 0;
    // Keep a heading, the column titles and the first row together.
    if (y + headingHeight + 4 * cellSize * 2 > bottom()) newPage();
    if (table.heading) y += write(table.heading, left, y, width, { bold: true }) + 4;
    drawHeader(table);
    for (const row of cells) drawRow(table, row);
    if (totals) {
      rule(y);
      drawRow(table, totals, true);
    }
    rule(y);
    y += fs;
  }

  // Totals.
  if (layout.prices) {
    const totals = totalsOf(def, record);
    const valueWidth = 100;
    const totalsLabelWidth = 130;
    const totalsLeft = left + width - valueWidth - totalsLabelWidth;
    const needed = totals.length * fs * 1.6;
    if (y + needed > bottom()) newPage();
    for (const [label, value, bold] of totals) {
      const h = Math.max(
        write(label, totalsLeft, y, totalsLabelWidth - 6, { bold, align: 'right' }),
        write(value, totalsLeft + totalsLabelWidth, y, valueWidth, { bold, align: 'right' }),
      );
      y += h + fs * 0.35;
    }
  }

  // Page footers, written with the bottom margin lifted so PDFKit does not start another page.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const margin = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    const label = `${docno ? `${docno} · ` : ''}Page ${i - range.start + 1} of ${range.count}`;
    write(label, left, doc.page.height - PAGE.margin - fs, width, {
      size: fs * 0.8,
      align: 'center',
      color: GREY,
    });
    doc.page.margins.bottom = margin;
  }
  doc.end();
  return finished;
}
