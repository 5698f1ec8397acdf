/**
 * Gateway denials in the audit log, rate-limited: a caller holding a valid key could otherwise
 * write a row per request by asking for routes it may not use. Per instance, at most one row per
 * key, API and code a minute (the next row says how many were left out), and at most
 * `TENANT_ROWS_PER_MINUTE` a minute per tenant whatever the keys. Failed signatures are not audited
 * here (they prove nothing about who sent them); the failure throttle slows those.
 */
import { writeAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';
import type { ErrorCode } from '../errors.js';
import type { Services } from '../services.js';

const WINDOW_MS = 60_000;
const TENANT_ROWS_PER_MINUTE = 30;
const TRACKED_LIMIT = 10_000;

export interface Denial {
  actor: Actor;
  apiId: string;
  code: ErrorCode;
  method: string;
  path: string;
  permission?: string;
}

export class DenialAudit {
  /** key|api|code → when the last row was written and how many were left out since. */
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();
  private readonly tenantRows = new Map<string, { windowStart: number; rows: number }>();

  constructor(private readonly svc: Services) {}

  /** Write the denial unless a row for the same key, API and code was written within the minute. */
  record(denial: Denial): void {
    const now = this.svc.clock.now().getTime();
    const { actor } = denial;
    const id = `${actor.tenantId}|${actor.accessKeyId ?? actor.id}|${denial.apiId}|${denial.code}`;
    const seen = this.last.get(id);
    if (seen !== undefined && now - seen.atMs < WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    let tenant = this.tenantRows.get(actor.tenantId);
    if (tenant === undefined || now - tenant.windowStart >= WINDOW_MS) {
      tenant = { windowStart: now, rows: 0 };
      this.tenantRows.set(actor.tenantId, tenant);
    }
    if (tenant.rows >= TENANT_ROWS_PER_MINUTE) {
      if (seen) seen.suppressed++;
      return;
    }
    tenant.rows++;
    if (this.last.size >= TRACKED_LIMIT) this.last.clear();
    if (this.tenantRows.size >= TRACKED_LIMIT) this.tenantRows.clear();
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(id, { atMs: now, suppressed: 0 });
    const after = {
      code: denial.code,
      method: denial.method,
      path: denial.path.slice(0, 300),
      ...(denial.permission ? { permission: denial.permission } : {}),
      ...(actor.accessKeyId ? { accessKeyId: actor.accessKeyId } : {}),
      suppressedSinceLast: suppressed,
    };
    writeAudit(
      this.svc.db,
      this.svc.clock,
      actor,
      'gateway.deny',
      { type: 'api', id: denial.apiId },
      null,
      after,
    ).catch((error: unknown) =>
      this.svc.logger.warn({ err: error }, 'could not write a gateway denial to the audit log'),
    );
  }
}
