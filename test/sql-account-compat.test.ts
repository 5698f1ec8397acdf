/**
 * The SQL Account compatibility suite: request bodies shaped exactly like the ones public SQL
 * Account clients send (test/fixtures/sql-account/, each file's source in its README), replayed
 * on both engines, with the answers those clients expect. The flow follows the clients: create
 * a customer and a stock item, invoice, knock the invoice off with a payment, read records back
 * and send them back, address stock items by dockey, use the real resource names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from './helpers/app.js';
import { data, secondTenantAdmin, userWithRole } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'sql-account');

type Json = Record<string, unknown>;

/** A fixture with its `{{path}}` placeholders replaced (a whole-string placeholder keeps the value's type). */
function fixture(name: string, values: Record<string, unknown> = {}): Json {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^\{\{(.+)\}\}$/.exec(v);
      if (m) {
        const key = m[1] as string;
        if (!(key in values)) throw new Error(`${name}: no value for ${v}`);
        return values[key];
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'))) as Json;
}

describeEachEngine('SQL Account client payloads', (engine) => {
  describe('replayed', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    const created = async (p: string, body: Json) => {
      const res = await data(t, 'POST', p, body);
      expect(res.status, `${p}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.data[0] as Json;
    };
    const updated = async (p: string, body: Json) => {
      const res = await data(t, 'PUT', p, body);
      expect(res.status, `${p}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.data[0] as Json;
    };
    const one = async (p: string) => {
      const res = await data(t, 'GET', p);
      expect(res.status, `${p}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.data[0] as Json;
    };

    it('agents: the official samples create, then update without updatecount', async () => {
      const agent = await created('/agent', fixture('agent-create.json'));
      expect(agent).toMatchObject({ code: 'FAIRY', isactive: true, updatecount: 1 });
      const after = await updated('/agent/FAIRY', fixture('agent-update.json'));
      expect(after.updatecount).toBe(2);
      expect(after.description).toBe((fixture('agent-update.json') as { description: string }).description);
      // When a master's update does send updatecount, the +1 rule applies.
      const stale = await data(t, 'PUT', '/agent/FAIRY', { description: 'x', updatecount: 2 });
      expect(stale.status).toBe(409);
      expect(stale.body.error.message).toBe('Record has been changed by other users.');
    });

    it('customers: the full integration body (creditterm, e-invoice identity, flags) is stored and answered', async () => {
      const body = fixture('customer-create.json');
      const customer = await created('/customer', body);
      for (const f of [
        'creditterm',
        'overduelimit',
        'statementtype',
        'allowexceedcreditlimit',
        'addpdctocrlimit',
        'agingon',
        'creationdate',
        'tin',
        'idtype',
        'idno',
        'submissiontype',
        'status',
        'dirty',
      ]) {
        expect(customer[f], f).toEqual(body[f]);
      }
      // currencycode "" means the home currency: no reference to check.
      expect(customer.currencycode).toBe('');
      const branch = (customer.sdsbranch as Json[])[0] as Json;
      expect(branch).toMatchObject({ code: '300-T0001', branchname: 'BILLING', country: 'MY', fax2: '' });
      // Filtering the list on a field real clients filter on.
      const byTin = await data(t, 'GET', '/customer/?tin=C20987654321');
      expect(byTin.body.data.map((c: Json) => c.code)).toEqual(['300-T0001']);

      // A branch row without a branchname (a point-of-sale client's walk-in customer).
      await created('/customer', fixture('customer-create-minimal.json'));

      const update = fixture('customer-update.json', { 'customer.sdsbranch[0].dtlkey': branch.dtlkey });
      const after = await updated('/customer/300-T0001', update);
      expect(after).toMatchObject({ creditterm: '30 DAYS', creditlimit: '20000.00', updatecount: 2 });
      expect((after.sdsbranch as Json[]).map((b) => [b.dtlkey, b.city])).toEqual([
        [branch.dtlkey, 'Kuala Lumpur'],
      ]);
      // The older latchkey name `terms` still writes creditterm.
      expect((await updated('/customer/300-T0001', { terms: 'C.O.D.' })).creditterm).toBe('C.O.D.');
    });

    it('stock items: addressed by dockey for GET, PUT and DELETE; the code finds the dockey', async () => {
      const item = await created('/stockitem', fixture('stockitem-create.json'));
      expect(Number.isInteger(item.dockey)).toBe(true);
      expect(item).toMatchObject({ code: 'LTB-12', sltax: 'ST-10', costingmethod: 1 });
      const found = await data(t, 'GET', '/stockitem/*?code=LTB-12');
      expect(found.body.data[0].dockey).toBe(item.dockey);
      // Filters as the clients write them: a wildcard, a range, a camel-case name.
      const byPrefix = await data(t, 'GET', '/stockitem/?code=LTB*&description=*lamp*');
      expect(byPrefix.body.data.map((i: Json) => i.code)).toEqual(['LTB-12']);
      const invoices = await data(t, 'GET', '/salesinvoice/?docdate=2026-10-01~2026-10-31');
      expect(invoices.body.data.map((i: Json) => i.docno)).toEqual(['IV-00001', 'IV-00002']);
      expect((await data(t, 'GET', '/salesinvoice/*?docNo=IV-00002')).body.data[0].docno).toBe('IV-00002');
      const uoms = item.sdsuom as Json[];
      const update = fixture('stockitem-update.json', {
        'stockitem.dockey': item.dockey,
        'stockitem.sdsuom[0].dtlkey': (uoms[0] as Json).dtlkey,
        'stockitem.sdsuom[1].dtlkey': (uoms[1] as Json).dtlkey,
      });
      const after = await updated(`/stockitem/${item.dockey}`, update);
      expect(after).toMatchObject({ refprice: '339.00', updatecount: 2 });
      expect((after.sdsuom as Json[]).map((u) => [u.uom, u.refprice])).toEqual([
        ['UNIT', '339.00'],
        ['PAIR', '660.00'],
      ]);
      // A dockey in the body that is not the record's is refused, naming it.
      const wrong = await data(t, 'PUT', `/stockitem/${item.dockey}`, {
        dockey: Number(item.dockey) + 1000,
        refprice: '1',
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.message).toContain('dockey');
      // The code cannot be changed (documents refer to items by code).
      expect((await data(t, 'PUT', `/stockitem/${item.dockey}`, { code: 'LTB-13' })).status).toBe(400);
      expect((await data(t, 'GET', '/stockitem/LTB-12')).status).toBe(404);

      // Customer prices: the whole array, quantities and prices as JSON numbers.
      const isct = (await data(t, 'GET', '/stockitem/*?code=ISCT')).body.data[0];
      const priced = await updated(
        `/stockitem/${isct.dockey}`,
        fixture('stockitem-customerprice-update.json'),
      );
      expect((priced.sdscustomerprice as Json[]).map((p) => [p.qty, p.stockvalue])).toEqual([
        ['1.0000', '239.00000000'],
        ['10.0000', '225.00000000'],
      ]);

      const gone = await data(t, 'DELETE', `/stockitem/${item.dockey}`);
      expect(gone.status).toBe(204);
      expect((await data(t, 'GET', `/stockitem/${item.dockey}`)).status).toBe(404);
    });

    it('invoice, knock-off payment, credit note: what is outstanding follows, over-knocking is refused', async () => {
      // The integration's invoice: docno "" and dockey 0 ask for the next number; computed
      // fields it sends (docamt, amount, taxamt, localamount) are ignored on create.
      const invoice = await created('/salesinvoice', fixture('salesinvoice-create.json'));
      expect(invoice.docno).toMatch(/^IV-\d{5}$/);
      expect(invoice).toMatchObject({
        docamt: '636.40',
        outstanding: '636.40',
        tin: 'C12345678090',
        idtype: 2,
      });
      const lines = invoice.sdsdocdetail as Json[];
      expect(lines.map((l) => [l.seq, l.amount, l.taxamt, l.localamount, l.amountwithtax])).toEqual([
        [1, '500.00', '50.00', '500.00', '550.00'],
        [2, '80.00', '6.40', '80.00', '86.40'],
      ]);
      // "----" is SQL Account's "none" code: no agent, no error.
      const dashes = await created('/salesinvoice', fixture('salesinvoice-create-dashes.json'));
      expect(dashes.agent).toBe('----');

      const values = {
        'invoice.docno': invoice.docno,
        'invoice.dockey': invoice.dockey,
        'invoice.docdate': invoice.docdate,
        'invoice.docamt': invoice.docamt,
      };
      // A partial credit note first (55.00 of 636.40), then the payment of the rest fails…
      const credit = await created('/customercreditnote', fixture('customercreditnote-create.json', values));
      expect(credit).toMatchObject({ docamt: '55.00', outstanding: '0.00' });
      expect((credit.sdsknockoff as Json[])[0]).toMatchObject({
        doctype: 'IV',
        docno: invoice.docno,
        refresource: 'salesinvoice',
        koamt: '55.00',
        outstanding: '581.40',
      });
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('581.40');
      const over = await data(t, 'POST', '/customerpayment', fixture('customerpayment-create.json', values));
      expect(over.status).toBe(400);
      expect(over.body.error.message).toContain('over-knocked');
      // Clients read the top-level message; latchkey's own envelope is there too.
      expect(over.body.message).toBe(over.body.error.message);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('581.40');

      // …and the payment of what is outstanding settles it.
      const paid = fixture('customerpayment-create.json', { ...values, 'invoice.docamt': '581.40' });
      const payment = await created('/customerpayment', paid);
      expect(payment).toMatchObject({ docamt: '581.40', unappliedamt: '0.00', journal: 'BANK', bankacc: 0 });
      const ko = (payment.sdsknockoff as Json[])[0] as Json;
      expect(ko).toMatchObject({
        doctype: 'IV',
        docno: invoice.docno,
        refdockey: invoice.dockey,
        koamt: '581.40',
      });
      expect(ko.outstanding).toBe('0.00');
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('0.00');

      // The minimal client's payment against the settled invoice: over-knocked.
      const again = await data(
        t,
        'POST',
        '/customerpayment',
        fixture('customerpayment-create-minimal.json', values),
      );
      expect(again.status).toBe(400);

      // A settled invoice cannot be deleted; deleting the payment reopens it.
      expect((await data(t, 'DELETE', `/salesinvoice/${invoice.dockey}`)).status).toBe(409);
      expect((await data(t, 'DELETE', `/customerpayment/${payment.dockey}`)).status).toBe(204);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('581.40');

      // The minimal client pays part: 300.00 of 581.40.
      const part = await created('/customerpayment', fixture('customerpayment-create-minimal.json', values));
      expect(part).toMatchObject({ docno: 'OR-WEB-10045-CASH', unappliedamt: '0.00' });
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('281.40');

      // Knocking off another customer's invoice, or more than the payment, is refused.
      const other = (await data(t, 'GET', '/salesinvoice/*?docno=IV-00002')).body.data[0];
      const foreign = await data(t, 'POST', '/customerpayment', {
        code: '300-A0001',
        docdate: '2026-11-30',
        paymentmethod: '310-000',
        docamt: '10.00',
        sdsknockoff: [{ doctype: 'IV', docno: other.docno, koamt: '10.00' }],
      });
      expect(foreign.status).toBe(400);
      expect(foreign.body.error.message).toContain('300-B0001');
      const tooMuch = await data(t, 'POST', '/customerpayment', {
        code: '300-A0001',
        docdate: '2026-11-30',
        paymentmethod: '310-000',
        docamt: '10.00',
        sdsknockoff: [{ doctype: 'IV', docno: invoice.docno, koamt: '20.00' }],
      });
      expect(tooMuch.status).toBe(400);
      expect(tooMuch.body.error.message).toContain('more than the docamt');
      // An unapplied payment: docamt 100, knocks off 40 of the invoice.
      const loose = await created('/customerpayment', {
        code: '300-A0001',
        docdate: '2026-11-30',
        paymentmethod: '310-000',
        docamt: '100.00',
        sdsknockoff: [{ doctype: 'IV', docno: invoice.docno, koamt: '40.00' }],
      });
      expect(loose.unappliedamt).toBe('60.00');
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('241.40');
      // Cancelling it releases the knock-off.
      const cancelled = await updated(`/customerpayment/${loose.dockey}`, {
        cancelled: true,
        updatecount: 2,
      });
      expect(cancelled.cancelled).toBe(true);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('281.40');
    });

    it('refunds and contras use the same model: a refund takes back what a payment left unapplied', async () => {
      const payment = await created('/customerpayment', {
        code: '300-B0001',
        docdate: '2026-11-30',
        paymentmethod: '310-000',
        docamt: '100.00',
      });
      expect(payment.unappliedamt).toBe('100.00');
      const refund = await created('/customerrefund', {
        code: '300-B0001',
        docdate: '2026-12-01',
        paymentmethod: '310-000',
        docamt: '30.00',
        sdsknockoff: [{ doctype: 'PM', docno: payment.docno, koamt: '30.00' }],
      });
      expect(refund.outstanding).toBe('0.00');
      expect((await one(`/customerpayment/${payment.dockey}`)).unappliedamt).toBe('70.00');
      // A refund cannot settle an invoice; a contra can.
      const iv2 = await one('/salesinvoice/*?docno=IV-00002');
      const wrongType = await data(t, 'POST', '/customerrefund', {
        code: '300-B0001',
        docdate: '2026-12-01',
        docamt: '5.00',
        sdsknockoff: [{ doctype: 'IV', docno: iv2.docno, koamt: '5.00' }],
      });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.error.message).toContain('must be one of CN, PM, DP');
      const contra = await created('/customercontra', {
        code: '300-B0001',
        docdate: '2026-12-01',
        docamt: '5.00',
        sdsknockoff: [{ doctype: 'IV', docno: iv2.docno, koamt: '5.00' }],
      });
      expect((contra.sdsknockoff as Json[])[0]?.outstanding).toBe((Number(iv2.outstanding) - 5).toFixed(2));
      // The supplier side mirrors it.
      const pi = await one('/purchaseinvoice/*?docno=PI-00001');
      const paid = await created('/supplierpayment', {
        code: '400-A0001',
        docdate: '2026-12-01',
        paymentmethod: '310-000',
        docamt: '10.00',
        sdsknockoff: [{ doctype: 'IV', docno: pi.docno, koamt: '10.00' }],
      });
      expect((paid.sdsknockoff as Json[])[0]?.refresource).toBe('purchaseinvoice');
    });

    it('payments racing for one invoice: exactly one settles it, the rest are refused', async () => {
      const invoice = await created('/salesinvoice', {
        docdate: '2026-11-30',
        code: '300-C0001',
        sdsdocdetail: [{ itemcode: 'MISC', unitprice: '100.00' }],
      });
      // Payments and contras: two resources, so their numbering does not serialise them.
      const pay = (_: unknown, i: number) =>
        data(t, 'POST', i % 2 === 0 ? '/customerpayment' : '/customercontra', {
          code: '300-C0001',
          docdate: '2026-11-30',
          docamt: '100.00',
          sdsknockoff: [{ doctype: 'IV', docno: invoice.docno, koamt: '100.00' }],
        });
      const results = await Promise.all(Array.from({ length: 6 }, pay));
      expect(results.map((r) => r.status).sort()).toEqual([201, 400, 400, 400, 400, 400]);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe('0.00');
    });

    it('a record read from the API can be sent back; a changed computed field is a 400 naming it', async () => {
      const invoice = await one('/salesinvoice/*?docno=IV-00002');
      const back = await updated(`/salesinvoice/${invoice.dockey}`, {
        ...invoice,
        description: 'sent back',
        updatecount: Number(invoice.updatecount) + 1,
      });
      expect(back.description).toBe('sent back');
      expect(back.docamt).toBe(invoice.docamt);
      const changed = await data(t, 'PUT', `/salesinvoice/${invoice.dockey}`, {
        ...back,
        docamt: '1.00',
        updatecount: Number(back.updatecount) + 1,
      });
      expect(changed.status).toBe(400);
      expect(changed.body.error.message).toContain('docamt is computed by the server');
      // A line sent back with a new quantity and its old amount: the amount follows the quantity.
      const lines = back.sdsdocdetail as Json[];
      const requantified = await updated(`/salesinvoice/${invoice.dockey}`, {
        updatecount: Number(back.updatecount) + 1,
        sdsdocdetail: [{ ...lines[0], qty: '1' }],
      });
      expect((requantified.sdsdocdetail as Json[])[0]?.qty).toBe('1.0000');
      // Clients echo a line's taxrate as "10%" or "": both read as what they mean.
      const line = (requantified.sdsdocdetail as Json[])[0] as Json;
      const echoed = await updated(`/salesinvoice/${invoice.dockey}`, {
        updatecount: Number(requantified.updatecount) + 1,
        sdsdocdetail: [{ ...line, taxrate: `${Number(line.taxrate)}%` }],
      });
      expect((echoed.sdsdocdetail as Json[])[0]?.taxrate).toBe(line.taxrate);
    });

    it('journal entry, payment vouchers, sales order and the widest quotation body are accepted', async () => {
      const jv = await created('/journalentry', fixture('journalentry-create.json'));
      expect(jv).toMatchObject({ journal: 'GENERAL', docamt: '4500.00', currencycode: '----' });
      expect((jv.sdsdocdetail as Json[]).map((l) => [l.code, l.dr, l.cr])).toEqual([
        ['905-000', '4500.00', '0.00'],
        ['310-000', '0.00', '4500.00'],
      ]);
      const pv = await created('/paymentvoucher', fixture('paymentvoucher-create.json'));
      expect(pv).toMatchObject({ doctype: 'PV', docamt: '186.50', paymentmethod: '320-000' });
      expect((pv.sdsdocdetail as Json[])[0]).toMatchObject({ code: '900-000', currencyamount: '186.50' });
      await created('/paymentvoucher', fixture('paymentvoucher-create-minimal.json'));
      const so = await created('/salesorder', fixture('salesorder-create.json'));
      expect(so.docno).toMatch(/^SO-/);
      const qt = await created('/salesquotation', fixture('salesquotation-create-full.json'));
      expect(qt.docno).toBe('QT-80001');
    });

    it('print integrations: the official sample asks for a report by name in Content-Type and checks %PDF-', async () => {
      const invoice = await one('/salesinvoice/*?docno=IV-00001');
      const res = await call(t, 'GET', `/salesinvoice/${invoice.dockey}`, {
        headers: { 'content-type': 'application/pdf;template=Sales Invoice 8 (SST 1)' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/pdf/);
      expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      const journal = await one('/journalentry/*?docno=JV-00001');
      const jv = await call(t, 'GET', `/journalentry/${journal.dockey}`, {
        headers: { 'content-type': 'application/pdf;template=GL Journal Voucher - Full' },
      });
      expect(jv.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      // A report this resource does not have: 400 listing the names there are, with a top-level message.
      const unknown = await call(t, 'GET', `/salesinvoice/${invoice.dockey}`, {
        headers: { 'content-type': 'application/pdf;template=Purchase Invoice 8 (SST 1)' },
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error.message).toContain('Sales Invoice 8 (SST 1)');
    });

    it("SQL Account's resource names work beside latchkey's, with the same records and permissions", async () => {
      const taxes = await data(t, 'GET', '/tax/');
      expect(taxes.status).toBe(200);
      const byCode = await data(t, 'GET', '/taxcode/');
      const byCodeOrder = (list: Json[]) =>
        [...list].sort((a, b) => String(a.code).localeCompare(String(b.code)));
      expect(byCodeOrder(taxes.body.data)).toEqual(byCodeOrder(byCode.body.data));
      const st10 = taxes.body.data.find((x: Json) => x.code === 'ST-10');
      expect(Number.isInteger(st10.autokey)).toBe(true);
      expect((await one(`/tax/${st10.autokey}`)).code).toBe('ST-10');
      expect((await data(t, 'GET', '/tax/ST-10')).status).toBe(404);
      const tax = await created('/tax', { code: 'ZR', description: 'Zero rated', taxrate: 0 });
      expect((await one('/taxcode/ZR')).autokey).toBe(tax.autokey);
      expect((await data(t, 'GET', '/receiptvoucher/')).body).toEqual(
        (await data(t, 'GET', '/officialreceipt/')).body,
      );
      const returned = await created('/purchasereturned', {
        docdate: '2026-11-30',
        code: '400-A0001',
        sdsdocdetail: [{ itemcode: 'RM-04', qty: '2' }],
      });
      expect((await one(`/purchasereturn/${returned.dockey}`)).docno).toBe(returned.docno);
      // Shippers are addressed by autokey, as in SQL Account; documents name them by code.
      const shipper = await created('/shipper', {
        code: 'GDEX',
        description: 'GDEX Express',
        account: 'A-77',
      });
      expect(Number.isInteger(shipper.autokey)).toBe(true);
      expect((await one(`/shipper/${shipper.autokey}`)).code).toBe('GDEX');
      const shipped = await created('/deliveryorder', {
        docdate: '2026-11-30',
        code: '300-A0001',
        shipper: 'GDEX',
        sdsdocdetail: [{ itemcode: 'ISCT' }],
      });
      expect(shipped.shipper).toBe('GDEX');
      for (const name of [
        'customerinvoice',
        'customerdebitnote',
        'customerdeposit',
        'customerrefund',
        'customercontra',
        'supplierinvoice',
        'suppliercreditnote',
        'supplierdebitnote',
        'supplierdeposit',
        'supplierrefund',
        'suppliercontra',
        'purchasedebitnote',
        'cashpurchase',
        'salescancellednote',
        'purchaserequest',
        'bankadjustment',
        'stockcategory',
        'companycategory',
        'shipper',
        'pricetag',
      ]) {
        expect((await data(t, 'GET', `/${name}/`)).status, name).toBe(200);
      }
    });

    it('the new paths keep the security model: tenants, permissions, aliases', async () => {
      const other = await secondTenantAdmin(t, `compat-other-${engine}@example.com`);
      const item = (await data(t, 'GET', '/stockitem/*?code=ISCT')).body.data[0];
      expect((await data(t, 'GET', `/stockitem/${item.dockey}`, undefined, other.token)).status).toBe(404);
      const st10 = (await data(t, 'GET', '/tax/*?code=ST-10')).body.data[0];
      expect((await data(t, 'GET', `/tax/${st10.autokey}`, undefined, other.token)).status).toBe(404);
      // Another tenant cannot knock off this tenant's invoice, even naming its number and dockey.
      await data(t, 'POST', '/customer', { code: '300-A0001', companyname: 'Namesake' }, other.token);
      const invoice = (await data(t, 'GET', '/salesinvoice/*?docno=IV-00001')).body.data[0];
      const foreign = await data(
        t,
        'POST',
        '/customerpayment',
        {
          code: '300-A0001',
          docdate: '2026-11-30',
          docamt: '1.00',
          sdsknockoff: [{ doctype: 'IV', docno: invoice.docno, refdockey: invoice.dockey, koamt: '1.00' }],
        },
        other.token,
      );
      expect(foreign.status).toBe(422);
      expect((await one(`/salesinvoice/${invoice.dockey}`)).outstanding).toBe(invoice.outstanding);
      // An alias needs its resource's permissions: DataReadOnly reads /tax/ and writes nothing.
      const reader = await userWithRole(t, `compat-reader-${engine}@example.com`, 'DataReadOnly');
      expect((await data(t, 'GET', '/tax/', undefined, reader.token)).status).toBe(200);
      const write = await data(t, 'POST', '/tax', { code: 'NO', description: 'no' }, reader.token);
      expect(write.status).toBe(403);
      expect(write.body.error.message).toContain('taxcode:write');
      const pay = await data(
        t,
        'POST',
        '/customerpayment',
        { code: '300-A0001', docdate: '2026-11-30', docamt: '1.00' },
        reader.token,
      );
      expect(pay.status).toBe(403);
    });

    it('udf_* fields are stored per record and row; a misspelled field is a 400 naming close matches', async () => {
      const agent = await created('/agent', {
        code: 'UDF1',
        description: 'Custom',
        udf_region: 'North',
        udf_quota: 12,
      });
      expect(agent).toMatchObject({ udf_region: 'North', udf_quota: 12 });
      const after = await updated('/agent/UDF1', { udf_region: 'South' });
      expect(after).toMatchObject({ udf_region: 'South', udf_quota: 12 });
      const order = await created('/salesorder', {
        docdate: '2026-11-30',
        code: '300-A0001',
        udf_status: 'OPEN',
        sdsdocdetail: [{ itemcode: 'ISCT', udf_colour: 'teak' }],
      });
      expect(order.udf_status).toBe('OPEN');
      expect((order.sdsdocdetail as Json[])[0]?.udf_colour).toBe('teak');
      expect((await one(`/salesorder/${order.dockey}`)).udf_status).toBe('OPEN');
      const bad = await data(t, 'POST', '/agent', { code: 'UDF2', description: 'x', udf_list: [1] });
      expect(bad.status).toBe(400);

      const typo = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-11-30',
        code: '300-A0001',
        docref: 'x',
        descripton: 'y',
      });
      expect(typo.status).toBe(400);
      expect(typo.body.error.message).toContain(
        'docref is not a field of this resource; did you mean docref1',
      );
      expect(typo.body.error.message).toContain('did you mean description');
    });
  });
});
