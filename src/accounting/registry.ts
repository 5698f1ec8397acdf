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
  /**
   * The value is a `code` of this resource and must exist in the same tenant. An empty string and
   * SQL Account's "none" code `----` are not looked up.
   */
  readonly ref?: string;
  /**
   * Set by the server (keys, computed amounts, bookkeeping). A create ignores it when sent; an
   * update accepts it when it equals the stored or the newly computed value and refuses a changed
   * one, so a record read from the API can be sent back as it is.
   */
  readonly readOnly?: boolean;
  /** Older latchkey names a body may still use for this field (never answered). */
  readonly aliases?: readonly string[];
  readonly description?: string;
}

/**
 * How a document's amounts are computed from its detail rows (see compute.ts):
 * `entered` documents (payments, deposits, refunds, contras) take docamt from the client.
 */
export type ComputeKind = 'trade' | 'stock' | 'lines' | 'journal' | 'entered' | 'none';

export interface DetailDef {
  /** The array's name in JSON (`sdsdocdetail`, `sdsbranch`, `sdsuom`, `sdsknockoff`). */
  readonly name: string;
  /** Table suffix: `acc_<resource>_<table>`. The first detail of a resource is `dtl`. */
  readonly table: string;
  /** Fields besides `dtlkey`, the parent link and `seq`. */
  readonly fields: readonly FieldDef[];
  /** Names SQL Account clients send in a row that latchkey accepts and does not keep (see README). */
  readonly ignored?: readonly string[];
}

/** Customer or supplier side of the ledger: knock-offs never cross it. */
export type Side = 'customer' | 'supplier';

export interface KnockOffTarget {
  readonly side: Side;
  /** The SQL Account document type a knock-off row names it by (`IV`, `DN`, `CN`, `PM`, `DP`). */
  readonly doctype: string;
  /** The computed field holding what is still open: `outstanding`, or `unappliedamt` for payments. */
  readonly openField: 'outstanding' | 'unappliedamt';
}

export interface ResourceDef {
  /** Path segment and permission prefix: `/agent/`, `agent:read`. */
  readonly name: string;
  /** Human title (Postman folder, API reference). */
  readonly title: string;
  readonly kind: 'master' | 'document';
  /**
   * The path key: `code` for most masters, `dockey` (an integer the server assigns) for documents
   * and for stock items, as in SQL Account.
   */
  readonly keyField: 'code' | 'dockey' | 'autokey';
  /** The resource whose tables this one reads and writes (an alias such as `tax`); default: its own. */
  readonly table?: string;
  /** Master fields in output order (documents include dockey, docno, …). */
  readonly fields: readonly FieldDef[];
  /** Detail arrays, in output order; the first is stored in `acc_<resource>_dtl`. */
  readonly details: readonly DetailDef[];
  /** Fields the `/{resource}/*?…` form may filter on. */
  readonly indexed: readonly string[];
  /** Documents: the numbering series prefix (`IV-` → IV-00001) used when docno is omitted or `<<New>>`. */
  readonly numbering?: { readonly prefix: string; readonly digits: number };
  readonly compute: ComputeKind;
  /** This document settles others through its `sdsknockoff` rows: the document types it may knock off. */
  readonly knocksOff?: { readonly side: Side; readonly doctypes: readonly string[] };
  /** Other documents may knock this one off. */
  readonly knockOffTarget?: KnockOffTarget;
  /** Names SQL Account clients send that latchkey accepts and does not keep (see README). */
  readonly ignored?: readonly string[];
  readonly permissions: { readonly read: string; readonly write: string };
  /** A valid create body (against the demo data), used by the Postman collection and the docs. */
  readonly sample: Readonly<Record<string, unknown>>;
}

/**
 * Another path for a resource: SQL Account's name for a resource latchkey first named otherwise
 * (`/tax/` for `/taxcode/`). It reads and writes the same records with the same permissions, and
 * may be addressed by another key (`/tax/{autokey}`, as SQL Account does).
 */
export interface AliasDef {
  readonly name: string;
  readonly of: string;
  readonly title: string;
  readonly keyField?: ResourceDef['keyField'];
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

/** User-defined fields: `udf_<name>`, stored per resource and detail row, answered as sent. */
export const UDF_PATTERN = /^udf_[a-z0-9_]{1,60}$/i;

// ---- masters -------------------------------------------------------------------------------

const bookkeeping = (): FieldDef[] => [
  computed(int('updatecount', 1, { description: 'documents: send the stored value + 1 with PUT' })),
  computed(int('lastmodified', 0, { description: 'Unix seconds of the last change' })),
];

function master(
  name: string,
  title: string,
  fields: FieldDef[],
  sample: Record<string, unknown>,
  details: DetailDef[] = [],
  extra: Partial<ResourceDef> = {},
): ResourceDef {
  return {
    name,
    title,
    kind: 'master',
    keyField: 'code',
    fields: [code(), ...fields, ...bookkeeping()],
    details,
    indexed: ['code'],
    compute: 'none',
    permissions: permissionsOf(name),
    sample,
    ...extra,
  };
}

/** agent, area, project and the other code + description masters. */
const simple = (name: string, title: string, sample: Record<string, unknown>, fields: FieldDef[] = []) =>
  master(
    name,
    title,
    [
      text('description', 200, { required: true }),
      text('description2', 200),
      ...fields,
      flag('isactive', true),
    ],
    sample,
    [],
    { indexed: ['code', 'description'] },
  );

const contactFields = (): FieldDef[] => [
  text('attention', 100),
  text('phone1', 50),
  text('phone2', 50),
  text('mobile', 50),
  text('fax1', 50),
  text('fax2', 50),
  text('email', 200),
];

const branchDetail: DetailDef = {
  name: 'sdsbranch',
  table: 'dtl',
  fields: [
    text('branchtype', 1, { default: 'B', description: 'B = billing, D = delivery' }),
    text('branchname', 100),
    ...addressFields(),
    text('postcode', 20),
    text('city', 50),
    text('state', 50),
    text('country', 50),
    ...contactFields(),
    text('geolocation', 100),
  ],
};

/** e-invoice (MyInvois) identity of a party or a document's party. */
const einvoiceIdentity = (): FieldDef[] => [
  text('tin', 30, { description: 'tax identification number' }),
  int('idtype', 0, { description: 'e-invoice ID type: 0 none, 1 BRN, 2 NRIC, 3 passport, 4 army' }),
  text('idno', 30, { description: 'the ID number of idtype' }),
  int('submissiontype', 0, { description: 'e-invoice submission type' }),
];

const partyFields = (kind: Side): FieldDef[] => [
  text('controlaccount', 30, { ref: 'account' }),
  text('companyname', 100, { required: true }),
  text('companyname2', 100),
  ref('companycategory', 'companycategory'),
  ref('area', 'area'),
  ...(kind === 'customer' ? [ref('agent', 'agent')] : []),
  ref('currencycode', 'currency'),
  ref('creditterm', 'terms', { aliases: ['terms'], description: 'the credit terms code' }),
  money('creditlimit'),
  money('overduelimit'),
  text('statementtype', 1, { default: 'O', description: 'O = open item, B = balance forward' }),
  text('agingon', 1, { default: 'I', description: 'I = invoice date, D = due date' }),
  flag('allowexceedcreditlimit', false),
  flag('addpdctocrlimit', false),
  date('creationdate'),
  text('brn', 30, { description: 'business registration number' }),
  text('brn2', 30),
  text('gstno', 30),
  text('salestaxno', 30, { description: 'sales tax registration number' }),
  text('servicetaxno', 30, { description: 'service tax registration number' }),
  text('taxexemptno', 30),
  date('taxexpdate'),
  text('tourismno', 30),
  text('sic', 30),
  ...einvoiceIdentity(),
  ref('tax', 'taxcode', { description: 'default tax code' }),
  text('pricetag', 30, { ref: 'pricetag' }),
  text('remark', 1000),
  text('note', 4000),
  text('status', 1, { default: 'A', description: 'A = active, I = inactive, S = suspended' }),
  flag('dirty', false),
];

const stockItemFields = (): FieldDef[] => [
  computed(int('dockey', null, { description: 'the key (an integer)' })),
  text('description', 200, { required: true }),
  text('description2', 200),
  text('description3', 4000),
  ref('stockgroup', 'stockgroup'),
  ref('stockcategory', 'stockcategory'),
  text('itemtype', 1, { default: '', description: 'empty = stock item, S = service, B = bill of materials' }),
  flag('stockcontrol', true),
  int('costingmethod', 0, { description: '0 fixed cost, 1 weighted average, 2 FIFO, 3 LIFO' }),
  text('serialnumber', 1, { default: 'N', description: 'Y = tracked by serial number' }),
  text('barcode', 50),
  text('shelf', 30),
  text('baseuom', 10, { default: 'UNIT' }),
  text('salesuom', 10),
  text('purchaseuom', 10),
  text('reportuom', 10),
  ref('sltax', 'taxcode', { aliases: ['outputtax'], description: 'the tax code sales use' }),
  ref('phtax', 'taxcode', { aliases: ['inputtax'], description: 'the tax code purchases use' }),
  text('tariff', 30, { description: 'customs tariff code' }),
  text('irbm_classification', 10, { description: 'e-invoice classification code' }),
  int('leadtime', 0),
  date('creationdate'),
  money('refcost'),
  money('refprice'),
  qty('minqty', { default: null }),
  qty('maxqty', { default: null }),
  qty('reorderlevel', { default: null }),
  qty('reorderqty', { default: null }),
  money('weight', { default: null }),
  text('weightuom', 10),
  money('volume', { default: null }),
  text('volumeuom', 10),
  text('remark1', 200),
  text('remark2', 200),
  text('note', 4000),
  flag('dirty', false),
  flag('isactive', true),
];

const uomDetail: DetailDef = {
  name: 'sdsuom',
  table: 'dtl',
  fields: [
    text('uom', 10, { required: true }),
    qty('rate', { default: '1', description: 'how many base units one of this UOM holds' }),
    money('refcost'),
    money('refprice'),
    money('minprice'),
    money('maxprice'),
    text('barcode', 50),
    flag('isbase', false),
  ],
};

const customerPriceDetail: DetailDef = {
  name: 'sdscustomerprice',
  table: 'price',
  fields: [
    text('tagtype', 1, { description: 'C = a customer price, P = a price tag' }),
    ref('company', 'customer', { description: 'the customer this price is for' }),
    ref('pricetag', 'pricetag'),
    text('uom', 10, { default: 'UNIT' }),
    qty('qty', { default: '0', description: 'the price applies from this quantity' }),
    { name: 'stockvalue', type: 'decimal', scale: 8, default: '0', description: 'the price' },
    text('discount', 20),
    date('datefrom'),
    date('dateto'),
    text('note', 200),
  ],
};

const bomDetail: DetailDef = {
  name: 'sdsbom',
  table: 'bom',
  fields: [
    ref('itemcode', 'stockitem', { required: true, description: 'a component' }),
    text('description', 200),
    qty('qty', { default: '1' }),
    text('uom', 10, { default: 'UNIT' }),
    money('cost'),
    text('remark', 200),
  ],
};

const MASTERS: ResourceDef[] = [
  simple('agent', 'Agent', { code: 'PM-01', description: 'Postman Agent', isactive: true }),
  simple('area', 'Area', { code: 'PM-AR', description: 'Postman Area' }),
  master(
    'currency',
    'Currency',
    [
      text('description', 100, { required: true }),
      text('symbol', 10),
      text('isocode', 3),
      qty('buyingrate', { default: '1' }),
      qty('sellingrate', { default: '1' }),
      ref('fcgainaccount', 'account'),
      ref('fclossaccount', 'account'),
      int('color', 30464),
      flag('isactive', true),
    ],
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
    [branchDetail],
    { indexed: ['code', 'companyname'] },
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
    [branchDetail],
    { indexed: ['code', 'companyname'] },
  ),
  master(
    'stockgroup',
    'Stock Group',
    [
      text('description', 200, { required: true }),
      text('description2', 200),
      ref('sales', 'account', { aliases: ['salescode'] }),
      ref('cashsales', 'account'),
      ref('salesreturned', 'account'),
      ref('purchase', 'account', { aliases: ['purchasecode'] }),
      ref('cashpurchase', 'account'),
      ref('purchasereturned', 'account'),
      ref('balancestock', 'account'),
      int('costingmethod', 1),
      flag('isactive', true),
    ],
    { code: 'PM-GRP', description: 'Postman Group' },
  ),
  simple('stockcategory', 'Stock Category', { code: 'PM-CAT', description: 'Postman Category' }),
  simple('companycategory', 'Company Category', { code: 'PM-CC', description: 'Postman Company Category' }),
  simple('pricetag', 'Price Tag', { code: 'PM-PT', description: 'Postman Price Tag' }),
  {
    ...simple('shipper', 'Shipper', { code: 'PM-SHIP', description: 'Postman Shipper' }, [
      computed(
        int('autokey', null, { description: 'the key (an integer), as SQL Account addresses shippers' }),
      ),
      ...addressFields(),
      text('postcode', 20),
      text('city', 50),
      text('state', 50),
      text('country', 50),
      text('phone1', 50),
      text('phone2', 50),
      text('attention', 100),
      text('account', 30, { description: "the courier's account number" }),
      text('remark1', 200),
      text('remark2', 200),
      flag('isdefault', false),
    ]),
    keyField: 'autokey',
    indexed: ['code', 'description', 'autokey'],
  },
  master(
    'stockitem',
    'Stock Item',
    stockItemFields(),
    {
      code: 'PM-ITEM',
      description: 'Postman Item',
      stockgroup: 'FURN',
      refprice: '10.00',
      sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true }],
    },
    [uomDetail, customerPriceDetail, bomDetail],
    { keyField: 'dockey', indexed: ['code', 'description', 'dockey', 'barcode'] },
  ),
  simple('project', 'Project', { code: 'PM-PRJ', description: 'Postman Project' }, [
    money('projectvalue'),
    money('projectcost'),
  ]),
  master(
    'location',
    'Location',
    [
      text('description', 200, { required: true }),
      text('description2', 200),
      ...addressFields(),
      text('postcode', 20),
      text('city', 50),
      text('state', 50),
      text('country', 50),
      ...contactFields(),
      ref('project', 'project'),
      text('note', 4000),
      flag('isactive', true),
    ],
    { code: 'PM-LOC', description: 'Postman Location' },
  ),
  master(
    'taxcode',
    'Tax Code',
    [
      computed(int('autokey', null, { description: 'the key of the /tax/ path (an integer)' })),
      text('description', 200, { required: true }),
      text('taxtype', 10, { description: 'e.g. SR (sales), SV (service), TX (purchase)' }),
      money('taxrate', { description: 'percent, e.g. "6.00"' }),
      ref('taxaccount', 'account'),
      ref('taxreturnaccount', 'account'),
      ref('inputtax', 'account'),
      ref('outputtax', 'account'),
      flag('taxinclusive', false),
      flag('isdefault', false),
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
      ref('tax', 'taxcode', { description: 'default tax code' }),
      int('cashflowtype', 0),
      text('sic', 30),
      flag('isactive', true),
    ],
    { code: 'PM-900', description: 'Postman Account', acctype: 'EP' },
  ),
  master(
    'terms',
    'Terms',
    [
      text('description', 200, { required: true }),
      text('termtype', 1, { default: 'A', description: 'A = days after the document date' }),
      int('termday', 0, { aliases: ['termdays'], description: 'days after the document date' }),
      int('termmonth', 0),
      flag('isactive', true),
    ],
    { code: 'PM-T', description: 'Postman Terms', termdays: 15 },
  ),
];

// ---- documents -----------------------------------------------------------------------------

/** Fields every detail row of a document may carry besides its own. */
const lineExtras = (): FieldDef[] => [
  text('remark1', 200),
  text('remark2', 200),
  flag('printable', true),
  flag('changed', false),
];

const tradeDetail: DetailDef = {
  name: 'sdsdocdetail',
  table: 'dtl',
  fields: [
    ref('itemcode', 'stockitem'),
    ref('location', 'location'),
    text('batch', 30),
    ref('project', 'project'),
    text('description', 200),
    text('description2', 200),
    text('description3', 4000),
    qty('qty', { default: '1' }),
    text('uom', 10, { default: 'UNIT' }),
    qty('rate', { default: '1', description: 'UOM rate' }),
    qty('unitprice'),
    date('deliverydate'),
    text('disc', 30, {
      default: '',
      description: 'discount: an amount ("5"), a percent ("10%") or a chain ("10%+5%")',
    }),
    ref('tax', 'taxcode'),
    text('tariff', 30),
    computed(money('taxrate', { description: "percent, from the tax code's taxrate" })),
    computed(money('taxamt')),
    computed(money('localtaxamt', { description: 'taxamt × currencyrate' })),
    flag('taxinclusive', false),
    computed(money('amount', { description: 'line amount excluding tax, after discount' })),
    computed(money('localamount', { description: 'amount × currencyrate' })),
    computed(money('amountwithtax', { description: 'amount + taxamt' })),
    ref('account', 'account'),
    text('styleid', 5),
    text('number', 5),
    text('permitno', 20),
    qty('sqty', { default: null, description: 'quantity in the base UOM' }),
    qty('suomqty', { default: null }),
    text('taxexemptionreason', 300),
    text('exempted_taxrate', 20),
    money('exempted_taxamt', { default: null }),
    text('irbm_classification', 10),
    text('companyitemcode', 30),
    money('initialpurchasecost', { default: null }),
    text('fromdoctype', 2, { description: 'transferred from: SO, DO, QT, PO…' }),
    int('fromdockey'),
    int('fromdtlkey'),
    flag('transferable', true),
    ...lineExtras(),
  ],
};

const stockDetail: DetailDef = {
  name: 'sdsdocdetail',
  table: 'dtl',
  fields: [
    ref('itemcode', 'stockitem', { required: true }),
    ref('location', 'location'),
    text('batch', 30),
    ref('project', 'project'),
    text('description', 200),
    text('description2', 200),
    text('description3', 4000),
    qty('qty', { default: '1' }),
    text('uom', 10, { default: 'UNIT' }),
    qty('rate', { default: '1' }),
    qty('unitprice', { aliases: ['unitcost'], description: 'the unit cost' }),
    computed(money('amount', { description: 'qty × unitprice' })),
    ...lineExtras(),
  ],
};

/** Account lines (AR/AP notes and invoices, vouchers, receipts): an amount and its tax per account. */
const accountLines = (accountField: 'account' | 'code'): DetailDef => ({
  name: 'sdsdocdetail',
  table: 'dtl',
  fields: [
    ref(accountField, 'account', {
      required: true,
      ...(accountField === 'code' ? { aliases: ['account'], description: 'the account code' } : {}),
    }),
    text('description', 200),
    text('description2', 200),
    ref('project', 'project'),
    money('amount', { required: true }),
    ref('tax', 'taxcode'),
    computed(money('taxrate')),
    computed(money('taxamt')),
    computed(money('localamount', { description: 'amount × currencyrate' })),
    computed(money('localtaxamt', { description: 'taxamt × currencyrate' })),
    computed(money('amountwithtax', { description: 'amount + taxamt' })),
    flag('taxinclusive', false),
    text('tariff', 30),
    money('currencyamount', {
      default: null,
      description: 'the amount in a foreign currency, as the client states it',
    }),
    text('currencycode', 6),
    int('fromdtlkey'),
    ...lineExtras(),
  ],
});

const journalDetail: DetailDef = {
  name: 'sdsdocdetail',
  table: 'dtl',
  fields: [
    ref('code', 'account', { required: true, aliases: ['account'], description: 'the account code' }),
    text('description', 200),
    text('description2', 200),
    ref('project', 'project'),
    money('dr'),
    money('cr'),
    computed(money('localdr', { description: 'dr × currencyrate' })),
    computed(money('localcr', { description: 'cr × currencyrate' })),
    ...lineExtras(),
  ],
};

/**
 * A knock-off row: this document settles `koamt` of another (`doctype` + `docno` or `refdockey`).
 * The target's details are answered from it; the rest of what SQL Account clients send back in a
 * row (gain/loss, local amounts…) is accepted and recomputed.
 */
const knockOffDetail: DetailDef = {
  name: 'sdsknockoff',
  table: 'ko',
  fields: [
    text('doctype', 4, {
      required: true,
      description: 'IV invoice, DN debit note, CN credit note, PM payment, DP deposit',
    }),
    text('docno', 30, { description: "the settled document's number (or send refdockey)" }),
    int('refdockey', null, { description: "the settled document's dockey (or send docno)" }),
    money('koamt', { required: true, description: 'the amount settled' }),
    flag('knockoff', true),
    computed(text('refresource', 40, { description: 'the resource of the settled document' })),
    computed(date('docdate', { description: "the settled document's date" })),
    computed(text('docnoex', 30)),
    computed(text('description', 200)),
    computed(money('docamt', { description: "the settled document's amount" })),
    computed(money('outstanding', { description: 'what the settled document still has open' })),
    computed(money('localkoamt', { description: 'koamt × currencyrate' })),
    computed(money('actuallocalkoamt', { description: 'koamt × currencyrate' })),
    computed(date('postdate')),
    computed(text('agent', 30)),
    computed(text('area', 30)),
    computed(text('project', 30)),
    computed(text('currencycode', 30)),
    computed(qty('currencyrate')),
    computed(money('originaloutstanding', { description: 'what the settled document had open before' })),
    computed(money('gainloss', { description: 'exchange gain or loss (always 0.00: no revaluation)' })),
  ],
  ignored: [
    'uniquekey',
    'knockoffdockey',
    'duedate',
    'kotaxdate',
    'gainlosspostdate',
    'localoutstanding',
    'updatecount',
  ],
};

type Party = Side | null;

interface DocumentOptions {
  party: Party;
  compute: ComputeKind;
  details: DetailDef[];
  extra?: FieldDef[];
  knocksOff?: readonly string[];
  target?: { doctype: string; openField?: 'outstanding' | 'unappliedamt' };
  sample: Record<string, unknown>;
}

/** Delivery address and the other header fields every party document carries. */
const deliveryFields = (): FieldDef[] => [
  text('branchname', 100),
  ...[1, 2, 3, 4].map((n) => text(`daddress${n}`)),
  text('dpostcode', 20),
  text('dcity', 50),
  text('dstate', 50),
  text('dcountry', 50),
  text('dattention', 100),
  text('dphone1', 50),
  text('dmobile', 50),
  text('dfax1', 50),
];

/** Tax registrations and trade terms a party document copies. */
const partyTaxFields = (): FieldDef[] => [
  text('taxexemptno', 30),
  text('salestaxno', 30),
  text('servicetaxno', 30),
  text('tourismno', 30),
  text('sic', 30),
  text('incoterms', 10),
  text('businessunit', 30),
];

function document(name: string, title: string, prefix: string, o: DocumentOptions): ResourceDef {
  const partyFields: FieldDef[] = o.party
    ? [
        ref('code', o.party, { required: true, description: `${o.party} code` }),
        text('companyname', 100, { description: `defaults to the ${o.party}'s companyname` }),
        ...addressFields(),
        text('postcode', 20),
        text('city', 50),
        text('state', 50),
        text('country', 50),
        text('attention', 100),
        text('phone1', 50),
        text('mobile', 50),
        text('fax1', 50),
        ...deliveryFields(),
        ...(o.party === 'customer' ? [ref('agent', 'agent')] : []),
        ref('area', 'area'),
        ref('terms', 'terms'),
        ...einvoiceIdentity(),
        ...partyTaxFields(),
      ]
    : [];
  const open = o.target?.openField ?? 'outstanding';
  return {
    name,
    title,
    kind: 'document',
    keyField: 'dockey',
    fields: [
      computed(int('dockey', null, { description: 'the key (an integer)' })),
      text('docno', 30, { description: `omit or send "" or "${NEW_DOCNO}" for the next ${prefix} number` }),
      text('docnoex', 30),
      date('docdate', { required: true }),
      date('postdate', { description: 'defaults to docdate' }),
      date('taxdate', { description: 'defaults to docdate' }),
      ...partyFields,
      ref('currencycode', 'currency'),
      qty('currencyrate', { default: '1' }),
      ref('project', 'project'),
      ref('shipper', 'shipper'),
      text('description', 200),
      ...(o.extra ?? []),
      text('docref1', 30),
      text('docref2', 30),
      text('docref3', 30),
      text('docref4', 30),
      text('note', 4000),
      int('status', 0),
      text('approvestate', 20),
      flag('transferable', true),
      int('printcount', 0),
      flag('cancelled', false),
      flag('changed', false),
      o.compute === 'entered'
        ? money('docamt', { required: true, description: 'the amount received or paid' })
        : computed(money('docamt', { description: 'sum of the detail amounts (with tax)' })),
      computed(money('localdocamt', { description: 'docamt × currencyrate' })),
      ...(o.target || o.knocksOff
        ? [
            computed(
              money(open, {
                description:
                  open === 'unappliedamt' ? 'docamt not yet knocked off' : 'docamt not yet settled',
              }),
            ),
          ]
        : []),
      text('eiv_utc', 40, { description: 'e-invoice validation time (UTC)' }),
      ...bookkeeping(),
    ],
    details: [...o.details, ...(o.knocksOff ? [knockOffDetail] : [])],
    indexed: ['code', 'docdate', 'docno', 'postdate', 'eiv_utc', 'docref1'].filter(
      (f) => f !== 'code' || o.party !== null,
    ),
    numbering: { prefix, digits: 5 },
    compute: o.compute,
    ...(o.knocksOff && o.party ? { knocksOff: { side: o.party, doctypes: o.knocksOff } } : {}),
    ...(o.target && o.party
      ? { knockOffTarget: { side: o.party, doctype: o.target.doctype, openField: open } }
      : {}),
    // SQL Account's numbering-set and attachment bookkeeping: accepted, not kept (see README).
    ignored: ['attachments', 'docnosetkey', 'nextdocno', 'im_scan_autokey'],
    permissions: permissionsOf(name),
    sample: o.sample,
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
const linesSample = (party: string | null, account: 'account' | 'code') => ({
  docdate: '2026-01-20',
  ...(party ? { code: party } : {}),
  description: 'Postman sample',
  sdsdocdetail: [{ [account]: '500-000', amount: '100.00' }],
});
const enteredSample = (party: string) => ({
  docdate: '2026-01-20',
  code: party,
  paymentmethod: '310-000',
  docamt: '100.00',
  description: 'Postman sample',
});
const stockSample = {
  docdate: '2026-01-15',
  description: 'Postman sample',
  sdsdocdetail: [{ itemcode: 'RM-04', location: '----', qty: '5', unitprice: '12.50' }],
};

/** Cash book header: the bank or cash account, the journal and the bank charge. */
const cashBook = (journal: string): FieldDef[] => [
  text('doctype', 4, { description: 'the document type as SQL Account names it (PV, OR, PM…)' }),
  ref('paymentmethod', 'account', { description: 'the bank or cash account' }),
  text('journal', 10, { default: journal, description: 'BANK, CASH, GENERAL…' }),
  text('chequenumber', 30),
  ref('paymentproject', 'project'),
  money('bankcharge'),
  ref('bankchargeaccount', 'account'),
  date('bounceddate'),
  flag('nonrefundable', false),
  int('bankacc', null, { description: "the bank account's dockey in SQL Account" }),
  text('fromdoctype', 2),
  int('fromdockey'),
];

const trade = (
  party: Side,
  sample: Record<string, unknown>,
  target?: string,
): Omit<DocumentOptions, 'party'> & { party: Side } => ({
  party,
  compute: 'trade',
  details: [tradeDetail],
  sample,
  ...(target ? { target: { doctype: target } } : {}),
});

const DOCUMENTS: ResourceDef[] = [
  document('salesquotation', 'Sales Quotation', 'QT-', {
    ...trade('customer', salesSample),
    extra: [text('validity', 100), text('deliveryterm', 100), text('cc', 100)],
  }),
  document('salesorder', 'Sales Order', 'SO-', trade('customer', salesSample)),
  document('deliveryorder', 'Delivery Order', 'DO-', trade('customer', salesSample)),
  document('salesinvoice', 'Sales Invoice', 'IV-', trade('customer', salesSample, 'IV')),
  document('cashsales', 'Cash Sales', 'CS-', {
    ...trade('customer', salesSample),
    extra: [
      ref('paymentmethod', 'account', { description: 'the bank or cash account' }),
      text('chequenumber', 30),
    ],
  }),
  document('salescreditnote', 'Sales Credit Note', 'CN-', trade('customer', salesSample, 'CN')),
  document('salesdebitnote', 'Sales Debit Note', 'DN-', trade('customer', salesSample, 'DN')),
  document('salescancellednote', 'Sales Cancelled Note', 'SC-', trade('customer', salesSample)),
  document('purchaserequest', 'Purchase Request', 'PQ-', trade('supplier', purchaseSample)),
  document('purchaseorder', 'Purchase Order', 'PO-', trade('supplier', purchaseSample)),
  document('goodsreceived', 'Goods Received', 'GR-', trade('supplier', purchaseSample)),
  document('purchaseinvoice', 'Purchase Invoice', 'PI-', trade('supplier', purchaseSample, 'IV')),
  document('cashpurchase', 'Cash Purchase', 'CP-', {
    ...trade('supplier', purchaseSample),
    extra: [
      ref('paymentmethod', 'account', { description: 'the bank or cash account' }),
      text('chequenumber', 30),
    ],
  }),
  document('purchasereturn', 'Purchase Return', 'PR-', trade('supplier', purchaseSample, 'CN')),
  document('purchasedebitnote', 'Purchase Debit Note', 'PD-', trade('supplier', purchaseSample, 'DN')),

  // Customer (AR) and supplier (AP) ledgers.
  ...(['customer', 'supplier'] as const).flatMap((side): ResourceDef[] => {
    const Side = side === 'customer' ? 'Customer' : 'Supplier';
    const party = side === 'customer' ? '300-A0001' : '400-A0001';
    const p = side === 'customer' ? 'AR' : 'AP';
    const notes = (target: string) => ({
      party: side,
      compute: 'lines' as const,
      details: [accountLines('account')],
      target: { doctype: target },
      sample: linesSample(party, 'account'),
    });
    return [
      document(`${side}invoice`, `${Side} Invoice`, `${p}IV-`, notes('IV')),
      document(`${side}debitnote`, `${Side} Debit Note`, `${p}DN-`, notes('DN')),
      document(`${side}creditnote`, `${Side} Credit Note`, `${p}CN-`, {
        ...notes('CN'),
        knocksOff: ['IV', 'DN'],
      }),
      document(`${side}payment`, `${Side} Payment`, side === 'customer' ? 'OR-' : 'PV-', {
        party: side,
        compute: 'entered',
        details: [],
        extra: cashBook('BANK'),
        knocksOff: ['IV', 'DN'],
        target: { doctype: 'PM', openField: 'unappliedamt' },
        sample: enteredSample(party),
      }),
      document(`${side}deposit`, `${Side} Deposit`, `${p}DP-`, {
        party: side,
        compute: 'entered',
        details: [],
        extra: [...cashBook('BANK'), ref('depositaccount', 'account')],
        target: { doctype: 'DP', openField: 'unappliedamt' },
        sample: enteredSample(party),
      }),
      document(`${side}refund`, `${Side} Refund`, `${p}RF-`, {
        party: side,
        compute: 'entered',
        details: [],
        extra: cashBook('BANK'),
        knocksOff: ['CN', 'PM', 'DP'],
        sample: enteredSample(party),
      }),
      document(`${side}contra`, `${Side} Contra`, `${p}CT-`, {
        party: side,
        compute: 'entered',
        details: [],
        knocksOff: ['IV', 'DN'],
        sample: { docdate: '2026-01-20', code: party, docamt: '100.00', description: 'Postman sample' },
      }),
    ];
  }),

  // General ledger.
  document('journalentry', 'Journal Entry', 'JV-', {
    party: null,
    compute: 'journal',
    details: [journalDetail],
    extra: [text('journal', 10, { default: 'GENERAL', description: 'BANK, CASH, GENERAL…' })],
    sample: {
      docdate: '2026-01-31',
      journal: 'GENERAL',
      description: 'Postman sample',
      sdsdocdetail: [
        { code: '900-000', dr: '50.00' },
        { code: '310-000', cr: '50.00' },
      ],
    },
  }),
  ...(
    [
      ['paymentvoucher', 'Payment Voucher', 'PV-'],
      ['officialreceipt', 'Official Receipt', 'OR-'],
      ['bankadjustment', 'Bank Adjustment', 'BA-'],
    ] as const
  ).map(([name, title, prefix]) =>
    document(name, title, prefix, {
      party: null,
      compute: 'lines',
      details: [accountLines('code')],
      extra: cashBook('BANK'),
      sample: { ...linesSample(null, 'code'), paymentmethod: '310-000' },
    }),
  ),

  // Stock.
  ...(
    [
      ['stockreceived', 'Stock Received', 'SR-', []],
      ['stockissue', 'Stock Issue', 'SI-', []],
      ['stockadjustment', 'Stock Adjustment', 'SA-', []],
      ['stocktransfer', 'Stock Transfer', 'XF-', [ref('tolocation', 'location')]],
    ] as const
  ).map(([name, title, prefix, extra]) =>
    document(name, title, prefix, {
      party: null,
      compute: 'stock',
      details: [stockDetail],
      extra: [...extra],
      sample: stockSample,
    }),
  ),
];

export const RESOURCES: readonly ResourceDef[] = [...MASTERS, ...DOCUMENTS];

/** SQL Account's names for resources latchkey first named otherwise; both paths work. */
export const ALIASES: readonly AliasDef[] = [
  { name: 'tax', of: 'taxcode', title: 'Tax', keyField: 'autokey' },
  { name: 'purchasereturned', of: 'purchasereturn', title: 'Purchase Returned' },
  { name: 'receiptvoucher', of: 'officialreceipt', title: 'Receipt Voucher' },
];

const BY_NAME = new Map(RESOURCES.map((r) => [r.name, r]));

/** A resource by its name (not an alias). */
export function resourceByName(name: string): ResourceDef | undefined {
  return BY_NAME.get(name);
}

/** The resource an alias stands for, under the alias's name, title and key. */
function aliasResource(alias: AliasDef): ResourceDef {
  const base = BY_NAME.get(alias.of) as ResourceDef;
  const keyField = alias.keyField ?? base.keyField;
  return {
    ...base,
    name: alias.name,
    title: alias.title,
    keyField,
    table: base.name,
    indexed: keyField === base.keyField ? base.indexed : [...base.indexed, keyField],
  };
}

/** The alias paths as resources (they share their resource's tables and permissions). */
export const ALIAS_RESOURCES: readonly ResourceDef[] = ALIASES.map(aliasResource);

/** Every resource the data API answers: the resources, then the aliases. */
export const ROUTED: readonly ResourceDef[] = [...RESOURCES, ...ALIAS_RESOURCES];

/** The resource (not an alias) whose tables and numbering a definition uses. */
export const storageName = (def: ResourceDef): string => def.table ?? def.name;

/** The field that links a detail row to its record: `dockey` for documents, `code` for masters. */
export function detailLinkField(def: ResourceDef): 'dockey' | 'code' {
  return def.kind === 'document' ? 'dockey' : 'code';
}

const DETAIL_FIELDS = new WeakMap<DetailDef, Map<string, readonly FieldDef[]>>();

/** The fields of a detail row in output order (one array per detail and link, built once). */
export function detailFields(def: ResourceDef, detail: DetailDef): readonly FieldDef[] {
  const link = detailLinkField(def);
  let byLink = DETAIL_FIELDS.get(detail);
  if (!byLink) {
    byLink = new Map();
    DETAIL_FIELDS.set(detail, byLink);
  }
  const found = byLink.get(link);
  if (found) return found;
  const fields = buildDetailFields(link, detail);
  byLink.set(link, fields);
  return fields;
}

function buildDetailFields(link: 'dockey' | 'code', detail: DetailDef): FieldDef[] {
  return [
    computed(int('dtlkey', null, { description: 'detail key: send it back to update this row' })),
    computed(
      link === 'dockey'
        ? int('dockey', null)
        : { name: 'code', type: 'string', maxLength: 30, default: null, readOnly: true },
    ),
    int('seq', null, { description: 'order; the server numbers rows in steps of 1000' }),
    ...detail.fields,
  ];
}

/** The record's key field as stored: an integer for `dockey`, text for `code`. */
export const hasIntegerKey = (def: ResourceDef): boolean => def.keyField !== 'code';
