/**
 * Paths of registered APIs: validating base paths and routes, and matching a request to a route.
 * Pure functions (no I/O), shared by the gateway, the verify API and nginx's `/v1/authz`.
 *
 * A route's path is matched segment by segment: a literal segment, `*` for exactly one segment, and
 * a final `/*` for the rest (zero or more segments). Routes are tried in order and the first match
 * wins; method `*` matches any method and `GET` also matches `HEAD`.
 *
 * The request path is matched as the upstream will read it, so no spelling of a path can reach an
 * upstream route under a rule meant for another: segments are percent-decoded before matching,
 * literal segments compare case-insensitively (many servers route `/ADMIN` like `/admin`), and a
 * path the upstream could resolve differently from what was matched is refused outright: dot
 * segments (`..`, `%2e%2e`), empty segments (`//`), encoded slashes or backslashes, NUL.
 */

export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*'] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

export interface ApiRoute {
  method: RouteMethod;
  path: string;
  permission: string;
}

/** A route compiled for matching: its literal segments lowercased, `*` kept, `rest` for a final `/*`. */
export interface CompiledRoute extends ApiRoute {
  segments: readonly string[];
  rest: boolean;
}

const LITERAL = /^[A-Za-z0-9._~!$&'()+,;=:@-]+$/;
const BASE_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/;
const PERMISSION = /^[a-z][a-z0-9-]*(:[a-z][a-z0-9-]*){1,3}$/;

/**
 * First path segments latchkey serves itself (or will: `metrics`, `readyz`, `livez` are reserved
 * for operations), beyond the data API's resource names. A base path may not start with any of them.
 */
export const RESERVED_FIRST_SEGMENTS: readonly string[] = [
  'iam',
  'console',
  'v1',
  '.well-known',
  'healthcheck',
  'version',
  'profile',
  'openapi.json',
  'docs',
  'metrics',
  'readyz',
  'livez',
  'favicon.ico',
];

export type PathProblem = string;

/** Why `basePath` cannot be a base path (null: it can). `reserved`: first segments latchkey owns. */
export function basePathProblem(basePath: string, reserved: ReadonlySet<string>): PathProblem | null {
  if (!basePath.startsWith('/') || basePath.length < 2 || basePath.length > 200)
    return 'a base path starts with / and names at least one segment, at most 200 characters';
  if (basePath.endsWith('/')) return 'a base path does not end with /';
  const segments = basePath.slice(1).split('/');
  if (segments.length > 8) return 'a base path has at most 8 segments';
  for (const s of segments) {
    if (!BASE_SEGMENT.test(s))
      return `the segment "${s}" may hold only letters, digits and . _ ~ - (not starting with .)`;
  }
  const first = (segments[0] as string).toLowerCase();
  if (reserved.has(first)) return `/${segments[0]} is served by latchkey itself`;
  return null;
}

/** Does one base path contain the other (equal, or a whole-segment prefix)? Case-insensitive. */
export function basePathsOverlap(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

export function routePathProblem(path: string): PathProblem | null {
  if (!path.startsWith('/') || path.length > 300)
    return 'a route path starts with / (at most 300 characters)';
  if (path === '/' || path === '/*') return null;
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    if (s === '*') continue;
    if (s === '' && i === segments.length - 1)
      return 'a route path does not end with / (use /* for the rest)';
    if (s === '.' || s === '..' || !LITERAL.test(s))
      return `the segment "${s}" is not a literal segment or *`;
  }
  return null;
}

export function permissionProblem(
  permission: string,
  reservedResources: ReadonlySet<string>,
): PathProblem | null {
  if (!PERMISSION.test(permission) || permission.length > 100)
    return `"${permission}" is not a permission name (lowercase segments separated by colons, like orders:read)`;
  const first = permission.slice(0, permission.indexOf(':'));
  if (first === 'iam') return `"${permission}": iam: permissions are latchkey's own`;
  if (reservedResources.has(first)) return `"${permission}": ${first}: permissions belong to the data API`;
  return null;
}

export function compileRoute(route: ApiRoute): CompiledRoute {
  const parts = route.path === '/' ? [] : route.path.slice(1).split('/');
  const rest = parts[parts.length - 1] === '*' && route.path.endsWith('/*');
  const segments = (rest ? parts.slice(0, -1) : parts).map((s) => (s === '*' ? s : s.toLowerCase()));
  return { ...route, segments, rest };
}

export type SplitPath =
  /** `segments` decoded for matching, `raw` as sent (forwarded as they are). */
  { ok: true; segments: string[]; raw: string[]; trailingSlash: boolean } | { ok: false; message: string };

/**
 * The decoded segments of a request path (no query), or why it is refused. `/a/b/` gives
 * `['a','b']` with a trailing slash; `/` gives no segments.
 */
export function splitRequestPath(rawPath: string): SplitPath {
  if (!rawPath.startsWith('/')) return { ok: false, message: 'the path must start with /' };
  const parts = rawPath.slice(1).split('/');
  let trailingSlash = false;
  if (parts.length > 0 && parts[parts.length - 1] === '') {
    parts.pop();
    trailingSlash = parts.length > 0;
  }
  const segments: string[] = [];
  const raw: string[] = [];
  for (const part of parts) {
    if (part === '') return { ok: false, message: 'the path has an empty segment (//)' };
    let decoded: string;
    try {
      decoded = part.includes('%') ? decodeURIComponent(part) : part;
    } catch {
      return { ok: false, message: 'the path has a malformed percent-encoding' };
    }
    if (decoded === '.' || decoded === '..') return { ok: false, message: 'the path has a . or .. segment' };
    if (/[/\\\0]/.test(decoded))
      return { ok: false, message: 'the path has an encoded slash, backslash or NUL in a segment' };
    segments.push(decoded);
    raw.push(part);
  }
  return { ok: true, segments, raw, trailingSlash };
}

/** Does `route` match `segments` from `offset` on (the part after the API's base path)? */
function routeMatches(
  route: CompiledRoute,
  method: string,
  segments: readonly string[],
  offset: number,
): boolean {
  if (route.method !== '*' && route.method !== method && !(route.method === 'GET' && method === 'HEAD'))
    return false;
  const fixed = route.segments;
  const count = segments.length - offset;
  if (route.rest ? count < fixed.length : count !== fixed.length) return false;
  for (let i = 0; i < fixed.length; i++) {
    const f = fixed[i] as string;
    if (f !== '*' && f !== (segments[offset + i] as string).toLowerCase()) return false;
  }
  return true;
}

/** The first route matching the request's `segments` after the first `offset` (its base path), or undefined. */
export function matchRoute(
  routes: readonly CompiledRoute[],
  method: string,
  segments: readonly string[],
  offset = 0,
): CompiledRoute | undefined {
  for (const route of routes) if (routeMatches(route, method, segments, offset)) return route;
  return undefined;
}
