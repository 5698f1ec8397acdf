/**
 * The declarative resource registry of the accounting data API (SQL Account compatible).
 *
 * One definition per resource: its path, key field, master fields with types, detail table
 * (if any), indexed fields, numbering series and permissions. Routes (src/http/routes/data.ts),
 * validation (validate.ts), storage (schema.ts and the 0002 migration), the OpenAPI document
 * and the Postman collection (src/devtools/) are all generated from these definitions:
 * adding a resource is adding a definition here (plus, on an existing deployment, a migration
 * that calls `createResourceTables` for it — see schema.ts).
 */

export type FieldType = 'string' | 'integer' | 'boolean' | 'date' | 'decimal';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  /** Decimals: digits after the point, always returned with exactly this many. */
  readonly scale?: number;
  readonly maxLength?: number;
  /** Must be present on create (after server defaults are applied). */
  readonly required?: boolean;
  /** Stored value when the client sends nothing. */
  readonly default?: string | number | boolean | null;
  /** The value is a `code` of this resource and must exist in the same tenant. */
  readonly ref?: string;
  /** Set by the server (keys, computed amounts, bookkeeping); ignored when a client sends it. */
  readonly readOnly?: boolean;
  readonly description?: string;
}

/** How a document's amounts are computed from its detail rows (see compute.ts). */
export type ComputeKind = 'trade' | 'stock' | 'payment' | 'journal' | 'none';

export interface DetailDef {
  /** The array's name in JSON (`sdsdocdetail`, `sdsbranch`, `sdsuom`). */
  readonly name: string;
  /** Fields besides `dtlkey`, the parent link and `seq`. */
  readonly fields: readonly FieldDef[];
}

export interface ResourceDef {
  /** Path segment and permission prefix: `/agent/`, `agent:read`. */
  readonly name: string;
  /** Human title (Postman folder, API reference). */
  readonly title: string;
  readonly kind: 'master' | 'document';
  /** `code` for masters, `dockey` for documents. */
  readonly keyField: 'code' | 'dockey';
  /** Master fields in output order (documents include dockey, docno, …). */
  readonly fields: readonly FieldDef[];
  readonly detail?: DetailDef;
  /** Fields the `/{resource}/*?…` form may filter on. */
  readonly indexed: readonly string[];
  /** Documents: the numbering series prefix (`IV-` → IV-00001) used when docno is omitted or `<<New>>`. */
  readonly numbering?: { readonly prefix: string; readonly digits: number };
  readonly compute: ComputeKind;
  readonly permissions: { readonly read: string; readonly write: string };
  /** A valid create body (against the demo data), used by the Postman collection and the docs. */
  readonly sample: Readonly<Record<string, unknown>>;
}

export const NEW_DOCNO = '<<New>>';
export const MAX_PAGE = 50;

// ---- field helpers -------------------------------------------------------------------------

const text = (name: string, maxLength = 200, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'string',
  maxLength,
  default: null,
  ...extra,
});
const ref = (name: string, resource: string, extra: Partial<FieldDef> = {}): FieldDef =>
  text(name, 30, { ref: resource, ...extra });
const flag = (name: string, fallback: boolean): FieldDef => ({ name, type: 'boolean', default: fallback });
const int = (name: string, fallback: number | null = null, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'integer',
  default: fallback,
  ...extra,
});
const date = (name: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'date',
  default: null,
  ...extra,
});
/** Money: 2 decimal places. */
const money = (name: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'decimal',
  scale: 2,
  default: '0',
  ...extra,
});
/** Quantities, unit prices and rates: 4 decimal places. */
const qty = (name: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'decimal',
  scale: 4,
  default: '0',
  ...extra,
});
const computed = (f: FieldDef): FieldDef => ({ ...f, readOnly: true });

const code = (maxLength = 30): FieldDef => ({
  name: 'code',
  type: 'string',
  maxLength,
  required: true,
  description: 'unique code (the key)',
});
const addressFields = (): FieldDef[] => [1, 2, 3, 4].map((n) => text(`address${n}`));

const permissionsOf = (name: string) => ({ read: `${name}:read`, write: `${name}:write` });

// ---- masters -------------------------------------------------------------------------------

function master(
  name: string,
  title: string,
  fields: FieldDef[],
  sample: Record<string, unknown>,
  detail?: DetailDef,
): ResourceDef {
  return {
    name,
    title,
    kind: 'master',
    keyField: 'code',
    fields: [
      code(),
      ...fields,
      computed(int('updatecount', 1, { description: 'send stored value + 1 with PUT' })),
      computed(int('lastmodified', 0, { description: 'Unix seconds of the last change' })),
    ],
    ...(detail ? { detail } : {}),
    indexed: ['code'],
    compute: 'none',
    permissions: permissionsOf(name),
    sample,
  };
}

const branchDetail: DetailDef = {
  name: 'sdsbranch',
  fields: [
    text('branchtype', 1, { default: 'B', description: 'B = billing, D = delivery' }),
    text('branchname', 100, { required: true }),
    ...addressFields(),
    text('postcode', 20),
    text('city', 50),
    text('state', 50),
    text('country', 50),
    text('attention', 100),
    text('phone1', 50),
    text('phone2', 50),
    text('mobile', 50),
    text('fax1', 50),
    text('email', 200),
  ],
};

const partyFields = (kind: 'customer' | 'supplier'): FieldDef[] => [
  text('controlaccount', 30, { ref: 'account' }),
  text('companyname', 100, { required: true }),
  text('companyname2', 100),
  text('companycategory', 30),
  ref('area', 'area'),
  ...(kind === 'customer' ? [ref('agent', 'agent')] : []),
  ref('currencycode', 'currency'),
  ref('terms', 'terms'),
  money('creditlimit'),
  text('brn', 30),
  text('brn2', 30),
  text('gstno', 30),
  text('tin', 30),
  text('remark', 1000),
  text('status', 1, { default: 'A', description: 'A = active, I = inactive' }),
];

const MASTERS: ResourceDef[] = [
  master('agent', 'Agent', [text('description', 200, { required: true }), flag('isactive', true)], {
    code: 'PM-01',
    description: 'Postman Agent',
    isactive: true,
  }),
  master('area', 'Area', [text('description', 200, { required: true }), flag('isactive', true)], {
    code: 'PM-AR',
    description: 'Postman Area',
  }),
  master(
    'currency',
    'Currency',
    [text('description', 100, { required: true }), text('symbol', 10), flag('isactive', true)],
    { code: 'PMC', description: 'Postman Currency', symbol: 'P$' },
  ),
  master(
    'customer',
    'Customer',
    partyFields('customer'),
    {
      code: 'PM-C0001',
      companyname: 'Postman Trading Sdn Bhd',
      area: 'KL',
      agent: 'ALI',
      sdsbranch: [{ branchname: 'BILLING', address1: '1, Jalan Contoh', city: 'Kuala Lumpur' }],
    },
    branchDetail,
  ),
  master(
    'supplier',
    'Supplier',
    partyFields('supplier'),
    {
      code: 'PM-S0001',
      companyname: 'Postman Supplies Sdn Bhd',
      sdsbranch: [{ branchname: 'BILLING', address1: '2, Jalan Contoh' }],
    },
    branchDetail,
  ),
  master(
    'stockgroup',
    'Stock Group',
    [
      text('description', 200, { required: true }),
      ref('salescode', 'account'),
      ref('purchasecode', 'account'),
      flag('isactive', true),
    ],
    { code: 'PM-GRP', description: 'Postman Group' },
  ),
  master(
    'stockitem',
    'Stock Item',
    [
      text('description', 200, { required: true }),
      text('description2', 200),
      ref('stockgroup', 'stockgroup'),
      flag('stockcontrol', true),
      text('barcode', 50),
      text('shelf', 30),
      ref('outputtax', 'taxcode'),
      ref('inputtax', 'taxcode'),
      money('refcost'),
      money('refprice'),
      text('remark1', 200),
      flag('isactive', true),
    ],
    {
      code: 'PM-ITEM',
      description: 'Postman Item',
      stockgroup: 'FURN',
      refprice: '10.00',
      sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true }],
    },
    {
      name: 'sdsuom',
      fields: [
        text('uom', 10, { required: true }),
        qty('rate', { default: '1', description: 'how many base units one of this UOM holds' }),
        money('refcost'),
        money('refprice'),
        flag('isbase', false),
      ],
    },
  ),
  master('project', 'Project', [text('description', 200, { required: true }), flag('isactive', true)], {
    code: 'PM-PRJ',
    description: 'Postman Project',
  }),
  master(
    'location',
    'Location',
    [text('description', 200, { required: true }), ...addressFields(), flag('isactive', true)],
    { code: 'PM-LOC', description: 'Postman Location' },
  ),
  master(
    'taxcode',
    'Tax Code',
    [
      text('description', 200, { required: true }),
      text('taxtype', 10, { description: 'e.g. SR (sales), SV (service), TX (purchase)' }),
      money('taxrate', { description: 'percent, e.g. "6.00"' }),
      flag('isactive', true),
    ],
    { code: 'PM-TAX', description: 'Postman Tax', taxrate: '5.00' },
  ),
  master(
    'account',
    'Account',
    [
      ref('parent', 'account'),
      text('description', 200, { required: true }),
      text('description2', 200),
      text('acctype', 10, { description: 'e.g. CA, CL, SL, PU, EP' }),
      text('specialacctype', 10),
      flag('isactive', true),
    ],
    { code: 'PM-900', description: 'Postman Account', acctype: 'EP' },
  ),
  master(
    'terms',
    'Terms',
    [text('description', 200, { required: true }), int('termdays', 0), flag('isactive', true)],
    { code: 'PM-T', description: 'Postman Terms', termdays: 15 },
  ),
];

// ---- documents -----------------------------------------------------------------------------

const tradeDetail: DetailDef = {
  name: 'sdsdocdetail',
  fields: [
    ref('itemcode', 'stockitem'),
    ref('location', 'location'),
    ref('project', 'project'),
    text('description', 200),
    qty('qty', { default: '1' }),
    text('uom', 10, { default: 'UNIT' }),
    qty('rate', { default: '1', description: 'UOM rate' }),
    qty('unitprice'),
    text('disc', 30, {
      default: '',
      description: 'discount: an amount ("5"), a percent ("10%") or a chain ("10%+5%")',
    }),
    ref('tax', 'taxcode'),
    computed(money('taxrate', { description: "percent, from the tax code's taxrate" })),
    computed(money('taxamt')),
    flag('taxinclusive', false),
    computed(money('amount', { description: 'line amount excluding tax, after discount' })),
    ref('account', 'account'),
  ],
};

const stockDetail: DetailDef = {
  name: 'sdsdocdetail',
  fields: [
    ref('itemcode', 'stockitem', { required: true }),
    ref('location', 'location'),
    ref('project', 'project'),
    text('description', 200),
    qty('qty', { default: '1' }),
    text('uom', 10, { default: 'UNIT' }),
    qty('rate', { default: '1' }),
    qty('unitcost'),
    computed(money('amount', { description: 'qty × unitcost' })),
  ],
};

const paymentDetail: DetailDef = {
  name: 'sdsdocdetail',
  fields: [
    ref('account', 'account', { required: true }),
    text('description', 200),
    ref('project', 'project'),
    money('amount', { required: true }),
    ref('tax', 'taxcode'),
    computed(money('taxrate')),
    computed(money('taxamt')),
  ],
};

const journalDetail: DetailDef = {
  name: 'sdsdocdetail',
  fields: [
    ref('account', 'account', { required: true }),
    text('description', 200),
    ref('project', 'project'),
    money('dr'),
    money('cr'),
  ],
};

type Party = 'customer' | 'supplier' | null;

function document(
  name: string,
  title: string,
  prefix: string,
  party: Party,
  compute: ComputeKind,
  sample: Record<string, unknown>,
  extra: FieldDef[] = [],
): ResourceDef {
  const partyFields: FieldDef[] = party
    ? [
        ref('code', party, { required: true, description: `${party} code` }),
        text('companyname', 100, { description: `defaults to the ${party}'s companyname` }),
        ...addressFields(),
        text('phone1', 50),
        ...(party === 'customer' ? [ref('agent', 'agent')] : []),
        ref('area', 'area'),
        ref('terms', 'terms'),
      ]
    : [];
  const detail =
    compute === 'trade'
      ? tradeDetail
      : compute === 'stock'
        ? stockDetail
        : compute === 'journal'
          ? journalDetail
          : paymentDetail;
  return {
    name,
    title,
    kind: 'document',
    keyField: 'dockey',
    fields: [
      computed(int('dockey', null, { description: 'the key (an integer)' })),
      text('docno', 30, { description: `omit or send "${NEW_DOCNO}" for the next ${prefix} number` }),
      text('docnoex', 30),
      date('docdate', { required: true }),
      date('postdate', { description: 'defaults to docdate' }),
      date('taxdate', { description: 'defaults to docdate' }),
      ...partyFields,
      ref('currencycode', 'currency'),
      qty('currencyrate', { default: '1' }),
      ref('project', 'project'),
      text('description', 200),
      ...extra,
      flag('cancelled', false),
      computed(money('docamt', { description: 'sum of the detail amounts (with tax)' })),
      computed(money('localdocamt', { description: 'docamt × currencyrate' })),
      text('eiv_utc', 40, { description: 'e-invoice validation time (UTC)' }),
      computed(int('updatecount', 1, { description: 'send stored value + 1 with PUT' })),
      computed(int('lastmodified', 0, { description: 'Unix seconds of the last change' })),
    ],
    detail,
    indexed: ['code', 'docdate', 'docno', 'postdate', 'eiv_utc'].filter(
      (f) => f !== 'code' || party !== null,
    ),
    numbering: { prefix, digits: 5 },
    compute,
    permissions: permissionsOf(name),
    sample,
  };
}

const salesSample = {
  docdate: '2026-01-15',
  code: '300-A0001',
  agent: 'ALI',
  description: 'Postman sample',
  sdsdocdetail: [
    { itemcode: 'ISCT', qty: '2', unitprice: '250.00', tax: 'SV-8' },
    { itemcode: 'MISC', description: 'Delivery', qty: '1', unitprice: '30.00' },
  ],
};
const purchaseSample = {
  docdate: '2026-01-15',
  code: '400-A0001',
  description: 'Postman sample',
  sdsdocdetail: [{ itemcode: 'RM-04', qty: '10', unitprice: '12.50' }],
};
const paymentSample = (code: string | null) => ({
  docdate: '2026-01-20',
  ...(code ? { code } : {}),
  description: 'Postman sample',
  sdsdocdetail: [{ account: '310-000', amount: '100.00' }],
});
const stockSample = {
  docdate: '2026-01-15',
  description: 'Postman sample',
  sdsdocdetail: [{ itemcode: 'RM-04', location: '----', qty: '5', unitcost: '12.50' }],
};

const payment = [
  ref('paymentmethod', 'account', { description: 'cash or bank account' }),
  text('chequenumber', 30),
];

const DOCUMENTS: ResourceDef[] = [
  document('salesquotation', 'Sales Quotation', 'QT-', 'customer', 'trade', salesSample),
  document('salesorder', 'Sales Order', 'SO-', 'customer', 'trade', salesSample),
  document('deliveryorder', 'Delivery Order', 'DO-', 'customer', 'trade', salesSample),
  document('salesinvoice', 'Sales Invoice', 'IV-', 'customer', 'trade', salesSample),
  document('cashsales', 'Cash Sales', 'CS-', 'customer', 'trade', salesSample),
  document('salescreditnote', 'Sales Credit Note', 'CN-', 'customer', 'trade', salesSample),
  document('salesdebitnote', 'Sales Debit Note', 'DN-', 'customer', 'trade', salesSample),
  document('purchaseorder', 'Purchase Order', 'PO-', 'supplier', 'trade', purchaseSample),
  document('goodsreceived', 'Goods Received', 'GR-', 'supplier', 'trade', purchaseSample),
  document('purchaseinvoice', 'Purchase Invoice', 'PI-', 'supplier', 'trade', purchaseSample),
  document('purchasereturn', 'Purchase Return', 'PR-', 'supplier', 'trade', purchaseSample),
  document(
    'customerpayment',
    'Customer Payment',
    'OR-',
    'customer',
    'payment',
    paymentSample('300-A0001'),
    payment,
  ),
  document(
    'supplierpayment',
    'Supplier Payment',
    'PV-',
    'supplier',
    'payment',
    paymentSample('400-A0001'),
    payment,
  ),
  document('journalentry', 'Journal Entry', 'JV-', null, 'journal', {
    docdate: '2026-01-31',
    description: 'Postman sample',
    sdsdocdetail: [
      { account: '900-000', dr: '50.00' },
      { account: '310-000', cr: '50.00' },
    ],
  }),
  document('paymentvoucher', 'Payment Voucher', 'PV-', null, 'payment', paymentSample(null), payment),
  document('officialreceipt', 'Official Receipt', 'OR-', null, 'payment', paymentSample(null), payment),
  document('stockreceived', 'Stock Received', 'SR-', null, 'stock', stockSample),
  document('stockissue', 'Stock Issue', 'SI-', null, 'stock', stockSample),
  document('stockadjustment', 'Stock Adjustment', 'SA-', null, 'stock', stockSample),
  document('stocktransfer', 'Stock Transfer', 'XF-', null, 'stock', stockSample, [
    ref('tolocation', 'location'),
  ]),
];

export const RESOURCES: readonly ResourceDef[] = [...MASTERS, ...DOCUMENTS];

const BY_NAME = new Map(RESOURCES.map((r) => [r.name, r]));

export function resourceByName(name: string): ResourceDef | undefined {
  return BY_NAME.get(name);
}

/** The field that links a detail row to its master: `dockey` for documents, `code` for masters. */
export function detailLinkField(def: ResourceDef): 'dockey' | 'code' {
  return def.kind === 'document' ? 'dockey' : 'code';
}

/** The fields of a detail row in output order. */
export function detailFields(def: ResourceDef): FieldDef[] {
  if (!def.detail) return [];
  const link = detailLinkField(def);
  return [
    computed(int('dtlkey', null, { description: 'detail key: send it back to update this row' })),
    computed(
      link === 'dockey'
        ? int('dockey', null)
        : { name: 'code', type: 'string', maxLength: 30, default: null, readOnly: true },
    ),
    int('seq', null, { description: 'order; the server numbers rows in steps of 1000' }),
    ...def.detail.fields,
  ];
}
