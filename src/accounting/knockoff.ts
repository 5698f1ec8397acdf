/**
 * Knock-offs, SQL Account's way of settling documents: a customer payment (or credit note,
 * contra, refund) lists in `sdsknockoff` the documents it settles (`doctype` + `docno` or
 * `refdockey`) and how much of each (`koamt`). Every document that can be settled keeps what is
 * still open (`outstanding`, or `unappliedamt` for payments and deposits):
 *
 *   open = docamt − Σ its own knock-offs − Σ knock-offs of other documents against it
 *
 * counting only rows with `knockoff: true` of documents that are not cancelled. A write that
 * would leave any open amount below zero (over-knocking) is refused and changes nothing.
 *
 * Concurrency: before counting, the settled documents are locked (`SELECT … FOR UPDATE` on
 * PostgreSQL; SQLite has one writer), so two payments racing for one invoice cannot both pass.
 */
import { AppError } from '../errors.js';
import type { Engine } from '../storage/dialect.js';
import { RESOURCES, type ResourceDef, type Side } from './registry.js';
import { detailTable, masterTable } from './schema.js';
import { Decimal, Problems, type Row, toFixedScale } from './values.js';

// biome-ignore lint/suspicious/noExplicitAny: table names come from the registry at run time
type Tx = import('kysely').Transaction<any>;

export const KNOCKOFF_DETAIL = 'sdsknockoff';

/** A document that can be settled, by resource name and dockey. */
export interface DocRef {
  readonly resource: string;
  readonly dockey: number;
}

const byName = new Map(RESOURCES.map((r) => [r.name, r]));

/** The resources whose documents a row of this doctype may settle, on this side. */
export function targetsOf(side: Side, doctype: string): ResourceDef[] {
  return RESOURCES.filter(
    (r) => r.knockOffTarget?.side === side && r.knockOffTarget.doctype === doctype.toUpperCase(),
  );
}

/** The resources that knock off documents of this side. */
const sourcesOf = (side: Side): ResourceDef[] => RESOURCES.filter((r) => r.knocksOff?.side === side);

const D = (v: unknown) => new Decimal(v === null || v === undefined || v === '' ? '0' : String(v));

/**
 * Resolve each knock-off row to the document it settles and fill the row's computed fields.
 * Checks: a doctype this document may settle, a document that exists, belongs to the same
 * customer or supplier and is not cancelled, a positive koamt, and Σ koamt ≤ docamt.
 * Returns the settled documents (to lock and recount).
 */
export async function resolveKnockOffs(
  trx: Tx,
  tenantId: string,
  def: ResourceDef,
  header: Row,
  rows: Row[],
): Promise<DocRef[]> {
  const rule = def.knocksOff;
  if (!rule) return [];
  const problems = new Problems();
  const found: DocRef[] = [];
  let total = new Decimal(0);
  for (const [i, row] of rows.entries()) {
    const path = `${KNOCKOFF_DETAIL}[${i}]`;
    const doctype = String(row.doctype ?? '').toUpperCase();
    row.doctype = doctype;
    if (!rule.doctypes.includes(doctype)) {
      problems.add(`${path}.doctype`, `must be one of ${rule.doctypes.join(', ')} for a ${def.name}`);
      continue;
    }
    if (!D(row.koamt).gt(0)) {
      problems.add(`${path}.koamt`, 'must be more than 0');
      continue;
    }
    if (row.docno === null && row.refdockey === null) {
      problems.add(path, 'must name the settled document: docno or refdockey');
      continue;
    }
    const matches: Array<{ def: ResourceDef; rec: Record<string, unknown> }> = [];
    for (const target of targetsOf(rule.side, doctype)) {
      let q = trx.selectFrom(masterTable(target)).selectAll().where('tenant_id', '=', tenantId);
      if (row.refdockey !== null) q = q.where('dockey', '=', Number(row.refdockey));
      if (row.docno !== null) q = q.where('docno', '=', String(row.docno));
      for (const rec of await q.execute()) matches.push({ def: target, rec });
    }
    const what = row.docno !== null ? `docno "${row.docno}"` : `dockey ${row.refdockey}`;
    if (matches.length === 0) {
      throw new AppError('UNKNOWN_REFERENCE', `${def.name}: ${path}: no ${doctype} document with ${what}`, {
        missing: [
          {
            field: `${path}.docno`,
            resource: targetsOf(rule.side, doctype)
              .map((t) => t.name)
              .join('|'),
            code: String(row.docno ?? row.refdockey),
          },
        ],
      });
    }
    if (matches.length > 1) {
      problems.add(
        path,
        `${what} matches ${matches.map((m) => m.def.name).join(' and ')}; send docno and refdockey together`,
      );
      continue;
    }
    const { def: target, rec } = matches[0] as { def: ResourceDef; rec: Record<string, unknown> };
    if (rec.code !== header.code) {
      problems.add(path, `${doctype} ${rec.docno} belongs to ${rule.side} ${rec.code}, not ${header.code}`);
      continue;
    }
    if (Number(rec.cancelled) === 1) {
      problems.add(path, `${doctype} ${rec.docno} is cancelled`);
      continue;
    }
    if (
      target.name === (def.table ?? def.name) &&
      header.dockey !== null &&
      Number(rec.dockey) === Number(header.dockey)
    ) {
      problems.add(path, 'a document cannot knock itself off');
      continue;
    }
    row.refresource = target.name;
    row.refdockey = Number(rec.dockey);
    row.docno = String(rec.docno);
    row.docdate = (rec.docdate as string | null) ?? null;
    row.docnoex = (rec.docnoex as string | null) ?? null;
    row.description = (rec.description as string | null) ?? null;
    row.docamt = toFixedScale(D(rec.docamt), 2);
    row.localkoamt = toFixedScale(D(row.koamt).mul(D(header.currencyrate ?? '1')), 2);
    row.actuallocalkoamt = row.localkoamt;
    row.gainloss = '0.00';
    const open = target.knockOffTarget?.openField ?? 'outstanding';
    row.originaloutstanding = toFixedScale(D(rec[open] ?? rec.docamt), 2);
    for (const f of ['postdate', 'agent', 'area', 'project', 'currencycode'] as const) {
      row[f] = (rec[f] as string | null | undefined) ?? null;
    }
    row.currencyrate = toFixedScale(D(rec.currencyrate ?? '1'), 4);
    if (row.knockoff === 1) total = total.add(D(row.koamt));
    if (!found.some((f) => f.resource === target.name && f.dockey === Number(rec.dockey)))
      found.push({ resource: target.name, dockey: Number(rec.dockey) });
  }
  if (total.gt(D(header.docamt))) {
    problems.add(
      KNOCKOFF_DETAIL,
      `knocks off ${toFixedScale(total, 2)} in all, more than the docamt ${toFixedScale(D(header.docamt), 2)}`,
    );
  }
  problems.throwIfAny(def.name);
  return found;
}

/** Lock settled documents for the rest of the transaction (PostgreSQL; SQLite has one writer). */
export async function lockDocuments(
  trx: Tx,
  engine: Engine,
  tenantId: string,
  docs: DocRef[],
): Promise<void> {
  if (engine !== 'postgres') return;
  const sorted = [...docs].sort((a, b) => a.resource.localeCompare(b.resource) || a.dockey - b.dockey);
  for (const doc of sorted) {
    const def = byName.get(doc.resource) as ResourceDef;
    await trx
      .selectFrom(masterTable(def))
      .select('dockey')
      .where('tenant_id', '=', tenantId)
      .where('dockey', '=', doc.dockey)
      .forUpdate()
      .execute();
  }
}

/** Σ koamt of applied knock-off rows of documents that are not cancelled, filtered by `where`. */
async function appliedKnockOffs(
  trx: Tx,
  tenantId: string,
  source: ResourceDef,
  where: { dockey?: number; refresource?: string; refdockey?: number },
): Promise<Decimal> {
  const ko = source.details.find((d) => d.name === KNOCKOFF_DETAIL);
  if (!ko) return new Decimal(0);
  const kt = detailTable(source, ko);
  const mt = masterTable(source);
  let q = trx
    .selectFrom(`${kt} as k`)
    .innerJoin(`${mt} as m`, (join) =>
      join.onRef('m.tenant_id', '=', 'k.tenant_id').onRef('m.dockey', '=', 'k.dockey'),
    )
    .select('k.koamt')
    .where('k.tenant_id', '=', tenantId)
    .where('k.knockoff', '=', 1)
    .where('m.cancelled', '=', 0);
  if (where.dockey !== undefined) q = q.where('k.dockey', '=', where.dockey);
  if (where.refresource !== undefined) q = q.where('k.refresource', '=', where.refresource);
  if (where.refdockey !== undefined) q = q.where('k.refdockey', '=', where.refdockey);
  const rows: Array<{ koamt: string | null }> = await q.execute();
  return rows.reduce((sum, r) => sum.add(D(r.koamt)), new Decimal(0));
}

/** How much of other documents' knock-offs settle this one. */
async function knockedAgainst(trx: Tx, tenantId: string, def: ResourceDef, dockey: number): Promise<Decimal> {
  const side = def.knockOffTarget?.side;
  if (!side) return new Decimal(0);
  let sum = new Decimal(0);
  for (const source of sourcesOf(side)) {
    sum = sum.add(
      await appliedKnockOffs(trx, tenantId, source, { refresource: def.name, refdockey: dockey }),
    );
  }
  return sum;
}

/** The field holding what is still open on documents of this resource, if it has one. */
export function openFieldOf(def: ResourceDef): 'outstanding' | 'unappliedamt' | undefined {
  return def.knockOffTarget?.openField ?? (def.knocksOff ? 'outstanding' : undefined);
}

/**
 * Recount and store what is open on each document; any below zero refuses the whole write.
 * Returns the open amounts by `resource:dockey`.
 */
export async function recountOpen(trx: Tx, tenantId: string, docs: DocRef[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const problems = new Problems();
  for (const doc of docs) {
    const def = byName.get(doc.resource) as ResourceDef;
    const field = openFieldOf(def);
    if (!field) continue;
    const rec: { docamt: string | null; docno: string; cancelled: number } | undefined = await trx
      .selectFrom(masterTable(def))
      .select(['docamt', 'docno', 'cancelled'])
      .where('tenant_id', '=', tenantId)
      .where('dockey', '=', doc.dockey)
      .executeTakeFirst();
    if (!rec) continue;
    const own = await appliedKnockOffs(trx, tenantId, def, { dockey: doc.dockey });
    const against = await knockedAgainst(trx, tenantId, def, doc.dockey);
    const open = D(rec.docamt)
      .sub(Number(rec.cancelled) === 1 ? 0 : own)
      .sub(against);
    if (open.lt(0)) {
      problems.add(
        `${def.name} ${rec.docno}`,
        `would be over-knocked: docamt ${toFixedScale(D(rec.docamt), 2)}, knocked off ${toFixedScale(own.add(against), 2)}`,
      );
      continue;
    }
    const value = toFixedScale(open, 2);
    await trx
      .updateTable(masterTable(def))
      .set({ [field]: value })
      .where('tenant_id', '=', tenantId)
      .where('dockey', '=', doc.dockey)
      .execute();
    result.set(`${doc.resource}:${doc.dockey}`, value);
  }
  if (problems.list.length > 0) {
    throw new AppError('VALIDATION_FAILED', `knock-off: ${problems.list.join('; ')}`, {
      problems: problems.list,
    });
  }
  return result;
}

/** The documents whose knock-off rows settle this one (to refuse deleting a settled document). */
export async function settledBy(
  trx: Tx,
  tenantId: string,
  def: ResourceDef,
  dockey: number,
): Promise<Array<{ resource: string; docno: string }>> {
  const side = def.knockOffTarget?.side;
  if (!side) return [];
  const out: Array<{ resource: string; docno: string }> = [];
  for (const source of sourcesOf(side)) {
    const ko = source.details.find((d) => d.name === KNOCKOFF_DETAIL);
    if (!ko) continue;
    const rows: Array<{ docno: string }> = await trx
      .selectFrom(`${detailTable(source, ko)} as k`)
      .innerJoin(`${masterTable(source)} as m`, (join) =>
        join.onRef('m.tenant_id', '=', 'k.tenant_id').onRef('m.dockey', '=', 'k.dockey'),
      )
      .select('m.docno')
      .distinct()
      .where('k.tenant_id', '=', tenantId)
      .where('k.refresource', '=', def.name)
      .where('k.refdockey', '=', dockey)
      .execute();
    for (const r of rows) out.push({ resource: source.name, docno: r.docno });
  }
  return out;
}
