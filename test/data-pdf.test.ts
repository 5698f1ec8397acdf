/**
 * Documents as PDF, as SQL Account's print integrations fetch them: `GET /{document}/{dockey}` with
 * `Content-Type: application/pdf;template=<name>` (or the same media type in `Accept`) answers the
 * rendered document, whose text is read back here with a real PDF parser (pdfjs-dist).
 */
import { describe, expect, it } from 'vitest';
import { call, createUserWithLogin, type TestApp } from './helpers/app.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';
import { type Credentials, signHeaders } from './helpers/sign.js';

/** The text of every page (items joined by spaces, pages by newlines) and the document info. */
async function pdfText(
  bytes: Buffer,
): Promise<{ text: string; info: Record<string, unknown>; pages: number }> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const pdf = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, verbosity: 0 })
    .promise;
  try {
    const pages: string[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const content = await (await pdf.getPage(n)).getTextContent();
      pages.push(
        content.items
          .map((item) => ('str' in item ? item.str : ''))
          .filter((s) => s.trim() !== '')
          .join(' '),
      );
    }
    const meta = await pdf.getMetadata();
    return { text: pages.join('\n'), info: meta.info as Record<string, unknown>, pages: pdf.numPages };
  } finally {
    await pdf.destroy();
  }
}

/** "1234.50" → "1,234.50", as the documents print money. */
const grouped = (amount: string): string => {
  const [whole, fraction] = amount.split('.') as [string, string];
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
};

const get = (t: TestApp, url: string, headers: Record<string, string> = {}, token?: string) =>
  call(t, 'GET', url, { headers, ...(token === undefined ? {} : { token }) });

describeEachEngine('data API documents as PDF', (engine) => {
  describe('print', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    const one = async (resource: string, docno: string) => {
      const res = await data(t, 'GET', `/${resource}/*?docno=${docno}`);
      expect(res.status, res.raw.body).toBe(200);
      expect(res.body.data).toHaveLength(1);
      return res.body.data[0];
    };
    const tenantName = async () =>
      (
        await t.runtime.svc.db
          .selectFrom('tenants')
          .select('name')
          .where('id', '=', t.tenantId)
          .executeTakeFirstOrThrow()
      ).name;

    it('GET /salesinvoice/{dockey} with Content-Type: application/pdf;template=Default answers the invoice as a PDF', async () => {
      const invoice = await one('salesinvoice', 'IV-00001');
      const res = await get(t, `/salesinvoice/${invoice.dockey}`, {
        'content-type': 'application/pdf;template=Default',
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/pdf\b/);
      expect(res.headers['content-disposition']).toBe('inline; filename="IV-00001.pdf"');
      expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      const { text, info } = await pdfText(res.rawPayload);
      expect(text).toContain('IV-00001');
      expect(text).toContain('ABC Furniture Trading Sdn Bhd');
      expect(text).toContain('300-A0001');
      expect(text).toContain(await tenantName());
      expect(text).toContain('Sales Invoice');
      expect(text).toContain('2026-10-10');
      // Every detail row, and the totals: docamt, and the tax as the sum of the rows' taxamt.
      for (const row of invoice.sdsdocdetail) {
        expect(text).toContain(row.itemcode);
        expect(text).toContain(grouped(row.amount));
      }
      expect(text).toContain('Delivery and installation');
      expect(text).toContain(grouped(invoice.docamt));
      const tax = invoice.sdsdocdetail
        .reduce((sum: number, r: { taxamt: string }) => sum + Math.round(Number(r.taxamt) * 100), 0)
        .toString();
      expect(text).toContain(grouped(`${tax.slice(0, -2) || '0'}.${tax.slice(-2).padStart(2, '0')}`));
      // The document info: Title = docno, CreationDate from lastmodified (so a record renders the same).
      expect(info.Title).toBe('IV-00001');
      const created = new Date(invoice.lastmodified * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      expect(info.CreationDate).toBe(`D:${created}Z`);
      const again = await get(t, `/salesinvoice/${invoice.dockey}`, {
        'content-type': 'application/pdf;template=Default',
      });
      expect(again.rawPayload.equals(res.rawPayload)).toBe(true);
    });

    it('Accept: application/pdf asks for the same PDF; no template parameter is the default template', async () => {
      const invoice = await one('salesinvoice', 'IV-00001');
      const byContentType = await get(t, `/salesinvoice/${invoice.dockey}`, {
        'content-type': 'application/pdf;template=Default',
      });
      const variants: Array<Record<string, string>> = [
        { accept: 'application/pdf' },
        { accept: 'application/pdf;template=Default' },
        { accept: 'application/pdf; template="default"' },
        { accept: 'application/pdf;template=DEFAULT, */*;q=0.1' },
        { 'content-type': 'application/pdf' },
        { 'content-type': 'Application/PDF; Template=default' },
        // SQL Account clients often also send Accept: application/json; the Content-Type decides.
        { 'content-type': 'application/pdf;template=Default', accept: 'application/json' },
      ];
      for (const headers of variants) {
        const res = await get(t, `/salesinvoice/${invoice.dockey}`, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/pdf\b/);
        expect(res.rawPayload.equals(byContentType.rawPayload), JSON.stringify(headers)).toBe(true);
      }
      // The * form finds one document and prints it as well.
      const star = await get(t, '/salesinvoice/*?docno=IV-00001', { accept: 'application/pdf' });
      expect(star.statusCode).toBe(200);
      expect(star.rawPayload.equals(byContentType.rawPayload)).toBe(true);
    });

    it('a signed request (SigV4, the Content-Type header signed) gets the PDF', async () => {
      const key = (
        await call(t, 'POST', `/iam/users/${t.adminId}/keys`, { body: { name: 'printer' } })
      ).json();
      const creds: Credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      const invoice = await one('salesinvoice', 'IV-00002');
      const path = `/salesinvoice/${invoice.dockey}`;
      const headers = await signHeaders(creds, {
        method: 'GET',
        path,
        host: 'lk.test',
        headers: { 'content-type': 'application/pdf;template=Default' },
        date: t.clock.now(),
      });
      const res = await get(t, path, headers, '');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/pdf\b/);
      const { text } = await pdfText(res.rawPayload);
      expect(text).toContain('IV-00002');
      expect(text).toContain(grouped(invoice.docamt));
    });

    it('the alternative templates render and differ: Compact, and Without Prices for a delivery order', async () => {
      const created = await data(t, 'POST', '/deliveryorder', {
        docdate: '2026-11-12',
        code: '300-A0001',
        description: 'Deliver the chairs',
        address1: '12, Jalan Gudang Baru',
        address2: 'Taman Perindustrian',
        sdsdocdetail: [
          { itemcode: 'ANT-CH', qty: '3', unitprice: '123.45', tax: 'ST-10' },
          { itemcode: 'MISC', description: 'Assembly on site', qty: '1', unitprice: '67.89' },
        ],
      });
      expect(created.status, created.raw.body).toBe(201);
      const order = created.body.data[0];
      const url = `/deliveryorder/${order.dockey}`;
      const texts: Record<string, string> = {};
      const bytes: Record<string, Buffer> = {};
      for (const name of ['Default', 'Compact', 'Without Prices']) {
        const res = await get(t, url, { 'content-type': `application/pdf;template=${name}` });
        expect(res.statusCode, `${name}: ${res.body}`).toBe(200);
        expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
        bytes[name] = res.rawPayload;
        texts[name] = (await pdfText(res.rawPayload)).text;
        expect(texts[name]).toContain(order.docno);
        expect(texts[name]).toContain('ABC Furniture Trading Sdn Bhd');
        expect(texts[name]).toContain('ANT-CH');
        expect(texts[name]).toContain('Assembly on site');
      }
      expect(bytes.Default?.equals(bytes.Compact as Buffer)).toBe(false);
      expect(bytes.Default?.equals(bytes['Without Prices'] as Buffer)).toBe(false);
      // Prices and amounts are printed by Default and Compact, not by Without Prices.
      for (const price of ['123.45', '67.89', grouped(order.docamt)]) {
        expect(texts.Default).toContain(price);
        expect(texts.Compact).toContain(price);
        expect(texts['Without Prices']).not.toContain(price);
      }
      // Quantities still are.
      expect(texts['Without Prices']).toContain('3.0000');
      // Compact leaves out the party's address that Default prints.
      for (const line of ['12, Jalan Gudang Baru', 'Taman Perindustrian']) {
        expect(texts.Default).toContain(line);
        expect(texts.Compact).not.toContain(line);
      }
    });

    it('an unknown template is 400 VALIDATION_FAILED listing the templates; a master is not printable', async () => {
      const invoice = await one('salesinvoice', 'IV-00001');
      const unknown: Array<Record<string, string>> = [
        { 'content-type': 'application/pdf;template=Sales Invoice 8' },
        { accept: 'application/pdf;template="Invoice 1"' },
      ];
      for (const headers of unknown) {
        const res = await get(t, `/salesinvoice/${invoice.dockey}`, headers);
        expect(res.statusCode).toBe(400);
        expect(res.headers['content-type']).toMatch(/json/);
        const error = res.json().error;
        expect(error.code).toBe('VALIDATION_FAILED');
        for (const name of ['Default', 'Compact', 'Without Prices']) expect(error.message).toContain(name);
      }
      // Journal entries have no prices to leave out: their list has no Without Prices.
      const journal = await one('journalentry', 'JV-00001');
      const noSuch = await get(t, `/journalentry/${journal.dockey}`, {
        'content-type': 'application/pdf;template=Without Prices',
      });
      expect(noSuch.statusCode).toBe(400);
      expect(noSuch.json().error.message).toBe(
        'journalentry: no PDF template "Without Prices"; available templates: Default, Compact, GL Journal Voucher - Full',
      );

      for (const url of ['/agent/ALI', '/customer/300-A0001', '/agent/*?code=ALI']) {
        const asked: Array<Record<string, string>> = [
          { 'content-type': 'application/pdf' },
          { accept: 'application/pdf' },
        ];
        for (const headers of asked) {
          const res = await get(t, url, headers);
          expect(res.statusCode, url).toBe(400);
          expect(res.json().error).toMatchObject({
            code: 'VALIDATION_FAILED',
            message: 'PDF is available for documents only',
          });
        }
      }
      // A dockey that does not exist is still 404.
      const missing = await get(t, '/salesinvoice/999999', { 'content-type': 'application/pdf' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('NOT_FOUND');
    });

    it('a payment, a journal entry and a stock document render with their own detail', async () => {
      const payment = await one('customerpayment', 'OR-00001');
      const paid = await get(t, `/customerpayment/${payment.dockey}`, { accept: 'application/pdf' });
      expect(paid.statusCode, paid.body).toBe(200);
      const paidText = (await pdfText(paid.rawPayload)).text;
      expect(paidText).toContain('OR-00001');
      expect(paidText).toContain('Customer Payment');
      expect(paidText).toContain('ABC Furniture Trading Sdn Bhd');
      expect(paidText).toContain(payment.description);
      expect(paidText).toContain(grouped(payment.docamt));
      // Whatever its detail arrays are (accounts paid, documents knocked off), each row shows.
      const arrays = Object.values(payment).filter(Array.isArray) as Array<Array<Record<string, string>>>;
      expect(arrays.flat().length).toBeGreaterThan(0);
      for (const row of arrays.flat()) {
        const named = row.docno ?? row.account ?? row.code;
        if (named) expect(paidText).toContain(named);
      }

      const journal = await one('journalentry', 'JV-00001');
      const jv = await get(t, `/journalentry/${journal.dockey}`, {
        'content-type': 'application/pdf;template=Default',
      });
      expect(jv.statusCode, jv.body).toBe(200);
      const jvText = (await pdfText(jv.rawPayload)).text;
      expect(jvText).toContain('JV-00001');
      expect(jvText).toContain('Journal Entry');
      expect(jvText).toContain(journal.description);
      for (const row of journal.sdsdocdetail) expect(jvText).toContain(row.account ?? row.code);
      expect(jvText).toContain('4,500.00');
      expect(jvText).toContain('Debit');
      expect(jvText).toContain('Credit');

      const stock = await one('stockreceived', 'SR-00001');
      const sr = await get(t, `/stockreceived/${stock.dockey}`, {
        'content-type': 'application/pdf;template=compact',
      });
      expect(sr.statusCode, sr.body).toBe(200);
      const srText = (await pdfText(sr.rawPayload)).text;
      expect(srText).toContain('SR-00001');
      expect(srText).toContain(stock.description);
      for (const row of stock.sdsdocdetail) expect(srText).toContain(row.itemcode);
    });

    it('a foreign-currency invoice prints its local amount; text outside the built-in font still renders', async () => {
      const invoice = await one('salesinvoice', 'IV-00003');
      expect(invoice.currencyrate).not.toBe('1.0000');
      const res = await get(t, `/salesinvoice/${invoice.dockey}`, { accept: 'application/pdf' });
      const { text } = await pdfText(res.rawPayload);
      expect(text).toContain(grouped(invoice.docamt));
      expect(text).toContain(grouped(invoice.localdocamt));
      expect(text).toContain(invoice.currencyrate);

      const created = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-11-15',
        code: '300-A0001',
        description: 'Café 办公室 order',
        sdsdocdetail: [{ itemcode: 'MISC', description: 'Ünïcode ☃ row', unitprice: '10.00' }],
      });
      expect(created.status, created.raw.body).toBe(201);
      const odd = await get(t, `/salesinvoice/${created.body.data[0].dockey}`, { accept: 'application/pdf' });
      expect(odd.statusCode, odd.body).toBe(200);
      const oddText = (await pdfText(odd.rawPayload)).text;
      expect(oddText).toContain('Café');
      expect(oddText).toContain('Ünïcode');
    });

    it('without a PDF media type the answer is the JSON it always was', async () => {
      const invoice = await one('salesinvoice', 'IV-00001');
      const url = `/salesinvoice/${invoice.dockey}`;
      const plain = await get(t, url);
      expect(plain.statusCode).toBe(200);
      expect(plain.headers['content-type']).toMatch(/^application\/json/);
      expect(plain.json()).toEqual({ pagination: { count: 1, offset: 0, limit: 1 }, data: [invoice] });
      const variants: Array<Record<string, string>> = [
        // A body-less GET that names JSON, as many clients send on every request.
        { 'content-type': 'application/json' },
        { accept: 'application/json' },
        { accept: '*/*' },
        { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
        { accept: 'application/json, application/pdf' },
        { accept: 'application/pdf;q=0' },
        { 'content-type': 'text/plain' },
      ];
      for (const headers of variants) {
        const res = await get(t, url, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(200);
        expect(res.headers['content-type'], JSON.stringify(headers)).toMatch(/^application\/json/);
        expect(res.json()).toEqual(plain.json());
      }
      // A master without the header answers JSON as before too.
      expect((await get(t, '/agent/ALI', { 'content-type': 'application/json' })).json().data[0].code).toBe(
        'ALI',
      );
      // And the * form that finds nothing answers its empty JSON list, PDF asked or not.
      const none = await get(t, '/salesinvoice/*?docno=IV-99999', { accept: 'application/pdf' });
      expect(none.statusCode).toBe(200);
      expect(none.json()).toEqual({ pagination: { count: 0, offset: 0, limit: 1 }, data: [] });
    });

    it('permissions are unchanged: a key holding only agent:read is refused the PDF as it is the JSON', async () => {
      const role = (
        await call(t, 'POST', '/iam/roles', {
          body: { name: `Agents only ${engine}`, permissions: ['agent:read'] },
        })
      ).json();
      const user = await createUserWithLogin(t, `agents-${engine}@example.com`);
      const assigned = await call(t, 'PUT', `/iam/users/${user.id}/assignments`, {
        body: { roleIds: [role.id] },
      });
      expect(assigned.statusCode, assigned.body).toBe(200);
      const key = (await call(t, 'POST', `/iam/users/${user.id}/keys`, { body: { name: 'agents' } })).json();
      const creds: Credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      const invoice = await one('salesinvoice', 'IV-00001');
      const signed = async (path: string, headers: Record<string, string>) =>
        get(
          t,
          path,
          await signHeaders(creds, { method: 'GET', path, host: 'lk.test', headers, date: t.clock.now() }),
          '',
        );
      const variants: Array<Record<string, string>> = [
        {},
        { 'content-type': 'application/pdf;template=Default' },
        { accept: 'application/pdf' },
      ];
      for (const headers of variants) {
        const res = await signed(`/salesinvoice/${invoice.dockey}`, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(403);
        expect(res.json().error).toMatchObject({
          code: 'AccessDenied',
          missingPermission: 'salesinvoice:read',
        });
      }
      // What the key may read it still reads; a master is still no PDF.
      expect((await signed('/agent/ALI', {})).statusCode).toBe(200);
      expect((await signed('/agent/ALI', { accept: 'application/pdf' })).statusCode).toBe(400);
    });

    it('the OpenAPI document shows the PDF answer of documents, and only theirs', async () => {
      const doc = (await get(t, '/openapi.json')).json();
      const invoiceGet = doc.paths['/salesinvoice/{dockey}'].get;
      expect(Object.keys(invoiceGet.responses['200'].content)).toEqual([
        'application/json',
        'application/pdf',
      ]);
      expect(invoiceGet.responses['200'].content['application/pdf'].schema).toEqual({
        type: 'string',
        format: 'binary',
      });
      expect(invoiceGet.description).toContain('application/pdf;template=');
      expect(invoiceGet.description).toContain('Without Prices');
      const agentGet = doc.paths['/agent/{code}'].get;
      expect(Object.keys(agentGet.responses['200'].content)).toEqual(['application/json']);
    });
  });
});

describe('the renderer reads the layout from the registry and the record', () => {
  it('prints a detail array the registry does not describe as a table of its rows’ fields', async () => {
    const { resourceByName } = await import('../src/accounting/registry.js');
    const { renderDocumentPdf } = await import('../src/accounting/pdf/render.js');
    const { pdfTemplate } = await import('../src/accounting/pdf/templates.js');
    const def = resourceByName('customerpayment');
    if (!def) throw new Error('no customerpayment');
    const record = {
      dockey: 7,
      docno: 'OR-00077',
      docdate: '2026-11-20',
      code: '300-A0001',
      companyname: 'ABC Furniture Trading Sdn Bhd',
      description: 'Settles two invoices',
      docamt: '1750.00',
      localdocamt: '1750.00',
      currencyrate: '1.0000',
      lastmodified: 1_790_000_000,
      sdsknockoff_test: [
        { dtlkey: 1, dockey: 7, seq: 1000, doctype: 'IV', docno: 'IV-00001', koamt: '1500.00' },
        { dtlkey: 2, dockey: 7, seq: 2000, doctype: 'DN', docno: 'DN-00009', koamt: '250.00' },
      ],
    };
    const bytes = await renderDocumentPdf({
      def,
      record,
      companyName: 'Printer Test Sdn Bhd',
      template: pdfTemplate(def, undefined),
    });
    const { text, info } = await pdfText(bytes);
    expect(info.Title).toBe('OR-00077');
    expect(text).toContain('Printer Test Sdn Bhd');
    expect(text).toContain('Knockoff Test');
    expect(text).toContain('Doc. No.');
    for (const s of ['IV-00001', 'DN-00009', '1,500.00', '250.00', '1,750.00']) expect(text).toContain(s);
    // Its money column is totalled; the rows' keys and order are not printed.
    expect(text).toMatch(/Total\s+1,750\.00/);
    expect(text).not.toContain('2000');
  });
});
