/**
 * Realistic demo data for a tenant (`latchkey demo seed`, or LATCHKEY_DEMO_DATA=1 on first start):
 * a small Malaysian furniture trader. Everything goes through createRecord, so it is validated
 * and computed exactly like API input. Records that already exist are skipped, so seeding twice
 * (or two instances at once) is harmless.
 */
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import { resourceByName } from './registry.js';
import { createRecord, type DataContext, type DataDb } from './store.js';

type Rec = Record<string, unknown>;

const branch = (name: string, address1: string, city: string, state: string, extra: Rec = {}): Rec => ({
  branchname: name,
  address1,
  city,
  state,
  country: 'Malaysia',
  ...extra,
});

export const DEMO_DATA: ReadonlyArray<readonly [string, readonly Rec[]]> = [
  [
    'agent',
    [
      { code: 'ALI', description: 'Ali bin Ahmad' },
      { code: 'BEN', description: 'Benjamin Tan' },
      { code: 'CHONG', description: 'Chong Wei Ming' },
      { code: 'DEVI', description: 'Devi a/p Raman' },
      { code: 'EMMA', description: 'Emma Lim', isactive: false },
    ],
  ],
  [
    'area',
    [
      { code: 'KL', description: 'Kuala Lumpur' },
      { code: 'PJ', description: 'Petaling Jaya' },
      { code: 'PG', description: 'Penang' },
      { code: 'JB', description: 'Johor Bahru' },
    ],
  ],
  [
    'currency',
    [
      { code: 'MYR', description: 'Ringgit Malaysia', symbol: 'RM' },
      { code: 'USD', description: 'US Dollar', symbol: 'US$' },
      { code: 'SGD', description: 'Singapore Dollar', symbol: 'S$' },
    ],
  ],
  [
    'terms',
    [
      { code: 'C.O.D.', description: 'Cash on delivery', termday: 0 },
      { code: '30 DAYS', description: 'Net 30 days', termday: 30 },
      { code: '60 DAYS', description: 'Net 60 days', termday: 60 },
    ],
  ],
  [
    'taxcode',
    [
      { code: 'SV-8', description: 'Service tax 8%', taxtype: 'SV', taxrate: '8.00' },
      { code: 'SV-6', description: 'Service tax 6%', taxtype: 'SV', taxrate: '6.00' },
      { code: 'ST-10', description: 'Sales tax 10%', taxtype: 'ST', taxrate: '10.00' },
      { code: 'ST-5', description: 'Sales tax 5%', taxtype: 'ST', taxrate: '5.00' },
    ],
  ],
  [
    'account',
    [
      { code: '300-000', description: 'Trade Debtors', acctype: 'CA' },
      { code: '310-000', description: 'Cash at Bank - Maybank', acctype: 'CA' },
      { code: '320-000', description: 'Cash in Hand', acctype: 'CA' },
      { code: '400-000', description: 'Trade Creditors', acctype: 'CL' },
      { code: '500-000', description: 'Sales', acctype: 'SL' },
      { code: '610-000', description: 'Purchases', acctype: 'PU' },
      { code: '900-000', description: 'General Expenses', acctype: 'EP' },
      { code: '905-000', description: 'Rental', acctype: 'EP' },
    ],
  ],
  [
    'project',
    [
      { code: '----', description: 'General' },
      { code: 'SHOWROOM', description: 'Showroom renovation 2026' },
    ],
  ],
  [
    'location',
    [
      { code: '----', description: 'Main store' },
      { code: 'KL-WH', description: 'Kuala Lumpur warehouse', address1: 'Lot 12, Jalan Kepong' },
      { code: 'PG-WH', description: 'Penang warehouse', address1: '8, Lebuh Pantai' },
    ],
  ],
  [
    'stockgroup',
    [
      { code: 'FURN', description: 'Furniture', sales: '500-000', purchase: '610-000' },
      { code: 'RAW', description: 'Raw materials', purchase: '610-000' },
      { code: 'SERV', description: 'Services', sales: '500-000' },
    ],
  ],
  [
    'stockitem',
    [
      {
        code: 'ISCT',
        description: 'Industrial Style Round Coffee Table',
        stockgroup: 'FURN',
        refcost: '180.00',
        refprice: '250.00',
        sltax: 'ST-10',
        sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true, refprice: '250.00' }],
      },
      {
        code: 'OFD-16',
        description: 'Office Desk 1.6m',
        stockgroup: 'FURN',
        refcost: '320.00',
        refprice: '459.00',
        sdsuom: [
          { uom: 'UNIT', rate: '1', isbase: true, refprice: '459.00' },
          { uom: 'SET4', rate: '4', refprice: '1750.00' },
        ],
      },
      {
        code: 'ANT-CH',
        description: 'Antique Wooden Chair',
        stockgroup: 'FURN',
        refcost: '95.00',
        refprice: '149.90',
        sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true }],
      },
      {
        code: 'RM-04',
        description: 'Arm Rest',
        stockgroup: 'RAW',
        refcost: '12.50',
        refprice: '20.00',
        sdsuom: [
          { uom: 'PCS', rate: '1', isbase: true },
          { uom: 'BOX', rate: '12' },
        ],
      },
      {
        code: 'MISC',
        description: 'Miscellaneous',
        stockgroup: 'SERV',
        stockcontrol: false,
        sdsuom: [{ uom: 'UNIT', rate: '1', isbase: true }],
      },
    ],
  ],
  [
    'customer',
    [
      {
        code: '300-A0001',
        companyname: 'ABC Furniture Trading Sdn Bhd',
        controlaccount: '300-000',
        area: 'KL',
        agent: 'ALI',
        creditterm: '30 DAYS',
        currencycode: 'MYR',
        creditlimit: '50000.00',
        brn: '201901012345',
        tin: 'C12345678090',
        sdsbranch: [
          branch('BILLING', '12, Jalan Ampang', 'Kuala Lumpur', 'W.P. Kuala Lumpur', {
            phone1: '03-2161 0000',
            email: 'accounts@abcfurniture.example',
          }),
          branch('WAREHOUSE', 'Lot 5, Jalan Kepong', 'Kuala Lumpur', 'W.P. Kuala Lumpur', {
            branchtype: 'D',
          }),
        ],
      },
      {
        code: '300-B0001',
        companyname: 'Bayu Interior Design',
        controlaccount: '300-000',
        area: 'PJ',
        agent: 'BEN',
        creditterm: 'C.O.D.',
        sdsbranch: [branch('BILLING', '3, Jalan SS2/24', 'Petaling Jaya', 'Selangor')],
      },
      {
        code: '300-C0001',
        companyname: 'Cahaya Hotel Penang Bhd',
        controlaccount: '300-000',
        area: 'PG',
        agent: 'CHONG',
        creditterm: '60 DAYS',
        creditlimit: '120000.00',
        sdsbranch: [branch('BILLING', '88, Gurney Drive', 'George Town', 'Pulau Pinang')],
      },
      {
        code: '300-S0001',
        companyname: 'Straits Office Supplies Pte Ltd',
        controlaccount: '300-000',
        area: 'JB',
        agent: 'DEVI',
        currencycode: 'SGD',
        creditterm: '30 DAYS',
        sdsbranch: [branch('BILLING', '10 Anson Road', 'Singapore', 'Singapore', { country: 'Singapore' })],
      },
    ],
  ],
  [
    'supplier',
    [
      {
        code: '400-A0001',
        companyname: 'Asia Timber Industries Sdn Bhd',
        controlaccount: '400-000',
        area: 'JB',
        creditterm: '30 DAYS',
        sdsbranch: [branch('BILLING', 'PLO 21, Senai Industrial Park', 'Senai', 'Johor')],
      },
      {
        code: '400-B0001',
        companyname: 'Bintang Hardware Supply',
        controlaccount: '400-000',
        area: 'KL',
        creditterm: 'C.O.D.',
        sdsbranch: [branch('BILLING', '7, Jalan Pudu', 'Kuala Lumpur', 'W.P. Kuala Lumpur')],
      },
    ],
  ],
  [
    'salesquotation',
    [
      {
        docno: 'QT-00001',
        docdate: '2026-10-02',
        code: '300-C0001',
        description: 'Lobby furniture',
        sdsdocdetail: [
          { itemcode: 'ANT-CH', qty: '40', tax: 'ST-10' },
          { itemcode: 'ISCT', qty: '10', disc: '5%', tax: 'ST-10' },
        ],
      },
    ],
  ],
  [
    'salesorder',
    [
      {
        docno: 'SO-00001',
        docdate: '2026-10-05',
        code: '300-A0001',
        sdsdocdetail: [{ itemcode: 'OFD-16', qty: '8', tax: 'ST-10' }],
      },
    ],
  ],
  [
    'salesinvoice',
    [
      {
        docno: 'IV-00001',
        docdate: '2026-10-10',
        code: '300-A0001',
        description: 'Sales',
        sdsdocdetail: [
          { itemcode: 'ISCT', qty: '2', tax: 'ST-10' },
          { itemcode: 'OFD-16', qty: '4', disc: '10%', tax: 'ST-10' },
          { itemcode: 'MISC', description: 'Delivery and installation', unitprice: '80.00', tax: 'SV-8' },
        ],
      },
      {
        docno: 'IV-00002',
        docdate: '2026-10-18',
        code: '300-B0001',
        sdsdocdetail: [
          { itemcode: 'ANT-CH', qty: '6', tax: 'ST-10', taxinclusive: true, unitprice: '165.00' },
        ],
      },
      {
        docno: 'IV-00003',
        docdate: '2026-11-02',
        code: '300-S0001',
        currencyrate: '3.3150',
        description: 'Export order',
        sdsdocdetail: [{ itemcode: 'OFD-16', qty: '10', unitprice: '140.00' }],
      },
    ],
  ],
  [
    'cashsales',
    [
      {
        docno: 'CS-00001',
        docdate: '2026-11-05',
        code: '300-B0001',
        sdsdocdetail: [{ itemcode: 'ANT-CH', qty: '2', tax: 'ST-10' }],
      },
    ],
  ],
  [
    'purchaseinvoice',
    [
      {
        docno: 'PI-00001',
        docdate: '2026-09-28',
        code: '400-A0001',
        sdsdocdetail: [
          { itemcode: 'RM-04', qty: '120', uom: 'PCS' },
          { itemcode: 'ISCT', qty: '10' },
        ],
      },
    ],
  ],
  [
    'customerpayment',
    [
      {
        docno: 'OR-00001',
        docdate: '2026-11-09',
        code: '300-A0001',
        paymentmethod: '310-000',
        description: 'Part payment for IV-00001',
        docamt: '1500.00',
        sdsknockoff: [{ doctype: 'IV', docno: 'IV-00001', koamt: '1500.00' }],
      },
    ],
  ],
  [
    'journalentry',
    [
      {
        docno: 'JV-00001',
        docdate: '2026-10-31',
        description: 'October showroom rental',
        sdsdocdetail: [
          { code: '905-000', project: 'SHOWROOM', dr: '4500.00' },
          { code: '310-000', cr: '4500.00' },
        ],
      },
    ],
  ],
  [
    'stockreceived',
    [
      {
        docno: 'SR-00001',
        docdate: '2026-10-01',
        description: 'Opening stock',
        sdsdocdetail: [
          { itemcode: 'OFD-16', location: 'KL-WH', qty: '30' },
          { itemcode: 'ANT-CH', location: 'PG-WH', qty: '60' },
        ],
      },
    ],
  ],
];

export interface SeedResult {
  created: number;
  skipped: number;
  byResource: Record<string, number>;
}

/** Fill the tenant with the demo data; existing records are left alone. */
export async function seedDemoData(ctx: DataContext): Promise<SeedResult> {
  const result: SeedResult = { created: 0, skipped: 0, byResource: {} };
  for (const [name, records] of DEMO_DATA) {
    const def = resourceByName(name);
    if (!def) throw new Error(`demo data names an unknown resource ${name}`);
    for (const record of records) {
      try {
        await createRecord(ctx, def, record);
        result.created++;
        result.byResource[name] = (result.byResource[name] ?? 0) + 1;
      } catch (error) {
        if (error instanceof AppError && error.code === 'ALREADY_EXISTS') result.skipped++;
        else throw error;
      }
    }
  }
  return result;
}

/** Does the tenant hold any accounting data yet? (First-start seeding only fills an empty tenant.) */
export async function hasAccountingData(ctx: DataContext): Promise<boolean> {
  const row = await ctx.db
    .selectFrom('acc_agent')
    .select('code')
    .where('tenant_id', '=', ctx.tenantId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** LATCHKEY_DEMO_DATA=1: on start, fill the first tenant when it holds no accounting data yet. */
export async function seedDemoOnFirstStart(svc: Services): Promise<SeedResult | undefined> {
  if (!svc.config.demoData) return undefined;
  const first = await svc.db
    .selectFrom('tenants')
    .select('id')
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  if (!first) return undefined;
  const ctx: DataContext = {
    db: svc.db as unknown as DataDb,
    engine: svc.engine,
    clock: svc.clock,
    tenantId: first.id,
  };
  if (await hasAccountingData(ctx)) return undefined;
  const result = await seedDemoData(ctx);
  svc.logger.info(
    { tenantId: first.id, created: result.created },
    'LATCHKEY_DEMO_DATA: filled the first tenant with demo data',
  );
  return result;
}
