/**
 * The claim discipline shared by the durable queues (the mail outbox, webhook deliveries): rows
 * due now (`pending` with `next_attempt_at` passed, or `sending` whose lease ran out because its
 * worker died or hung) are claimed by setting `sending`, `locked_until` (the lease) and
 * `locked_by` (a fencing token unique to the claim), and counted as an attempt. Whoever finishes a
 * row marks it only `where locked_by = <its token>`, so a worker whose lease ran out never
 * overwrites the verdict of the worker that took the row over.
 *
 * On PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`, so instances claim disjoint
 * rows; on SQLite the claiming transaction is the lock. The UPDATE re-checks the due condition, so
 * a racing claimer that read the same row cannot take it twice.
 */
import { type ExpressionBuilder, type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { randomBase32 } from '../crypto/random.js';
import type { Services } from '../services.js';
import { forUpdateSkipLocked, type Tx } from '../storage/dialect.js';
import type { Database } from '../storage/tables.js';
import { addMs, iso } from '../time.js';

/** The tables whose rows are claimed this way. */
export type LeasedTable = 'mail_outbox' | 'webhook_deliveries';

/** The columns the discipline reads and writes (both tables have them). */
interface LeaseColumns {
  id: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  locked_by: string | null;
  updated_at: string;
}

type Leased = Record<LeasedTable, LeaseColumns>;

/** Tokens `<worker>:<n>`: the worker part is random per worker, n counts its claims. */
export class ClaimTokens {
  private readonly workerId = `w${randomBase32(10).toLowerCase()}`;
  private seq = 0;
  next(): string {
    this.seq += 1;
    return `${this.workerId}:${this.seq}`;
  }
}

/** Claim up to `limit` due rows of `table` under `token` for `leaseMs`; the rows claimed, in due order. */
export async function claimDue<T extends LeasedTable>(
  svc: Services,
  table: T,
  options: { token: string; limit: number; leaseMs: number },
): Promise<Array<Selectable<Database[T]>>> {
  // Both tables share the lease columns; Kysely is told only about those.
  const db = svc.db as unknown as Kysely<Leased>;
  // Kysely's builders want one table, not a type parameter: the queries use the union's name.
  const name: LeasedTable = table;
  const now = svc.clock.now();
  const nowIso = iso(now);
  return db.transaction().execute(async (trx) => {
    const due = (eb: ExpressionBuilder<Leased, LeasedTable>) =>
      eb.or([
        eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', nowIso)]),
        // A claim whose lease ran out: its worker died (or hung) mid-delivery.
        eb.and([eb('status', '=', 'sending'), eb('locked_until', '<=', nowIso)]),
      ]);
    const candidates = await forUpdateSkipLocked(
      trx
        .selectFrom(name)
        .select('id')
        .where(due)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(options.limit),
      svc.engine,
    ).execute();
    if (candidates.length === 0) return [];
    const ids = candidates.map((c) => c.id);
    await trx
      .updateTable(name)
      .set({
        status: 'sending',
        locked_until: iso(addMs(now, options.leaseMs)),
        locked_by: options.token,
        attempts: sql<number>`attempts + 1`,
        updated_at: nowIso,
      })
      .where('id', 'in', ids)
      .where(due)
      .execute();
    const claimed = await trx
      .selectFrom(name)
      .selectAll()
      .where('id', 'in', ids)
      .where('locked_by', '=', options.token)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .execute();
    // Every column was selected: the rows are the table's own.
    return claimed as unknown as Array<Selectable<Database[T]>>;
  });
}

/**
 * Inside the transaction that decides a claimed row's fate: is the claim still `token`'s? A write,
 * not a read: it holds the row until the verdict is written (a row lock on PostgreSQL, the write
 * lock on SQLite), so no other worker can take the row over between the check and the mark.
 */
export async function holdClaim(
  trx: Tx,
  table: LeasedTable,
  id: string,
  token: string,
  nowIso: string,
): Promise<boolean> {
  const held = await (trx as unknown as Transaction<Leased>)
    .updateTable(table)
    .set({ updated_at: nowIso })
    .where('id', '=', id)
    .where('locked_by', '=', token)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(held.numUpdatedRows) > 0;
}

/**
 * The wait before attempt n+1 after attempt n failed: base · 2^(n-1), at most `maxMs`. `jitter`
 * (0..1) takes up to that share off at random, so endpoints that failed together do not all
 * retry in the same second.
 */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, jitter = 0): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(full * (1 - jitter * Math.random()));
}
