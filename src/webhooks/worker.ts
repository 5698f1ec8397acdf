/**
 * Delivering webhook events: rows of `webhook_deliveries` claimed with the mail outbox's lease
 * and fencing-token discipline (notify/leases.ts), POSTed to their endpoint, signed, and marked by
 * the claim's holder only. At least once: a process that dies after the receiver answered and
 * before the mark leaves the row `sending` until its lease ends, and the next worker sends it
 * again with the same `webhook-id`, which receivers de-duplicate on.
 *
 * A delivery is a success when the receiver answers 2xx within the timeout; anything else (another
 * status, a refused or reset connection, a timeout, an address the host may not resolve to) is
 * retried with exponential back-off and jitter until `maxAttempts`, then `failed`. Redirects are
 * not followed (a 3xx is a failure): following one would leave the address check behind.
 *
 * The endpoint counts failed attempts since its last success. When it has failed `disableAfter`
 * times in a row over at least `disableAfterMs` (so neither one slow hour nor a burst of events
 * during a short outage turns it off), it is disabled, its waiting deliveries are dropped, and the
 * tenant's administrators are emailed through the mail outbox, all in one transaction.
 */
import http from 'node:http';
import https from 'node:https';
import { sql } from 'kysely';
import { writeAudit } from '../audit/audit.js';
import { publicBaseUrl } from '../config.js';
import { operatorActor } from '../context.js';
import { administratorMemberships } from '../identity/authorization.js';
import { backoffMs, ClaimTokens, claimDue, holdClaim } from '../notify/leases.js';
import { enqueueMail, mailQueued } from '../notify/outbox.js';
import { tenantName } from '../notify/reminders.js';
import { webhookDisabledEmail } from '../notify/templates.js';
import type { Services } from '../services.js';
import { forUpdate, type Tx } from '../storage/dialect.js';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../storage/tables.js';
import { addMs, iso } from '../time.js';
import { guardedConnection } from './address.js';
import { openSecret, webhookView } from './endpoints.js';
import { signatureHeaders } from './signature.js';

export interface WebhookWorkerOptions {
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** How long a claim holds: well beyond `timeoutMs`, so a slow receiver never outlives its claim. */
  leaseMs?: number;
  /** One attempt's limit: connecting, sending and the receiver's status line. */
  timeoutMs?: number;
  /** Attempts in all before a delivery is `failed`. */
  maxAttempts?: number;
  /** Back-off before attempt n+1: base · 2^(n-1), at most `backoffMaxMs`, less up to `jitter` of it. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  jitter?: number;
  /** Consecutive failed attempts, over at least `disableAfterMs`, that disable an endpoint. */
  disableAfter?: number;
  disableAfterMs?: number;
  /**
   * Runs after the receiver answered 2xx and before the row is marked delivered. Tests use it to
   * simulate a crash in that window (throw: the run aborts, the row keeps its claim).
   */
  afterAnswer?: (row: WebhookDeliveryRow) => void | Promise<void>;
}

export interface WebhookRunResult {
  delivered: number;
  retried: number;
  failed: number;
  dropped: number;
}

const RESPONSE_LIMIT_BYTES = 64 * 1024;
const USER_AGENT = 'latchkey-webhooks/1';

interface Attempt {
  status: number | null;
  error: string | null;
}

/**
 * POST the body; the receiver's status, or why there is none. The answer's body is read (at most
 * 64 KiB) and dropped; the deadline also bounds how long a receiver may keep the connection open
 * after its status line, so a slow body never holds a socket.
 */
function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  allowPrivate: boolean,
): Promise<Attempt> {
  const { refused, lookup } = guardedConnection(url, allowPrivate);
  if (refused) return Promise.resolve({ status: null, error: `${refused.code}: ${refused.message}` });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (attempt: Attempt) => {
      if (!settled) {
        settled = true;
        resolve(attempt);
      }
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': USER_AGENT,
        },
        // A fresh connection each time: a pooled socket would skip the address check of `lookup`.
        agent: false,
        ...(lookup ? { lookup } : {}),
      },
      (res) => {
        settle({ status: res.statusCode ?? 0, error: null });
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > RESPONSE_LIMIT_BYTES) res.destroy();
        });
        res.on('error', () => {});
        res.on('close', () => clearTimeout(deadline));
      },
    );
    const deadline = setTimeout(() => {
      settle({ status: null, error: `ETIMEDOUT: no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      settle({ status: null, error: `${error.code ?? 'error'}: ${error.message}`.slice(0, 500) });
    });
    req.end(body);
  });
}

export class WebhookWorker {
  private readonly tokens = new ClaimTokens();
  private readonly o: Required<Omit<WebhookWorkerOptions, 'afterAnswer'>>;

  constructor(
    private readonly svc: Services,
    private readonly options: WebhookWorkerOptions = {},
  ) {
    this.o = {
      batchSize: options.batchSize ?? 20,
      leaseMs: options.leaseMs ?? 2 * 60_000,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxAttempts: options.maxAttempts ?? 15,
      backoffBaseMs: options.backoffBaseMs ?? 30_000,
      backoffMaxMs: options.backoffMaxMs ?? 6 * 3_600_000,
      jitter: options.jitter ?? 0.2,
      disableAfter: options.disableAfter ?? 15,
      disableAfterMs: options.disableAfterMs ?? 24 * 3_600_000,
    };
  }

  /** Deliver everything due now; returns when no due row is left. */
  async runOnce(): Promise<WebhookRunResult> {
    const result: WebhookRunResult = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
    for (;;) {
      const token = this.tokens.next();
      const rows = await claimDue(this.svc, 'webhook_deliveries', {
        token,
        limit: this.o.batchSize,
        leaseMs: this.o.leaseMs,
      });
      if (rows.length === 0) return result;
      // A batch goes out side by side: a slow receiver delays the next batch by its timeout at most,
      // not by the sum of everyone's. (So events are not ordered: receivers order by `timestamp`.)
      const outcomes = await Promise.all(rows.map((row) => this.deliver(row, token)));
      for (const outcome of outcomes) {
        if (outcome === 'lost') continue;
        result[outcome] += 1;
        this.svc.metrics.webhookDeliveries.inc({ outcome });
      }
    }
  }

  private async deliver(
    row: WebhookDeliveryRow,
    token: string,
  ): Promise<'delivered' | 'retried' | 'failed' | 'dropped' | 'lost'> {
    const { svc } = this;
    const endpoint = await this.recheck(row, token);
    if (endpoint === 'lost' || endpoint === 'dropped') return endpoint;
    let secret: string;
    try {
      secret = openSecret(svc, endpoint);
    } catch {
      // Its master key was pruned from the keyring: no retry can sign it.
      return this.recordFailure(row, token, {
        status: null,
        error: `ESEALED: the endpoint's secret cannot be opened with master key version ${endpoint.master_key_version}`,
      });
    }
    const timestamp = Math.floor(svc.clock.now().getTime() / 1000);
    const headers = signatureHeaders(secret, row.id, timestamp, row.payload);
    const attempt = await post(
      new URL(endpoint.url),
      headers,
      row.payload,
      this.o.timeoutMs,
      svc.config.webhookAllowPrivate,
    );
    if (attempt.status === null || attempt.status < 200 || attempt.status >= 300) {
      return this.recordFailure(row, token, attempt);
    }
    // Between the answer above and the UPDATE below is the at-least-once window: keep it empty.
    await this.options.afterAnswer?.(row);
    const nowIso = iso(svc.clock.now());
    const marked = await svc.db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable('webhook_deliveries')
        .set({
          status: 'delivered',
          delivered_at: nowIso,
          updated_at: nowIso,
          locked_until: null,
          last_status_code: attempt.status,
          last_error: null,
        })
        .where('id', '=', row.id)
        .where('locked_by', '=', token)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      await trx
        .updateTable('webhook_endpoints')
        .set({ consecutive_failures: 0, failing_since: null, last_success_at: nowIso })
        .where('id', '=', endpoint.id)
        .execute();
      return Number(done.numUpdatedRows) > 0;
    });
    if (!marked) {
      svc.logger.warn(
        { deliveryId: row.id },
        'webhooks: a delivery was answered after its claim expired; another worker may send it again',
      );
    }
    return 'delivered';
  }

  /**
   * Is the row still ours, and its endpoint still enabled? The endpoint as it is now, or why not
   * to send: 'lost' (another worker holds the row, or the endpoint is gone with its deliveries),
   * 'dropped' (the endpoint was disabled).
   */
  private async recheck(
    row: WebhookDeliveryRow,
    token: string,
  ): Promise<WebhookEndpointRow | 'lost' | 'dropped'> {
    const { svc } = this;
    return svc.db.transaction().execute(async (trx) => {
      const nowIso = iso(svc.clock.now());
      // A write first (holdClaim): the row stays ours until the verdict is written.
      if (!(await holdClaim(trx, 'webhook_deliveries', row.id, token, nowIso))) return 'lost' as const;
      const endpoint = await trx
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('id', '=', row.endpoint_id)
        .where('tenant_id', '=', row.tenant_id)
        .executeTakeFirst();
      if (!endpoint) return 'lost' as const;
      if (endpoint.enabled === 1) return endpoint;
      await trx
        .updateTable('webhook_deliveries')
        .set({
          status: 'dropped',
          locked_until: null,
          last_error: 'the endpoint is disabled',
          updated_at: nowIso,
        })
        .where('id', '=', row.id)
        .where('locked_by', '=', token)
        .execute();
      return 'dropped' as const;
    });
  }

  private async recordFailure(
    row: WebhookDeliveryRow,
    token: string,
    attempt: Attempt,
  ): Promise<'retried' | 'failed' | 'lost'> {
    const { svc } = this;
    const now = svc.clock.now();
    const nowIso = iso(now);
    const reason = (attempt.error ?? `HTTP ${attempt.status}`).slice(0, 500);
    const giveUp = row.attempts >= this.o.maxAttempts;
    const delay = backoffMs(row.attempts, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.jitter);
    const outcome = await svc.db.transaction().execute(async (trx) => {
      const marked = await trx
        .updateTable('webhook_deliveries')
        .set({
          status: giveUp ? 'failed' : 'pending',
          next_attempt_at: giveUp ? row.next_attempt_at : iso(addMs(now, delay)),
          locked_until: null,
          last_status_code: attempt.status,
          last_error: giveUp ? `gave up after ${row.attempts} attempts: ${reason}` : reason,
          updated_at: nowIso,
        })
        .where('id', '=', row.id)
        .where('locked_by', '=', token)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return { verdict: 'lost' as const, disabled: false };
      await trx
        .updateTable('webhook_endpoints')
        .set({
          consecutive_failures: sql<number>`consecutive_failures + 1`,
          failing_since: sql<string>`coalesce(failing_since, ${nowIso})`,
        })
        .where('id', '=', row.endpoint_id)
        .execute();
      const disabled = await this.disableIfFailing(trx, row, reason);
      return { verdict: giveUp ? ('failed' as const) : ('retried' as const), disabled };
    });
    const log = { deliveryId: row.id, endpointId: row.endpoint_id, attempt: row.attempts, reason };
    if (outcome.verdict === 'failed') svc.logger.error(log, 'webhooks: giving up on a delivery');
    else if (outcome.verdict === 'retried')
      svc.logger.warn({ ...log, retryInMs: delay }, 'webhooks: delivery failed, will retry');
    if (outcome.disabled) {
      mailQueued(svc, row.tenant_id);
      svc.logger.warn(
        { endpointId: row.endpoint_id },
        'webhooks: disabled an endpoint after repeated failures',
      );
    }
    return outcome.verdict;
  }

  /** Disable the endpoint when it has failed long enough; tell the administrators. Inside the failure's transaction. */
  private async disableIfFailing(trx: Tx, row: WebhookDeliveryRow, reason: string): Promise<boolean> {
    const { svc } = this;
    const endpoint = await forUpdate(
      trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', row.endpoint_id),
      svc.engine,
    ).executeTakeFirst();
    if (endpoint?.enabled !== 1 || endpoint.failing_since === null) return false;
    const now = svc.clock.now();
    const failingMs = now.getTime() - Date.parse(endpoint.failing_since);
    if (endpoint.consecutive_failures < this.o.disableAfter || failingMs < this.o.disableAfterMs)
      return false;
    const nowIso = iso(now);
    const disabledReason =
      `disabled after ${endpoint.consecutive_failures} failed attempts since ${endpoint.failing_since}; last: ${reason}`.slice(
        0,
        600,
      );
    await trx
      .updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: disabledReason, updated_at: nowIso })
      .where('id', '=', endpoint.id)
      .execute();
    // What waits for it would only fail too: dropped, visibly, in its log.
    await trx
      .updateTable('webhook_deliveries')
      .set({
        status: 'dropped',
        last_error: 'the endpoint was disabled after repeated failures',
        updated_at: nowIso,
      })
      .where('endpoint_id', '=', endpoint.id)
      .where('status', '=', 'pending')
      .execute();
    const after = { ...endpoint, enabled: 0 as const, disabled_reason: disabledReason, updated_at: nowIso };
    await writeAudit(
      trx,
      svc.clock,
      operatorActor(endpoint.tenant_id, 'webhook-worker'),
      'webhook.disable',
      { type: 'webhook', id: endpoint.id },
      webhookView(endpoint),
      webhookView(after),
    );
    const [admins, tenant] = await Promise.all([
      administratorMemberships(trx, endpoint.tenant_id)
        .innerJoin('users', 'users.id', 'group_members.member_id')
        .select('users.email')
        .where('users.status', '=', 'active')
        .orderBy('users.email')
        .execute(),
      tenantName(trx, endpoint.tenant_id),
    ]);
    const email = webhookDisabledEmail({
      tenantName: tenant,
      webhookId: endpoint.id,
      url: endpoint.url,
      failures: endpoint.consecutive_failures,
      failingSince: endpoint.failing_since,
      lastError: reason,
      baseUrl: publicBaseUrl(svc.config),
    });
    for (const { email: to } of admins) {
      await enqueueMail(svc, trx, { tenantId: endpoint.tenant_id, kind: 'webhook_disabled', to, ...email });
    }
    return true;
  }
}

/** How long finished deliveries stay in an endpoint's log. */
export const DELIVERY_LOG_DAYS = 30;

/** Remove finished deliveries (delivered, failed, dropped) older than `days`; returns how many went. */
export async function pruneDeliveries(svc: Services, days = DELIVERY_LOG_DAYS): Promise<number> {
  const before = iso(addMs(svc.clock.now(), -days * 86_400_000));
  const result = await svc.db
    .deleteFrom('webhook_deliveries')
    .where('status', 'in', ['delivered', 'failed', 'dropped'])
    .where('updated_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface WebhookDispatcherOptions extends WebhookWorkerOptions {
  /** How often due deliveries are looked for (new events, retries, other instances' events). */
  pollMs?: number;
}

const PRUNE_EVERY_MS = 3_600_000;

/**
 * The worker of a serving instance: runs every `pollMs` (2 s), one run at a time. Events are
 * queued inside other modules' transactions (writeAudit), which cannot wake a worker after their
 * commit, so a short poll of an indexed query stands in for a wake-up.
 */
export class WebhookDispatcher {
  readonly worker: WebhookWorker;
  private timer: NodeJS.Timeout | undefined;
  private run: Promise<unknown> | undefined;
  private stopped = true;
  private prunedAtMs = 0;

  constructor(
    private readonly svc: Services,
    private readonly options: WebhookDispatcherOptions = {},
  ) {
    this.worker = new WebhookWorker(svc, options);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.options.pollMs ?? 2_000);
    this.kick();
  }

  private kick(): void {
    if (this.stopped || this.run) return;
    this.run = this.svc.metrics
      .job('webhooks', () => this.worker.runOnce())
      .then(() => this.pruneHourly())
      .catch((error: unknown) => this.svc.logger.error({ err: error }, 'webhook delivery run failed'))
      .finally(() => {
        this.run = undefined;
      });
  }

  /** The delivery log keeps DELIVERY_LOG_DAYS of finished deliveries: older ones go, once an hour. */
  private async pruneHourly(): Promise<void> {
    const now = this.svc.clock.now().getTime();
    if (now - this.prunedAtMs < PRUNE_EVERY_MS) return;
    this.prunedAtMs = now;
    const removed = await pruneDeliveries(this.svc);
    if (removed > 0) this.svc.logger.info({ removed }, 'webhooks: pruned old deliveries from the log');
  }

  /** Stop polling and wait for the run in progress (claimed deliveries are finished, not dropped). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.run;
  }
}
