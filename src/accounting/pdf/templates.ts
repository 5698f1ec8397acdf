/**
 * The PDF templates of the data API's documents, by name. A request names one with
 * `template=<name>` (compared case-insensitively); without one it gets `Default`.
 *
 * A template is a name, the documents it applies to (read from the resource registry: the kind of
 * document, the fields of its detail rows — never a list of resource names, so resources added to
 * the registry get templates too) and layout choices the renderer (render.ts) follows. Each kind of
 * document has its own `Default`: trade documents (invoices, orders, quotations, notes, delivery
 * orders, cash sales), payments, receipts and vouchers, journal entries, and stock documents.
 * Alternatives: `Compact` for every document; `Without Prices` for documents whose rows carry
 * quantities (a delivery order or a goods received note as a packing list).
 *
 * More templates are added with `registerPdfTemplate`; the first registered of a name wins for
 * the documents it applies to.
 */
import { AppError } from '../../errors.js';
import type { FieldDef, ResourceDef } from '../registry.js';

/** How a document's amounts work, as its `compute` kind in the registry says. */
export type DocumentKind = 'trade' | 'stock' | 'journal' | 'payment';

export interface PdfLayout {
  /** Body text size in points; headings scale from it. */
  readonly fontSize: number;
  /** Print the party's address lines and phone below its name. */
  readonly partyAddress: boolean;
  /** Print the document's other filled-in header fields (terms, agent, reference, …). */
  readonly headerFields: boolean;
  /** Print prices, amounts and the totals; without them a document is a packing list. */
  readonly prices: boolean;
}

export interface PdfTemplate {
  readonly name: string;
  readonly description: string;
  readonly appliesTo: (def: ResourceDef) => boolean;
  readonly layout: PdfLayout;
}

/** The kind of a document (`undefined` for a master, which has no PDF). */
export function documentKind(def: ResourceDef): DocumentKind | undefined {
  if (def.kind !== 'document') return undefined;
  const compute: string = def.compute;
  if (compute === 'trade' || compute === 'stock' || compute === 'journal') return compute;
  // payment, and whatever the registry calls documents whose amounts are entered or listed.
  return 'payment';
}

const detailFieldNames = (def: ResourceDef): Set<string> =>
  new Set(def.details.flatMap((d) => d.fields.map((f: FieldDef) => f.name)));

const STANDARD: PdfLayout = { fontSize: 9, partyAddress: true, headerFields: true, prices: true };

const byKind = (kind: DocumentKind, description: string): PdfTemplate => ({
  name: 'Default',
  description,
  appliesTo: (def) => documentKind(def) === kind,
  layout: STANDARD,
});

const TEMPLATES: PdfTemplate[] = [
  byKind('trade', 'party, detail rows with prices and tax, subtotal, tax and total'),
  byKind('payment', 'party, the accounts or documents paid, total'),
  byKind('journal', 'accounts with debit and credit, and their totals'),
  byKind('stock', 'items with quantities and costs, total'),
  {
    name: 'Compact',
    description: 'smaller type; the party without its address, no other header fields',
    appliesTo: (def) => documentKind(def) !== undefined,
    layout: { fontSize: 7.5, partyAddress: false, headerFields: false, prices: true },
  },
  {
    name: 'Without Prices',
    description: 'quantities only, no prices, amounts or totals (a packing list)',
    appliesTo: (def) => documentKind(def) !== undefined && detailFieldNames(def).has('qty'),
    layout: { ...STANDARD, prices: false },
  },
  // SQL Account's report names that published print integrations send, so they run unchanged:
  // each prints the Default layout of the resources it belongs to.
  ...(
    [
      ['Sales Invoice 8 (SST 1)', ['salesinvoice']],
      ['Purchase Invoice 8 (SST 1)', ['purchaseinvoice']],
      ['Sales Credit Note', ['customercreditnote', 'salescreditnote']],
      ['Sales Debit Note', ['customerdebitnote', 'salesdebitnote']],
      [
        'GL Official Receipt - Detail - Full (with other CNnOR info)',
        ['officialreceipt', 'receiptvoucher', 'customerpayment'],
      ],
      ['GL Payment Voucher - Detail - Full', ['paymentvoucher', 'supplierpayment']],
      ['GL Journal Voucher - Full', ['journalentry']],
      ['Stock Transfer (With Cost)', ['stocktransfer']],
      ['Stock Received - Location', ['stockreceived']],
    ] as const
  ).map(
    ([name, resources]): PdfTemplate => ({
      name,
      description: "SQL Account's report name; prints the Default layout",
      appliesTo: (def) => (resources as readonly string[]).includes(def.name),
      layout: STANDARD,
    }),
  ),
];

export function registerPdfTemplate(template: PdfTemplate): void {
  TEMPLATES.push(template);
}

/** The templates a resource can be printed with, `Default` first; none for a master. */
export function pdfTemplatesFor(def: ResourceDef): readonly PdfTemplate[] {
  const seen = new Set<string>();
  const out: PdfTemplate[] = [];
  for (const t of TEMPLATES) {
    const key = t.name.toLowerCase();
    if (seen.has(key) || !t.appliesTo(def)) continue;
    seen.add(key);
    out.push(t);
  }
  return out.sort((a, b) => Number(b.name === 'Default') - Number(a.name === 'Default'));
}

export const DOCUMENTS_ONLY = 'PDF is available for documents only';

/**
 * The template a request names for a resource (none: `Default`). A master, or a name the resource
 * has no template of, is 400 VALIDATION_FAILED; the latter's message lists the names there are.
 */
export function pdfTemplate(def: ResourceDef, name: string | undefined): PdfTemplate {
  const templates = pdfTemplatesFor(def);
  if (documentKind(def) === undefined || templates.length === 0) {
    throw new AppError('VALIDATION_FAILED', DOCUMENTS_ONLY);
  }
  const wanted = (name ?? 'Default').toLowerCase();
  const found = templates.find((t) => t.name.toLowerCase() === wanted);
  if (found) return found;
  const shown = (name ?? '').length > 100 ? `${(name ?? '').slice(0, 100)}…` : name;
  throw new AppError(
    'VALIDATION_FAILED',
    `${def.name}: no PDF template "${shown}"; available templates: ${templates.map((t) => t.name).join(', ')}`,
  );
}
