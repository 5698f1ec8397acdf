import { type Kysely, sql } from 'kysely';
import { RESOURCES } from '../../accounting/registry.js';
import { COUNTERS_TABLE, detailTable, masterTable, syncResourceTables } from '../../accounting/schema.js';
import { Decimal, toFixedScale } from '../../accounting/values.js';

/**
 * SQL Account fidelity (issue 18): the registry gained fields, detail arrays (`sdscustomerprice`,
 * `sdsbom`, `sdsknockoff`), resources (customer/supplier ledgers, cash purchase…) and a `dockey`
 * for stock items. `syncResourceTables` adds the missing tables and columns, copying renamed
 * fields from their older column (`account` → `code` on journal lines, `terms` → `creditterm`,
 * `termdays` → `termday`). Here: what a column cannot say by itself.
 * - Stock items get dockeys and tax codes autokeys in code order per tenant.
 * - What is open on a document is its docamt until something knocks it off.
 * - Computed line amounts the older release did not keep (local amounts, amount with tax, a
 *   journal line's local dr/cr) are worked out from the line's stored amounts.
 * syncResourceTables fills a new column with its field's default, so "needs a value" is told by
 * the columns the database had before it ran, not by NULL.
 * Columns that are no longer used (a payment's old `sdsdocdetail` table) are kept, not dropped.
 */
// biome-ignore lint/suspicious/noExplicitAny: table and column names come from the registry
type AnyDb = Kysely<any>;

export async function up(db: Kysely<unknown>): Promise<void> {
  const before = new Map<string, Set<string>>();
  for (const t of await db.introspection.getTables())
    before.set(t.name, new Set(t.columns.map((c) => c.name)));
  /** A column this migration adds to a table the older release had: its rows need a value. */
  const added = (table: string, column: string) => before.get(table)?.has(column) === false;
  await syncResourceTables(db, RESOURCES);
  const d = db as AnyDb;

  // Masters that gained an integer key (a stock item's dockey, a tax code's autokey): number the
  // existing records in code order per tenant, and let the counter continue after them.
  for (const def of RESOURCES.filter((r) => r.kind === 'master')) {
    for (const key of def.fields.filter(
      (f) => f.readOnly && f.type === 'integer' && /^(dockey|autokey)$/.test(f.name),
    )) {
      const table = masterTable(def);
      const rows: Array<{ tenant_id: string; code: string }> = await d
        .selectFrom(table)
        .select(['tenant_id', 'code'])
        .where(key.name, 'is', null)
        .execute();
      // Sorted here, by code point, so both engines number alike whatever the database collation.
      const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      rows.sort((a, b) => byCodePoint(a.tenant_id, b.tenant_id) || byCodePoint(a.code, b.code));
      const next = new Map<string, number>();
      for (const row of rows) {
        const n = (next.get(row.tenant_id) ?? 0) + 1;
        next.set(row.tenant_id, n);
        await d
          .updateTable(table)
          .set({ [key.name]: n })
          .where('tenant_id', '=', row.tenant_id)
          .where('code', '=', row.code)
          .execute();
      }
      for (const [tenant, value] of next) {
        await d
          .insertInto(COUNTERS_TABLE)
          .values({ tenant_id: tenant, name: `${key.name}:${def.name}`, value })
          .execute();
      }
      await d.schema
        .createIndex(`${table}_${key.name}_key`)
        .ifNotExists()
        .unique()
        .on(table)
        .columns(['tenant_id', key.name])
        .execute();
    }
  }

  // Nothing knocked anything off before this release: all of a document is open (cancelled ones
  // too, as knockoff.ts counts them).
  for (const def of RESOURCES) {
    const open = def.knockOffTarget?.openField ?? (def.knocksOff ? 'outstanding' : undefined);
    if (!open || !added(masterTable(def), open)) continue;
    await d
      .updateTable(masterTable(def))
      .set({ [open]: sql.ref('docamt') })
      .execute();
  }

  // Line amounts as compute.ts works them out, from the stored amounts and the document's rate.
  const money = (v: Decimal) => toFixedScale(v, 2);
  const D = (v: unknown, fallback = '0') =>
    new Decimal(v === null || v === undefined || v === '' ? fallback : String(v));
  for (const def of RESOURCES.filter((r) => r.kind === 'document')) {
    const lines = def.details.find((x) => x.table === 'dtl');
    if (!lines) continue;
    const table = detailTable(def, lines);
    const wanted = ['localamount', 'localtaxamt', 'amountwithtax', 'localdr', 'localcr'].filter(
      (c) => lines.fields.some((f) => f.name === c) && added(table, c),
    );
    if (wanted.length === 0) continue;
    const rows: Array<Record<string, unknown>> = await d
      .selectFrom(`${table} as l`)
      .innerJoin(`${masterTable(def)} as m`, (join) =>
        join.onRef('m.tenant_id', '=', 'l.tenant_id').onRef('m.dockey', '=', 'l.dockey'),
      )
      .select(['l.tenant_id', 'l.dtlkey', 'm.currencyrate'])
      .select(
        ['amount', 'taxamt', 'dr', 'cr']
          .filter((c) => lines.fields.some((f) => f.name === c))
          .map((c) => `l.${c}`),
      )
      .execute();
    for (const row of rows) {
      const rate = D(row.currencyrate, '1');
      const values: Record<string, string> = {
        localamount: money(D(row.amount).mul(rate)),
        localtaxamt: money(D(row.taxamt).mul(rate)),
        amountwithtax: money(D(row.amount).add(D(row.taxamt))),
        localdr: money(D(row.dr).mul(rate)),
        localcr: money(D(row.cr).mul(rate)),
      };
      await d
        .updateTable(table)
        .set(Object.fromEntries(wanted.map((c) => [c, values[c]])))
        .where('tenant_id', '=', row.tenant_id)
        .where('dtlkey', '=', row.dtlkey)
        .execute();
    }
  }
}

export async function down(): Promise<void> {
  // The added columns and tables hold data by now; going back is a restore from backup.
}
