import type { AppError } from '../errors.js';
import type { Services } from '../services.js';
import { isUniqueViolation, type Tx } from '../storage/dialect.js';

export interface WriteOptions {
  /** The tenant whose cached permissions the write makes stale: 'authz-changed' is emitted once it commits. */
  authzChangedIn?: string;
  /** The error for a unique-constraint violation (a name or email another row already holds). */
  duplicate?: () => AppError;
}

/** Run an identity write in one transaction; what follows a commit or a unique violation is in `options`. */
export async function writeTransaction<T>(
  svc: Services,
  options: WriteOptions,
  work: (trx: Tx) => Promise<T>,
): Promise<T> {
  try {
    const result = await svc.db.transaction().execute(work);
    if (options.authzChangedIn !== undefined) {
      svc.events.emit('authz-changed', { tenantId: options.authzChangedIn });
    }
    return result;
  } catch (error) {
    if (options.duplicate && isUniqueViolation(error)) throw options.duplicate();
    throw error;
  }
}
