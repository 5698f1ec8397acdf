/**
 * The query parameters a presigned URL adds for authentication, so routes that read the query for
 * their own meaning (the data API's filters) can leave them out.
 *
 * Exactly the names `parseSigV4` (parse.ts) reads as authentication: the six presign parameters in
 * AWS's spelling, case-sensitive as the parser matches them, and X-Amz-Security-Token and
 * X-Amz-Content-Sha256 in any case, as the parser reads those. Ignoring a wider set (say every
 * `x-amz-signature` spelling) would let a parameter the verifier treated as plain signed data
 * vanish silently; ignoring a narrower one would refuse URLs the verifier accepted.
 */
const EXACT: ReadonlySet<string> = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
]);
const ANY_CASE: ReadonlySet<string> = new Set(['x-amz-security-token', 'x-amz-content-sha256']);

export function isSigV4QueryAuthParam(name: string): boolean {
  return EXACT.has(name) || (name.length >= 20 && ANY_CASE.has(name.toLowerCase()));
}

/** The query without presign authentication parameters (the same object when it has none). */
export function withoutSigV4QueryAuth<T>(query: Record<string, T>): Record<string, T> {
  let found = false;
  for (const name of Object.keys(query)) {
    if (isSigV4QueryAuthParam(name)) {
      found = true;
      break;
    }
  }
  if (!found) return query;
  return Object.fromEntries(Object.entries(query).filter(([name]) => !isSigV4QueryAuthParam(name)));
}
