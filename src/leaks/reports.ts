/**
 * Leak reports (POST /v1/leaked-keys), in GitHub's secret-scanning partner format: a JSON array of
 * `{token, type, url, source}`, answered with GitHub's feedback shape, one entry per token:
 * `{token_raw, token_type, label}` with `label` `true_positive` (a live latchkey credential: its
 * key is now quarantined) or `false_positive` (not a credential latchkey knows, or not one this
 * reporter may report).
 *
 * A token is an access key ID (`LKIA…`, its checksum checked before any read, then one lookup by
 * primary key) or a secret access key (`lksk_…`, found through its keyed lookup hash: one indexed
 * read, nothing decrypted: see lookup.ts). Anything else is answered false_positive without a
 * database read. A GitHub-signed report acts for the operator and reaches every tenant; a report
 * sent with latchkey credentials (iam:leaks:report) reaches only keys of the caller's tenant, and
 * a key of another tenant is answered false_positive, exactly like a token nobody has.
 *
 * Temporary credentials (`LKSA…` IDs, or their `lkst_…` session token) are ended at once
 * (revoked, audited with the report as reason): they are the leaked thing, not their source key.
 */
import {
  findReportedSessionCredentials,
  revokeLeakedSessionCredentials,
} from '../auth/session-credentials.js';
import { operatorActor } from '../context.js';
import { isWellFormedAccessKeyId } from '../crypto/access-key-id.js';
import { hasSecretShape } from '../crypto/secret-format.js';
import type { Services } from '../services.js';
import { findKeyBySecret } from './lookup.js';
import { GITHUB_ACTOR_ID, quarantineKey, type Reporter } from './quarantine.js';

export interface LeakReportItem {
  token: string;
  type: string;
  url?: string | null;
  source?: string | null;
}

export interface LeakFeedback {
  token_raw: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

export interface ReportOutcome {
  feedback: LeakFeedback[];
  /** Keys quarantined by this report (not those that already were). */
  quarantined: string[];
}

/** The key a reported token belongs to, or undefined. */
async function keyOfToken(
  svc: Services,
  token: string,
): Promise<{ accessKeyId: string; tenantId: string } | undefined> {
  if (isWellFormedAccessKeyId(token)) {
    const row = await svc.db
      .selectFrom('access_keys')
      .select(['id', 'tenant_id'])
      .where('id', '=', token)
      .executeTakeFirst();
    return row && { accessKeyId: row.id, tenantId: row.tenant_id };
  }
  // Either secret format: the checksum alone cannot vouch for secrets made before it.
  if (hasSecretShape(token)) return findKeyBySecret(svc, svc.db, token);
  return undefined;
}

export async function processLeakReport(
  svc: Services,
  reporter: Reporter,
  items: readonly LeakReportItem[],
): Promise<ReportOutcome> {
  const feedback: LeakFeedback[] = [];
  const quarantined: string[] = [];
  for (const item of items) {
    const temporary = await findReportedSessionCredentials(svc, item.token);
    if (temporary !== undefined) {
      const mayEnd = reporter.kind === 'github' || reporter.actor.tenantId === temporary.tenantId;
      if (mayEnd) {
        const actor =
          reporter.kind === 'github' ? operatorActor(temporary.tenantId, GITHUB_ACTOR_ID) : reporter.actor;
        const where = item.url ? ` at ${item.url}` : '';
        await revokeLeakedSessionCredentials(svc, actor, temporary.id, `reported leaked${where}`);
      }
      feedback.push({
        token_raw: item.token,
        token_type: item.type,
        label: mayEnd ? 'true_positive' : 'false_positive',
      });
      continue;
    }
    const key = await keyOfToken(svc, item.token);
    const mayReport =
      key !== undefined && (reporter.kind === 'github' || reporter.actor.tenantId === key.tenantId);
    if (key !== undefined && mayReport) {
      const facts = { type: item.type, source: item.source ?? null, url: item.url ?? null };
      if (await quarantineKey(svc, reporter, key, facts)) quarantined.push(key.accessKeyId);
    }
    feedback.push({
      token_raw: item.token,
      token_type: item.type,
      label: mayReport ? 'true_positive' : 'false_positive',
    });
  }
  return { feedback, quarantined };
}
