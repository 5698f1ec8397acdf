/**
 * Is this error the database being away (rather than a bug)? Then a request answers 503
 * SERVICE_UNAVAILABLE with Retry-After, which clients and load balancers retry, instead of 500.
 *
 * PostgreSQL: the connection-exception class (SQLSTATE 08…), an administrator or crash shutdown or
 * a server that is starting (57P01–57P03: what `pg_terminate_backend` or a restart gives the query
 * in flight), too many connections (53300), and node-postgres's own errors when the socket goes
 * (a terminated connection, a refused or reset one, a pool that could not connect in time).
 * SQLite: another process holding the write lock past the busy timeout (SQLITE_BUSY).
 */
const PG_UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (PG_UNAVAILABLE_STATES.has(code) || SOCKET_CODES.has(code)) return true;
    if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_')) return true;
  }
  return /^Connection terminated|^timeout exceeded when trying to connect|^Client has encountered a connection error/.test(
    error.message,
  );
}
