/**
 * Data API rules on both engines: decimals and computed totals, numbering series (also under
 * concurrent POSTs), referenced codes, duplicates, bad bodies, tenant separation, permissions.
 */
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/accounting/registry.js';
import { DATA_RESOURCES } from '../src/identity/permissions.js';
import { call, loginWithKey } from './helpers/app.js';
import { data, secondTenantAdmin, userWithRole } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

it('the registry defines exactly the permission catalogue’s data resources', () => {
  expect(RESOURCES.map((r) => r.name).sort()).toEqual([...DATA_RESOURCES].sort());
  for (const r of RESOURCES) {
    expect(r.permissions).toEqual({ read: `${r.name}:read`, write: `${r.name}:write` });
    for (const f of r.indexed) expect(r.fields.some((x) => x.name === f)).toBe(true);
  }
});

describeEachEngine('data API rules', (engine) => {
  describe('rules', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    const countOf = async (path: string) => (await data(t, 'GET', path)).body.data.length as number;

    it('computes line amounts, discounts, taxes, docamt and localdocamt in exact decimals', async () => {
      const res = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-11-21',
        code: '300-S0001',
        currencyrate: '3.3150',
        docamt: '999.99',
        sdsdocdetail: [
          { itemcode: 'MISC', qty: '3', unitprice: '19.99', disc: '10%+5', tax: 'SV-8', amount: '1.00' },
          { itemcode: 'MISC', qty: '0.1', unitprice: '0.2' },
          { itemcode: 'MISC', qty: '0.2', unitprice: '0.1' },
          { itemcode: 'ANT-CH', qty: 2, unitprice: 108, tax: 'ST-10', taxinclusive: true },
        ],
      });
      expect(res.status).toBe(201);
      const doc = res.body.data[0];
      const [a, b, c, d] = doc.sdsdocdetail;
      // 3 × 19.99 = 59.97; −10% = 53.973; −5 = 48.973 → 48.97; tax 8% = 3.92
      expect(a).toMatchObject({
        qty: '3.0000',
        unitprice: '19.9900',
        amount: '48.97',
        taxrate: '8.00',
        taxamt: '3.92',
      });
      expect(b.amount).toBe('0.02');
      expect(c.amount).toBe('0.02');
      // 216.00 tax-inclusive at 10%: tax = 216 × 10 / 110 = 19.64, amount = 196.36
      expect(d).toMatchObject({ qty: '2.0000', unitprice: '108.0000', taxamt: '19.64', amount: '196.36' });
      // 48.97 + 3.92 + 0.02 + 0.02 + 196.36 + 19.64 = 268.93 (the client's docamt is ignored)
      expect(doc.docamt).toBe('268.93');
      // 268.93 × 3.3150 = 891.502... → 891.50
      expect(doc.localdocamt).toBe('891.50');
      expect(doc.currencycode).toBe('SGD');
      expect(doc.postdate).toBe('2026-11-21');
      expect(typeof doc.docamt).toBe('string');
    });

    it('stock, voucher and journal documents compute their totals; an unbalanced journal is refused', async () => {
      const sr = await data(t, 'POST', '/stockreceived', {
        docdate: '2026-11-21',
        sdsdocdetail: [{ itemcode: 'RM-04', qty: '24', unitprice: '12.5' }, { itemcode: 'ISCT' }],
      });
      expect(sr.body.data[0].sdsdocdetail.map((r: { amount: string }) => r.amount)).toEqual([
        '300.00',
        '180.00',
      ]);
      expect(sr.body.data[0].docamt).toBe('480.00');
      // The older name unitcost still reads as unitprice.
      const old = await data(t, 'POST', '/stockissue', {
        docdate: '2026-11-21',
        sdsdocdetail: [{ itemcode: 'RM-04', qty: '2', unitcost: '12.5' }],
      });
      expect(old.body.data[0].sdsdocdetail[0]).toMatchObject({ unitprice: '12.5000', amount: '25.00' });
      expect(old.body.data[0].sdsdocdetail[0].unitcost).toBeUndefined();
      const pv = await data(t, 'POST', '/paymentvoucher', {
        docdate: '2026-11-21',
        paymentmethod: '310-000',
        sdsdocdetail: [
          { code: '900-000', amount: '1000.5', tax: 'SV-8' },
          { code: '905-000', amount: '20' },
        ],
      });
      expect(pv.status).toBe(201);
      expect(pv.body.data[0].docamt).toBe('1100.54');
      expect(pv.body.data[0].sdsdocdetail[0]).toMatchObject({ code: '900-000', taxamt: '80.04' });
      const jv = await data(t, 'POST', '/journalentry', {
        docdate: '2026-11-21',
        sdsdocdetail: [
          { code: '900-000', dr: '10.00' },
          { code: '310-000', cr: '9.99' },
        ],
      });
      expect(jv.status).toBe(400);
      expect(jv.body.error.message).toContain('does not balance');
    });

    it('numbers documents from the series when docno is omitted or <<New>>, skipping numbers already taken', async () => {
      const a = await data(t, 'POST', '/salesorder', { docdate: '2026-11-21', code: '300-A0001' });
      const b = await data(t, 'POST', '/salesorder', {
        docdate: '2026-11-21',
        code: '300-A0001',
        docno: '<<New>>',
      });
      // SO-00001 is taken by the demo data.
      expect([a.body.data[0].docno, b.body.data[0].docno]).toEqual(['SO-00002', 'SO-00003']);
      await data(t, 'POST', '/salesorder', { docdate: '2026-11-21', code: '300-A0001', docno: 'SO-00004' });
      const c = await data(t, 'POST', '/salesorder', { docdate: '2026-11-21', code: '300-A0001' });
      expect(c.body.data[0].docno).toBe('SO-00005');
      expect(c.body.data[0].dockey).toBeGreaterThan(b.body.data[0].dockey);
    });

    it('concurrent POSTs get distinct docnos, dockeys and dtlkeys', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          data(t, 'POST', '/deliveryorder', {
            docdate: '2026-11-21',
            code: '300-C0001',
            sdsdocdetail: [{ itemcode: 'ISCT' }, { itemcode: 'ANT-CH' }],
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
      const docs = results.map((r) => r.body.data[0]);
      expect(new Set(docs.map((d) => d.docno)).size).toBe(12);
      expect(new Set(docs.map((d) => d.dockey)).size).toBe(12);
      expect(new Set(docs.flatMap((d) => d.sdsdocdetail.map((r: { dtlkey: number }) => r.dtlkey))).size).toBe(
        24,
      );
      expect(docs.map((d) => d.docno).sort()).toEqual(
        Array.from({ length: 12 }, (_, i) => `DO-${String(i + 1).padStart(5, '0')}`),
      );
    });

    it('refuses codes that do not exist, naming the field and the code, and writes nothing', async () => {
      const before = await countOf('/salesinvoice/');
      const res = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-11-21',
        code: 'NO-SUCH',
        agent: 'ALI',
        sdsdocdetail: [{ itemcode: 'ISCT' }, { itemcode: 'GHOST', tax: 'XX-99' }],
      });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('UNKNOWN_REFERENCE');
      expect(res.body.error.message).toContain('code: customer "NO-SUCH" does not exist');
      expect(res.body.error.message).toContain('sdsdocdetail[1].itemcode: stockitem "GHOST"');
      expect(res.body.error.message).toContain('sdsdocdetail[1].tax: taxcode "XX-99"');
      expect(res.body.error.missing).toContainEqual({ field: 'code', resource: 'customer', code: 'NO-SUCH' });
      expect(await countOf('/salesinvoice/')).toBe(before);
      const cust = await data(t, 'POST', '/customer', { code: 'C-X', companyname: 'X', agent: 'NOBODY' });
      expect(cust.status).toBe(422);
      expect(cust.body.error.message).toContain('agent: agent "NOBODY"');
      expect((await data(t, 'GET', '/customer/C-X')).status).toBe(404);
      const put = await data(t, 'PUT', '/customer/300-B0001', { updatecount: 2, area: 'MARS' });
      expect(put.status).toBe(422);
      expect((await data(t, 'GET', '/customer/300-B0001')).body.data[0]).toMatchObject({
        area: 'PJ',
        updatecount: 1,
      });
    });

    it('refuses duplicate codes and docnos with a message about uniqueness, and writes nothing', async () => {
      const agent = await data(t, 'POST', '/agent', { code: 'ALI', description: 'Another Ali' });
      expect(agent.status).toBe(409);
      expect(agent.body.error.code).toBe('ALREADY_EXISTS');
      expect(agent.body.error.message).toMatch(/code "ALI" already exists.*unique/);
      expect((await data(t, 'GET', '/agent/ALI')).body.data[0].description).toBe('Ali bin Ahmad');
      const before = await countOf('/salesinvoice/');
      const dup = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-11-21',
        code: '300-A0001',
        docno: 'IV-00001',
      });
      expect(dup.status).toBe(409);
      expect(dup.body.error.message).toContain('unique');
      expect(await countOf('/salesinvoice/')).toBe(before);
      // Renaming a document onto another's docno is refused too.
      const iv2 = (await data(t, 'GET', '/salesinvoice/*?docno=IV-00002')).body.data[0];
      const clash = await data(t, 'PUT', `/salesinvoice/${iv2.dockey}`, {
        updatecount: 2,
        docno: 'IV-00001',
      });
      expect(clash.status).toBe(409);
      // Concurrent creates of one code: one wins.
      const racing = await Promise.all(
        [1, 2, 3].map((n) => data(t, 'POST', '/project', { code: 'DUP', description: `p${n}` })),
      );
      expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    });

    it('an empty {} body is a 400 naming the missing fields; nothing is written', async () => {
      const doc = await data(t, 'POST', '/salesinvoice', {});
      expect(doc.status).toBe(400);
      expect(doc.body.error.code).toBe('VALIDATION_FAILED');
      expect(doc.body.error.message).toContain('docdate is required');
      expect(doc.body.error.message).toContain('code is required');
      const agent = await data(t, 'POST', '/agent', {});
      expect(agent.body.error.problems).toEqual(['code is required', 'description is required']);
      const put = await data(t, 'PUT', '/agent/ALI', {});
      expect(put.status).toBe(400);
      expect(put.body.error.message).toContain('changes nothing');
      const putDoc = await data(
        t,
        'PUT',
        `/salesinvoice/${(await data(t, 'GET', '/salesinvoice/*?docno=IV-00001')).body.data[0].dockey}`,
        {},
      );
      expect(putDoc.status).toBe(400);
      expect(putDoc.body.error.message).toContain('updatecount');
      expect((await call(t, 'POST', '/agent', {})).statusCode).toBe(400);
      expect((await call(t, 'POST', '/agent', { body: [] })).statusCode).toBe(400);
      const notJson = await call(t, 'POST', '/agent', {
        body: '{"code":',
        headers: { 'content-type': 'application/json' },
      });
      expect(notJson.statusCode).toBe(400);
    });

    it('wrong types and unknown fields are a 400 naming every field; never a 5xx', async () => {
      const res = await data(t, 'POST', '/salesinvoice', {
        docdate: '2026-13-01',
        code: 300,
        cancelled: 'no',
        currencyrate: 'abc',
        colour: 'red',
        sdsdocdetail: [{ qty: true, unitprice: '1.123456', disc: 'lots', bogus: 1 }, 'row'],
      });
      expect(res.status).toBe(400);
      const problems: string[] = res.body.error.problems;
      for (const field of [
        'docdate',
        'code',
        'cancelled',
        'currencyrate',
        'colour',
        'sdsdocdetail[0].qty',
        'sdsdocdetail[0].unitprice',
        'sdsdocdetail[0].disc',
        'sdsdocdetail[0].bogus',
        'sdsdocdetail[1]',
      ]) {
        expect(problems.some((p) => p.startsWith(`${field} `))).toBe(true);
      }
      const odd = [
        { sdsdocdetail: 'x' },
        { docdate: null, code: '300-A0001' },
        { docdate: '2026-01-01', code: '300-A0001', sdsdocdetail: [{ dtlkey: 'one' }] },
        { docdate: '2026-01-01', code: 'x'.repeat(5000) },
        { docdate: '2026-01-01', code: '300-A0001', currencyrate: '1e5' },
        { docdate: '2026-01-01', code: '300-A0001', description: 'nul \u0000 inside' },
      ];
      for (const body of odd) {
        const r = await data(t, 'POST', '/salesinvoice', body);
        expect(r.status).toBe(400);
      }
      expect((await data(t, 'PUT', '/agent/ALI', { updatecount: 2, code: 'ALI2' })).status).toBe(400);
      expect((await data(t, 'GET', '/salesinvoice/?docdate=yesterday')).status).toBe(400);
      // Out of a 32-bit column's range: a 4xx, not a database error.
      expect((await data(t, 'GET', '/salesinvoice/99999999999999')).status).toBe(404);
      expect((await data(t, 'GET', '/terms/?termdays=99999999999')).status).toBe(400);
      expect(
        (await data(t, 'POST', '/terms', { code: 'BIG', description: 'x', termdays: 2 ** 40 })).status,
      ).toBe(400);
      expect((await data(t, 'GET', '/agent/?lastmodified=99999999999')).status).toBe(200);
      expect((await data(t, 'GET', '/salesinvoice/?limit=abc')).status).toBe(400);
      expect((await data(t, 'GET', '/salesinvoice/?lastmodified=soon')).status).toBe(400);
    });

    it('keeps every tenant’s data separate', async () => {
      const other = await secondTenantAdmin(t, `other-${engine}@example.com`);
      expect((await data(t, 'GET', '/agent/', undefined, other.token)).body.data).toEqual([]);
      const ali = await data(
        t,
        'POST',
        '/agent',
        { code: 'ALI', description: 'Other tenant Ali' },
        other.token,
      );
      expect(ali.status).toBe(201);
      expect((await data(t, 'GET', '/agent/ALI')).body.data[0].description).toBe('Ali bin Ahmad');
      const iv = (await data(t, 'GET', '/salesinvoice/*?docno=IV-00001')).body.data[0];
      expect((await data(t, 'GET', `/salesinvoice/${iv.dockey}`, undefined, other.token)).status).toBe(404);
      expect(
        (await data(t, 'GET', '/salesinvoice/*?docno=IV-00001', undefined, other.token)).body.data,
      ).toEqual([]);
      expect(
        (await data(t, 'PUT', `/salesinvoice/${iv.dockey}`, { updatecount: 2 }, other.token)).status,
      ).toBe(404);
      expect((await data(t, 'DELETE', `/salesinvoice/${iv.dockey}`, undefined, other.token)).status).toBe(
        404,
      );
      // References resolve inside the tenant only: the other tenant has no customer 300-A0001.
      const ref = await data(
        t,
        'POST',
        '/salesinvoice',
        { docdate: '2026-11-21', code: '300-A0001' },
        other.token,
      );
      expect(ref.status).toBe(422);
      // Its numbering series starts at 1.
      await data(t, 'POST', '/customer', { code: 'K1', companyname: 'K One' }, other.token);
      const first = await data(
        t,
        'POST',
        '/salesinvoice',
        { docdate: '2026-11-21', code: 'K1' },
        other.token,
      );
      expect(first.body.data[0]).toMatchObject({ docno: 'IV-00001', dockey: 1 });
      expect((await data(t, 'GET', `/salesinvoice/${iv.dockey}`)).body.data[0].docno).toBe('IV-00001');
    });

    it('permissions: DataReadOnly reads but cannot write; no role, no data; a key token carries its owner’s rights', async () => {
      const reader = await userWithRole(t, `reader-${engine}@example.com`, 'DataReadOnly');
      expect((await data(t, 'GET', '/agent/', undefined, reader.token)).status).toBe(200);
      expect((await data(t, 'GET', '/salesinvoice/*?docno=IV-00001', undefined, reader.token)).status).toBe(
        200,
      );
      const denied = await data(t, 'POST', '/agent', { code: 'NOPE', description: 'x' }, reader.token);
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatchObject({ code: 'AccessDenied', missingPermission: 'agent:write' });
      expect((await data(t, 'PUT', '/agent/ALI', { updatecount: 2 }, reader.token)).body.error.code).toBe(
        'AccessDenied',
      );
      expect((await data(t, 'DELETE', '/agent/ALI', undefined, reader.token)).status).toBe(403);
      expect((await data(t, 'GET', '/agent/NOPE')).status).toBe(404);

      const nobody = await userWithRole(t, `nobody-${engine}@example.com`, 'DataReadOnly');
      await call(t, 'PUT', `/iam/users/${nobody.id}/assignments`, { body: { roleIds: [] } });
      const noRole = await data(t, 'GET', '/agent/', undefined, nobody.token);
      expect(noRole.status).toBe(403);
      expect(noRole.body.error.missingPermission).toBe('agent:read');

      // A key of a read-only user, exchanged for a token: reads, cannot write.
      const key = (await call(t, 'POST', `/iam/users/${reader.id}/keys`, { body: { name: 'ro' } })).json();
      const keyToken = (await loginWithKey(t, key.accessKeyId, key.secretAccessKey)).json().token;
      expect((await data(t, 'GET', '/customer/', undefined, keyToken)).status).toBe(200);
      expect((await data(t, 'POST', '/agent', { code: 'K', description: 'k' }, keyToken)).status).toBe(403);
      // A read-write user's key writes.
      const writer = await userWithRole(t, `writer-${engine}@example.com`, 'DataReadWrite');
      const wkey = (await call(t, 'POST', `/iam/users/${writer.id}/keys`, { body: { name: 'rw' } })).json();
      const wToken = (await loginWithKey(t, wkey.accessKeyId, wkey.secretAccessKey)).json().token;
      expect((await data(t, 'POST', '/agent', { code: 'KW', description: 'by key' }, wToken)).status).toBe(
        201,
      );
    });
  });
});

it('decimal arithmetic keeps every digit of large values', async () => {
  const { computeDocument } = await import('../src/accounting/compute.js');
  const { resourceByName } = await import('../src/accounting/registry.js');
  const def = resourceByName('salesinvoice');
  if (!def) throw new Error('no salesinvoice');
  const header: Record<string, string | number | null> = { currencyrate: '1.0000' };
  const rows = [
    { qty: '999999999999999.9999', unitprice: '999999999999.9999', disc: '', tax: null, taxinclusive: 0 },
  ];
  computeDocument(def, header, rows, new Map());
  // (1e15 − 1e-4)(1e12 − 1e-4) = 1e27 − 1e11 − 1e8 + 1e-8: 20 significant digits would lose the −1e11 − 1e8.
  expect(header.docamt).toBe('999999999999999899900000000.00');
});
