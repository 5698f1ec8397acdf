/**
 * The durable mail outbox. Every email is first a row, inserted in the transaction of the change
 * that causes it; a worker delivers rows. States: `pending` → `sending` (claimed under a lease)
 * → `sent`, or back to `pending` with a later `next_attempt_at` (connection error, 4xx), or
 * `failed` with the reason (a 5xx, or the last allowed attempt failed).
 *
 * Delivery is at least once, never "maybe zero": a worker claims rows by setting `sending`,
 * `locked_until` (the lease) and `locked_by` (a fencing token unique to the claim), sends, and
 * marks the row `sent` only if it still holds that claim. If the process dies between the SMTP
 * server's accept and that mark, the row stays `sending` until its lease ends, then any worker
 * sends it again, with the same Message-ID (stable per row) so that mail systems which
 * de-duplicate on Message-ID show it once. The window is one local UPDATE long: the mark is the
 * very next statement after the accept, and nothing else runs between them.
 *
 * Several instances on PostgreSQL claim with `FOR UPDATE SKIP LOCKED`, so no two claim one row;
 * on SQLite the claiming transaction is the lock. The claim's UPDATE also re-checks the due
 * condition, so even a racing claimer that read the same row cannot take it twice (leases.ts,
 * shared with webhook deliveries).
 *
 * Right before sending, the worker proves with the claim's token that the row is still its own
 * (a worker whose lease ran out while it waited leaves the row to the one that took it over),
 * and an email about a key (`OutgoingMail.about`) is checked again: one that is no longer true
 * (the key was deleted, its expiry changed, its secret was regenerated: see mail-recheck.ts)
 * becomes `dropped`, with the reason in `last_error`, instead of going out. Check and mark run in
 * one transaction that holds the row from the claim check until the verdict is written.
 */

import type { Static } from '@sinclair/typebox';
import type { OutboxView as OutboxViewSchema } from '../contract/views.js';
import type { Services } from '../services.js';
import type { DbOrTx } from '../storage/dialect.js';
import type { OutboxRow, OutboxStatus } from '../storage/tables.js';
import { addMs, iso } from '../time.js';
import { backoffMs, ClaimTokens, claimDue, holdClaim } from './leases.js';
import { keyNow, type MailAbout, releaseReminderClaim, staleReason } from './mail-recheck.js';

export interface OutgoingMail {
  tenantId: string;
  /** What the email is about: `expiry_reminder`, `key_created`, … */
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /**
   * The bodies hold a credential (a secret key or a one-time reveal link): store them sealed
   * under the master key, and blank them once delivered.
   */
  sealed?: boolean;
  /** The key the email is about and what it says of it: re-checked when it is delivered. */
  about?: MailAbout;
}

export const bodyContext = (id: string, part: 'text' | 'html') => `mail-outbox:${id}:${part}`;

/** The domain part of the sender, for Message-IDs. */
export function senderDomain(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'latchkey.invalid';
}

/** Queue an email (call it inside the transaction of the change that causes it). */
export async function enqueueMail(svc: Services, db: DbOrTx, mail: OutgoingMail): Promise<string> {
  const id = svc.newId('mail');
  const now = iso(svc.clock.now());
  let text = mail.text;
  let html = mail.html;
  let masterKeyVersion: number | null = null;
  if (mail.sealed) {
    const t = svc.secrets.seal(text, bodyContext(id, 'text'));
    const h = svc.secrets.seal(html, bodyContext(id, 'html'));
    text = t.ciphertext;
    html = h.ciphertext;
    masterKeyVersion = t.masterKeyVersion;
  }
  await db
    .insertInto('mail_outbox')
    .values({
      id,
      tenant_id: mail.tenantId,
      kind: mail.kind,
      to_address: mail.to,
      subject: mail.subject,
      text_body: text,
      html_body: html,
      sealed: mail.sealed ? 1 : 0,
      master_key_version: masterKeyVersion,
      message_id: `<${id}@${senderDomain(svc.config.mailFrom)}>`,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      locked_by: null,
      last_error: null,
      created_at: now,
      updated_at: now,
      sent_at: null,
      access_key_id: mail.about?.accessKeyId ?? null,
      key_expires_at: mail.about?.expiresAt ?? null,
      key_secret_version: mail.about?.secretVersion ?? null,
    })
    .execute();
  return id;
}

/** Tell this process's worker that mail is waiting (after the enqueueing transaction committed). */
export function mailQueued(svc: Services, tenantId: string): void {
  svc.events.emit('mail-queued', { tenantId });
}

/**
 * What is not delivered yet (pending, or being sent) across tenants, and how long the oldest has
 * waited: mail, or webhook deliveries (the same outbox discipline, src/notify/leases.ts).
 */
export async function outboxBacklog(
  svc: Services,
  table: 'mail_outbox' | 'webhook_deliveries' = 'mail_outbox',
): Promise<{ waiting: number; oldestAgeSeconds: number }> {
  const row = await svc.db
    .selectFrom(table)
    .where('status', 'in', ['pending', 'sending'])
    .select((eb) => [eb.fn.countAll<string | number>().as('waiting'), eb.fn.min('created_at').as('oldest')])
    .executeTakeFirst();
  const oldest = row?.oldest ? new Date(row.oldest as string | Date).getTime() : null;
  return {
    waiting: Number(row?.waiting ?? 0),
    oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (svc.clock.now().getTime() - oldest) / 1000),
  };
}

export type OutboxView = Static<typeof OutboxViewSchema>;

const outboxView = (r: OutboxRow): OutboxView => ({
  id: r.id,
  kind: r.kind,
  to: r.to_address,
  subject: r.subject,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
  lastError: r.last_error,
  messageId: r.message_id,
  createdAt: r.created_at,
  sentAt: r.sent_at,
  accessKeyId: r.access_key_id,
  text: r.sealed ? null : r.text_body,
  html: r.sealed ? null : r.html_body,
  sealed: r.sealed === 1,
});

export async function listOutbox(
  db: DbOrTx,
  tenantId: string,
  filter: { status?: OutboxStatus; limit: number; offset: number },
): Promise<{ items: OutboxView[]; total: number }> {
  let query = db.selectFrom('mail_outbox').where('tenant_id', '=', tenantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  const [rows, count] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(outboxView), total: Number(count.n) };
}

/** A message as handed to the transport. */
export interface Envelope {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

/** Something that delivers one message or throws (nodemailer errors carry `responseCode`). */
export interface MailTransport {
  send(message: Envelope): Promise<void>;
  close(): void;
}

export interface OutboxWorkerOptions {
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** How long a claim holds; longer than the slowest SMTP conversation (timeouts are 30 s). */
  leaseMs?: number;
  /** Tries in all for connection errors and 4xx replies; a 5xx ends at once. */
  maxAttempts?: number;
  /** Back-off before try n+1: base · 2^(n-1), at most `backoffMaxMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Runs after the SMTP server accepted a message and before the row is marked sent. Tests use
   * it to simulate a crash in that window (throw: the run aborts, the row keeps its claim).
   */
  afterAccept?: (row: OutboxRow) => void | Promise<void>;
  /**
   * Runs after a row was claimed and before it is checked and sent. Tests use it to let the
   * world change in that window (the key, or another worker taking over the claim).
   */
  afterClaim?: (row: OutboxRow) => void | Promise<void>;
}

export interface OutboxRunResult {
  sent: number;
  retried: number;
  failed: number;
  /** No longer true when its turn came (see mail-recheck.ts): not sent. */
  dropped: number;
}

interface SmtpError {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
}

function describe(error: unknown): { permanent: boolean; reason: string } {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpError;
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const detail = (e.response ?? e.message ?? 'unknown error').replace(/\s+/g, ' ').trim();
  const reason = (code !== undefined ? `SMTP ${code}: ${detail}` : `${e.code ?? 'error'}: ${detail}`).slice(
    0,
    500,
  );
  // 5xx is a permanent refusal (bad address, policy, auth): repeating it changes nothing.
  // An envelope error without a reply code is our input, not the network: also permanent.
  const permanent =
    (code !== undefined && code >= 500) ||
    (code === undefined && e.code === 'EENVELOPE') ||
    (e as { permanent?: unknown }).permanent === true;
  return { permanent, reason };
}

export class OutboxWorker {
  private readonly tokens = new ClaimTokens();
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  constructor(
    private readonly svc: Services,
    private readonly transport: MailTransport,
    private readonly options: OutboxWorkerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 20;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.backoffBaseMs = options.backoffBaseMs ?? 30_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 60 * 60_000;
  }

  /** Deliver everything due now; returns when no due row is left. */
  async runOnce(): Promise<OutboxRunResult> {
    const result: OutboxRunResult = { sent: 0, retried: 0, failed: 0, dropped: 0 };
    for (;;) {
      const { rows, token } = await this.claim();
      if (rows.length === 0) return result;
      for (const row of rows) {
        const outcome = await this.deliver(row, token);
        if (outcome === 'lost') continue;
        result[outcome] += 1;
        this.svc.metrics.mailDeliveries.inc({ outcome });
      }
    }
  }

  private async claim(): Promise<{ rows: OutboxRow[]; token: string }> {
    const token = this.tokens.next();
    const rows = await claimDue(this.svc, 'mail_outbox', {
      token,
      limit: this.batchSize,
      leaseMs: this.leaseMs,
    });
    return { rows, token };
  }

  private async deliver(
    row: OutboxRow,
    token: string,
  ): Promise<'sent' | 'retried' | 'failed' | 'dropped' | 'lost'> {
    const { svc } = this;
    await this.options.afterClaim?.(row);
    const verdict = await this.recheck(row, token);
    if (verdict !== 'send') return verdict;
    let text = row.text_body;
    let html = row.html_body;
    if (row.sealed === 1) {
      const version = row.master_key_version ?? 1;
      try {
        text = svc.secrets.open({ ciphertext: text, masterKeyVersion: version }, bodyContext(row.id, 'text'));
        html = svc.secrets.open({ ciphertext: html, masterKeyVersion: version }, bodyContext(row.id, 'html'));
      } catch {
        // Its master key was pruned from the keyring: no retry can ever open it.
        return this.recordFailure(row, token, {
          code: 'ESEALED',
          message: `the sealed body cannot be opened with master key version ${version}`,
          permanent: true,
        });
      }
    }
    try {
      await this.transport.send({
        from: svc.config.mailFrom,
        to: row.to_address,
        subject: row.subject,
        text,
        html,
        messageId: row.message_id,
      });
    } catch (error) {
      return this.recordFailure(row, token, error);
    }
    // Between the accept above and the UPDATE below is the at-least-once window: keep it empty.
    await this.options.afterAccept?.(row);
    const nowIso = iso(svc.clock.now());
    const marked = await svc.db
      .updateTable('mail_outbox')
      .set({
        status: 'sent',
        sent_at: nowIso,
        updated_at: nowIso,
        locked_until: null,
        last_error: null,
        // A delivered credential is not kept: the sealed bodies go.
        ...(row.sealed === 1 ? { text_body: '', html_body: '', sealed: 0, master_key_version: null } : {}),
      })
      .where('id', '=', row.id)
      .where('locked_by', '=', token)
      .where('status', '=', 'sending')
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) {
      svc.logger.warn(
        { outboxId: row.id },
        'mail outbox: a message was delivered after its claim expired; another worker may deliver it again',
      );
    }
    return 'sent';
  }

  /**
   * Is the row still ours, and the email still true? Drops it when not true. 'lost': the claim
   * is no longer this worker's (its lease ran out and another worker took the row), and the new
   * holder delivers or drops it.
   */
  private async recheck(row: OutboxRow, token: string): Promise<'send' | 'dropped' | 'lost'> {
    const { svc } = this;
    const accessKeyId = row.access_key_id;
    const outcome = await svc.db.transaction().execute(async (trx) => {
      const nowIso = iso(svc.clock.now());
      // A write first (holdClaim): no other worker can claim the row between our check and our
      // mark. A dropped row is never marked sent: that mark needs status 'sending'.
      if (!(await holdClaim(trx, 'mail_outbox', row.id, token, nowIso))) return { verdict: 'lost' as const };
      if (accessKeyId === null) return { verdict: 'send' as const };
      const reason = staleReason(row, await keyNow(trx, row.tenant_id, accessKeyId), svc.clock.now());
      if (reason === null) return { verdict: 'send' as const };
      await trx
        .updateTable('mail_outbox')
        .set({
          status: 'dropped',
          locked_until: null,
          last_error: reason,
          updated_at: nowIso,
          // Like a delivered one: a credential that will never be sent is not kept either.
          ...(row.sealed === 1 ? { text_body: '', html_body: '', sealed: 0, master_key_version: null } : {}),
        })
        .where('id', '=', row.id)
        .where('locked_by', '=', token)
        .execute();
      const released = await releaseReminderClaim(trx, svc.engine, row);
      return { verdict: 'dropped' as const, reason, released };
    });
    if (outcome.verdict === 'dropped') {
      svc.logger.info(
        {
          outboxId: row.id,
          kind: row.kind,
          accessKeyId,
          reason: outcome.reason,
          reminderReleased: outcome.released,
        },
        'mail outbox: dropped a message that is no longer true',
      );
    } else if (outcome.verdict === 'lost') {
      svc.logger.warn(
        { outboxId: row.id },
        'mail outbox: a claim expired before delivery; its new holder sends it',
      );
    }
    return outcome.verdict;
  }

  private async recordFailure(row: OutboxRow, token: string, error: unknown): Promise<'retried' | 'failed'> {
    const { svc } = this;
    const { permanent, reason } = describe(error);
    const now = svc.clock.now();
    const giveUp = permanent || row.attempts >= this.maxAttempts;
    const lastError = giveUp && !permanent ? `gave up after ${row.attempts} attempts: ${reason}` : reason;
    const delay = backoffMs(row.attempts, this.backoffBaseMs, this.backoffMaxMs);
    await svc.db
      .updateTable('mail_outbox')
      .set({
        status: giveUp ? 'failed' : 'pending',
        next_attempt_at: giveUp ? row.next_attempt_at : iso(addMs(now, delay)),
        locked_until: null,
        last_error: lastError,
        updated_at: iso(now),
      })
      .where('id', '=', row.id)
      .where('locked_by', '=', token)
      .execute();
    const log = { outboxId: row.id, kind: row.kind, attempt: row.attempts, reason };
    if (giveUp) svc.logger.error(log, 'mail outbox: giving up on a message');
    else svc.logger.warn({ ...log, retryInMs: delay }, 'mail outbox: delivery failed, will retry');
    return giveUp ? 'failed' : 'retried';
  }
}
