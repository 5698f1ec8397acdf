/**
 * Can a key read anything? A key never has more than its owner, so an owner without a data
 * permission gets keys that authenticate and then are refused on every data request. The
 * console warns before creating such a key and after Test Connection.
 *
 * Does any of these permissions (or patterns) reach the data API? Admin-API permissions start with
 * `iam:`; everything else is data (`agent:read`, `*:read`, `*`, a registered API's own), the same
 * line the server draws for an api-type key.
 */
export function grantsData(permissions: readonly string[]): boolean {
  return permissions.some((p) => !p.startsWith('iam:'));
}

/** What a key for this owner could read: some data, nothing, or not known to the console. */
export type DataAccess = 'some' | 'none' | 'unknown';
