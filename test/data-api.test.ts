/**
 * The SQL Account FAQ, walked on both engines: the three GET forms, the 50-row cap,
 * lastmodified, updatecount conflicts, the three dtlkey cases, racing updates, delete.
 */
import { describe, expect, it } from 'vitest';
import { refreshAdminToken } from './helpers/app.js';
import { data } from './helpers/data.js';
import { describeEachEngine, useTestApp } from './helpers/each-engine.js';

const CHANGED = 'Record has been changed by other users.';

describeEachEngine('data API FAQ', (engine) => {
  describe('walk', () => {
    const t = useTestApp(engine, { env: { LATCHKEY_DEMO_DATA: '1' } });

    const invoiceBody = (docno?: string) => ({
      ...(docno ? { docno } : {}),
      docdate: '2026-11-20',
      code: '300-A0001',
      sdsdocdetail: [
        { itemcode: 'ISCT', qty: '1', unitprice: '100.00' },
        { itemcode: 'ANT-CH', qty: '2', unitprice: '50.00' },
        { itemcode: 'MISC', qty: '1', unitprice: '10.00' },
      ],
    });

    it('GET /{resource}/ lists master fields only, in the SQL Account envelope, filterable by any master field', async () => {
      const agents = await data(t, 'GET', '/agent/');
      expect(agents.status).toBe(200);
      expect(agents.body.pagination).toEqual({ count: 5, offset: 0, limit: 50 });
      expect(agents.body.data.map((a: { code: string }) => a.code)).toEqual([
        'ALI',
        'BEN',
        'CHONG',
        'DEVI',
        'EMMA',
      ]);
      expect(Object.keys(agents.body.data[0])).toEqual([
        'code',
        'description',
        'description2',
        'isactive',
        'updatecount',
        'lastmodified',
      ]);
      // Without the trailing slash too.
      expect((await data(t, 'GET', '/agent')).body.data).toHaveLength(5);

      const inactive = await data(t, 'GET', '/agent/?isactive=false');
      expect(inactive.body.data.map((a: { code: string }) => a.code)).toEqual(['EMMA']);
      const invoices = await data(t, 'GET', '/salesinvoice/?code=300-A0001');
      expect(invoices.body.data).toHaveLength(1);
      expect(invoices.body.data[0].docno).toBe('IV-00001');
      expect(invoices.body.data[0].sdsdocdetail).toBeUndefined();
      // A non-indexed master field filters the list form as well, decimals by value.
      const byAgent = await data(t, 'GET', '/salesinvoice/?agent=BEN');
      expect(byAgent.body.data.map((d: { docno: string }) => d.docno)).toEqual(['IV-00002']);
      const byCredit = await data(t, 'GET', '/customer/?creditlimit=50000');
      expect(byCredit.body.data.map((d: { code: string }) => d.code)).toEqual(['300-A0001']);

      const unknown = await data(t, 'GET', '/agent/?colour=red');
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('VALIDATION_FAILED');
      expect(unknown.body.error.message).toContain('colour');
    });

    it('GET /{resource}/* returns one record with its detail, filtered by indexed fields; %2A works too', async () => {
      for (const star of ['*', '%2A', '%2a']) {
        const one = await data(t, 'GET', `/salesinvoice/${star}?docno=IV-00002`);
        expect(one.status).toBe(200);
        expect(one.body.pagination.count).toBe(1);
        expect(one.body.data).toHaveLength(1);
        expect(one.body.data[0].docno).toBe('IV-00002');
        expect(one.body.data[0].sdsdocdetail).toHaveLength(1);
        expect(one.body.data[0].sdsdocdetail[0].itemcode).toBe('ANT-CH');
      }
      const two = await data(t, 'GET', '/salesinvoice/*?code=300-A0001&docdate=2026-10-10');
      expect(two.body.data[0].docno).toBe('IV-00001');
      expect(two.body.data[0].sdsdocdetail).toHaveLength(3);
      const none = await data(t, 'GET', '/salesinvoice/*?docno=IV-99999');
      expect(none.status).toBe(200);
      expect(none.body).toEqual({ pagination: { count: 0, offset: 0, limit: 1 }, data: [] });
      // Only indexed fields: agent is a master field, not an index.
      const notIndexed = await data(t, 'GET', '/salesinvoice/*?agent=ALI');
      expect(notIndexed.status).toBe(400);
      expect(notIndexed.body.error.message).toContain('agent');
      const customer = await data(t, 'GET', '/customer/*?code=300-A0001');
      expect(customer.body.data[0].sdsbranch.map((b: { branchname: string }) => b.branchname)).toEqual([
        'BILLING',
        'WAREHOUSE',
      ]);
    });

    it('GET /{resource}/{dockey} returns one record with detail; masters by code', async () => {
      const found = await data(t, 'GET', '/salesinvoice/*?docno=IV-00001');
      const dockey = found.body.data[0].dockey;
      expect(Number.isInteger(dockey)).toBe(true);
      const byKey = await data(t, 'GET', `/salesinvoice/${dockey}`);
      expect(byKey.status).toBe(200);
      expect(byKey.body.data[0]).toEqual(found.body.data[0]);
      // Stock items are addressed by dockey, as in SQL Account; the code finds it through the * form.
      const itemKey = (await data(t, 'GET', '/stockitem/*?code=OFD-16')).body.data[0].dockey;
      expect(Number.isInteger(itemKey)).toBe(true);
      expect((await data(t, 'GET', '/stockitem/OFD-16')).status).toBe(404);
      const item = await data(t, 'GET', `/stockitem/${itemKey}`);
      expect(item.body.data[0].sdsuom.map((u: { uom: string; rate: string }) => [u.uom, u.rate])).toEqual([
        ['UNIT', '1.0000'],
        ['SET4', '4.0000'],
      ]);
      expect((await data(t, 'GET', '/salesinvoice/999999')).status).toBe(404);
      expect((await data(t, 'GET', '/salesinvoice/abc')).status).toBe(404);
      expect((await data(t, 'GET', '/agent/NOBODY')).body.error.code).toBe('NOT_FOUND');
    });

    it('caps a page at 50 records and pages with offset', async () => {
      for (let i = 0; i < 55; i++) {
        const res = await data(t, 'POST', '/area', {
          code: `Z${String(i).padStart(2, '0')}`,
          description: `Zone ${i}`,
        });
        expect(res.status).toBe(201);
      }
      const capped = await data(t, 'GET', '/area/?limit=100');
      expect(capped.body.data).toHaveLength(50);
      expect(capped.body.pagination).toEqual({ count: 50, offset: 0, limit: 50 });
      const rest = await data(t, 'GET', '/area/?offset=50&limit=50');
      expect(rest.body.data).toHaveLength(59 - 50);
      expect(rest.body.pagination).toEqual({ count: 9, offset: 50, limit: 50 });
      const small = await data(t, 'GET', '/area/?limit=3&offset=4');
      expect(small.body.data.map((a: { code: string }) => a.code)).toEqual(['Z00', 'Z01', 'Z02']);
      expect((await data(t, 'GET', '/area/?limit=0')).status).toBe(400);
      expect((await data(t, 'GET', '/area/?offset=-1')).status).toBe(400);
    });

    it('lastmodified filters to records changed since a Unix time', async () => {
      t.clock.advance(5_000);
      await refreshAdminToken(t);
      const since = Math.floor(t.clock.now().getTime() / 1000);
      const put = await data(t, 'PUT', '/agent/BEN', { updatecount: 2, description: 'Benjamin Tan Wei' });
      expect(put.status).toBe(200);
      expect(put.body.data[0].lastmodified).toBe(since);
      const changed = await data(t, 'GET', `/agent/?lastmodified=${since}`);
      expect(changed.body.data.map((a: { code: string }) => a.code)).toEqual(['BEN']);
    });

    it('PUT needs updatecount = stored + 1, else "Record has been changed by other users." and nothing changes', async () => {
      const created = await data(t, 'POST', '/salesinvoice', invoiceBody());
      expect(created.status).toBe(201);
      const rec = created.body.data[0];
      expect(rec.updatecount).toBe(1);

      for (const wrong of [1, 3, 0]) {
        const stale = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
          updatecount: wrong,
          description: 'stale',
        });
        expect(stale.status).toBe(409);
        expect(stale.body.error.code).toBe('RECORD_CHANGED');
        expect(stale.body.error.message).toBe(CHANGED);
      }
      const missing = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, { description: 'no count' });
      expect(missing.status).toBe(400);
      expect(missing.body.error.message).toContain('updatecount');
      expect((await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).body.data[0]).toEqual(rec);

      const ok = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
        updatecount: 2,
        description: 'edited',
      });
      expect(ok.status).toBe(200);
      expect(ok.body.data[0]).toMatchObject({ updatecount: 2, description: 'edited', docamt: rec.docamt });
      const again = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
        updatecount: 2,
        description: 'again',
      });
      expect(again.status).toBe(409);
      expect((await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).body.data[0].description).toBe('edited');
      // A record read from the API can be sent back with updatecount + 1 (read-only fields are ignored).
      const roundTrip = { ...ok.body.data[0], updatecount: 3, description: 'round trip' };
      const back = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, roundTrip);
      expect(back.status).toBe(200);
      expect(back.body.data[0].sdsdocdetail.map((d: { dtlkey: number }) => d.dtlkey)).toEqual(
        rec.sdsdocdetail.map((d: { dtlkey: number }) => d.dtlkey),
      );
    });

    it('sdsdocdetail in PUT: existing dtlkey updates, missing/-1/unknown dtlkey inserts, rows left out are deleted', async () => {
      const rec = (await data(t, 'POST', '/salesinvoice', invoiceBody())).body.data[0];
      const [first, second, third] = rec.sdsdocdetail;
      expect([first.seq, second.seq, third.seq]).toEqual([1000, 2000, 3000]);
      expect(rec.docamt).toBe('210.00');

      const put = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
        updatecount: 2,
        sdsdocdetail: [
          {
            dtlkey: first.dtlkey,
            seq: 1,
            description: 'Industrial Style Round Coffee Table - Edited',
            qty: '3',
          },
          { seq: 2, itemcode: 'MISC', description: 'MISC - New Insert', unitprice: '5.00' },
          { dtlkey: -1, seq: 3, itemcode: 'RM-04', description: 'Arm Rest - New Insert', qty: '4' },
          {
            dtlkey: 987654,
            seq: 4,
            itemcode: 'MISC',
            description: 'unknown dtlkey - New Insert',
            unitprice: '1.00',
          },
        ],
      });
      expect(put.status).toBe(200);
      const rows = put.body.data[0].sdsdocdetail;
      expect(rows).toHaveLength(4);
      expect(rows[0]).toMatchObject({
        dtlkey: first.dtlkey,
        seq: 1,
        itemcode: 'ISCT',
        description: 'Industrial Style Round Coffee Table - Edited',
        qty: '3.0000',
        unitprice: '100.0000',
        amount: '300.00',
      });
      const newKeys = rows.slice(1).map((r: { dtlkey: number }) => r.dtlkey);
      for (const k of newKeys) {
        expect([first.dtlkey, second.dtlkey, third.dtlkey, 987654]).not.toContain(k);
      }
      expect(new Set(newKeys).size).toBe(3);
      expect(rows[2]).toMatchObject({ itemcode: 'RM-04', unitprice: '20.0000', amount: '80.00' });
      // 300 + 5 + 80 + 1
      expect(put.body.data[0].docamt).toBe('386.00');
      // The answer is what is stored.
      expect((await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).body.data[0]).toEqual(put.body.data[0]);

      // No sdsdocdetail: the detail is left alone.
      const header = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
        updatecount: 3,
        description: 'header only',
      });
      expect(header.body.data[0].sdsdocdetail).toEqual(rows);
      expect((await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).body.data[0]).toEqual(header.body.data[0]);
      expect(header.body.data[0].docamt).toBe('386.00');

      // An empty array deletes every row.
      const empty = await data(t, 'PUT', `/salesinvoice/${rec.dockey}`, { updatecount: 4, sdsdocdetail: [] });
      expect(empty.body.data[0].sdsdocdetail).toEqual([]);
      expect(empty.body.data[0].docamt).toBe('0.00');
    });

    it('two racing PUTs with the same updatecount: exactly one wins', async () => {
      for (let round = 0; round < 3; round++) {
        const rec = (await data(t, 'POST', '/salesinvoice', invoiceBody())).body.data[0];
        const results = await Promise.all(
          ['left', 'right'].map((side) =>
            data(t, 'PUT', `/salesinvoice/${rec.dockey}`, {
              updatecount: 2,
              description: side,
              sdsdocdetail: [
                { itemcode: 'MISC', description: side, unitprice: side === 'left' ? '1.00' : '2.00' },
              ],
            }),
          ),
        );
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([200, 409]);
        const winner = results.find((r) => r.status === 200)?.body.data[0];
        const loser = results.find((r) => r.status === 409);
        expect(loser?.body.error.message).toBe(CHANGED);
        const stored = (await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).body.data[0];
        expect(stored.updatecount).toBe(2);
        expect(stored.description).toBe(winner.description);
        expect(stored.sdsdocdetail).toHaveLength(1);
        expect(stored.sdsdocdetail[0].description).toBe(winner.description);
      }
    });

    it('racing PUTs on a master: exactly one wins', async () => {
      await data(t, 'POST', '/agent', { code: 'RACE', description: 'start' });
      const results = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          data(t, 'PUT', '/agent/RACE', { updatecount: 2, description: `writer ${n}` }),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(3);
      expect((await data(t, 'GET', '/agent/RACE')).body.data[0].updatecount).toBe(2);
    });

    it('DELETE removes the record and its detail', async () => {
      const rec = (await data(t, 'POST', '/salesinvoice', invoiceBody('DEL-1'))).body.data[0];
      const del = await data(t, 'DELETE', `/salesinvoice/${rec.dockey}`);
      expect(del.status).toBe(204);
      expect((await data(t, 'GET', `/salesinvoice/${rec.dockey}`)).status).toBe(404);
      expect((await data(t, 'GET', '/salesinvoice/*?docno=DEL-1')).body.data).toEqual([]);
      expect((await data(t, 'DELETE', `/salesinvoice/${rec.dockey}`)).status).toBe(404);
      await data(t, 'POST', '/agent', { code: 'GONE', description: 'to delete' });
      expect((await data(t, 'DELETE', '/agent/GONE')).status).toBe(204);
      expect((await data(t, 'GET', '/agent/GONE')).status).toBe(404);
      // The docno is free again.
      expect((await data(t, 'POST', '/salesinvoice', invoiceBody('DEL-1'))).status).toBe(201);
    });

    it('does not shadow the service routes', async () => {
      expect((await data(t, 'GET', '/healthcheck', undefined, '')).status).toBe(200);
      expect((await data(t, 'GET', '/version', undefined, '')).status).toBe(200);
      expect((await data(t, 'GET', '/profile')).status).toBe(200);
      expect((await data(t, 'GET', '/iam/me')).status).toBe(200);
      expect((await data(t, 'GET', '/openapi.json', undefined, '')).status).toBe(200);
      // Data routes need credentials.
      expect((await data(t, 'GET', '/agent/', undefined, '')).status).toBe(401);
    });
  });
});
