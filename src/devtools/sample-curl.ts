/**
 * Sample cURL commands for a signed request (the console's Copy button and GET/POST /iam/sample-curl):
 * - `sigv4`: curl 7.75+ signs by itself with `--aws-sigv4 "aws:amz:<region>:<service>"`;
 * - `precomputed`: for older curl, an `Authorization` and `X-Amz-Date` computed now by the AWS
 *   SDK's signer (@smithy/signature-v4), valid for the verifier's clock-skew window (15 minutes).
 * Pure apart from the signing date, which the caller passes.
 */
export interface SampleCurlInput {
  /** `http://127.0.0.1:8080` (no trailing slash needed). */
  baseUrl: string;
  /** Path and query, e.g. `/agent/` or `/salesinvoice/*?docno=IV-00001`. */
  path: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** JSON body for POST/PUT. */
  body?: string;
  accessKeyId: string;
  /** Omit to get a command with a `$LATCHKEY_SECRET_KEY` placeholder (sigv4 variant only). */
  secretAccessKey?: string;
  region: string;
  service: string;
}

export interface SampleCurl {
  /** Runs as-is with curl 7.75 or newer. */
  sigv4: string;
  /** For older curl: headers signed at `signedAt`; undefined without the secret. */
  precomputed?: string;
  signedAt?: string;
}

/** Quote for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export const SECRET_PLACEHOLDER = '$LATCHKEY_SECRET_KEY';

function urlOf(input: SampleCurlInput): URL {
  const path = input.path.startsWith('/') ? input.path : `/${input.path}`;
  return new URL(`${input.baseUrl.replace(/\/+$/, '')}${path}`);
}

/** `url.pathname` percent-encodes nothing we care about, but keeps `*` literal as curl sends it. */
function displayUrl(input: SampleCurlInput): string {
  const path = input.path.startsWith('/') ? input.path : `/${input.path}`;
  return `${input.baseUrl.replace(/\/+$/, '')}${path}`;
}

export async function buildSampleCurl(
  input: SampleCurlInput,
  signingDate: Date = new Date(),
): Promise<SampleCurl> {
  const method = input.method ?? 'GET';
  const hasBody = input.body !== undefined && (method === 'POST' || method === 'PUT');
  const bodyArgs = hasBody
    ? [`-H ${shellQuote('content-type: application/json')}`, `--data-raw ${shellQuote(input.body as string)}`]
    : [];
  const methodArgs = method === 'GET' ? [] : [`-X ${method}`];
  const user =
    input.secretAccessKey === undefined
      ? `"${input.accessKeyId}:${SECRET_PLACEHOLDER}"`
      : shellQuote(`${input.accessKeyId}:${input.secretAccessKey}`);
  const sigv4 = [
    'curl -sS',
    ...methodArgs,
    `--aws-sigv4 ${shellQuote(`aws:amz:${input.region}:${input.service}`)}`,
    `--user ${user}`,
    ...bodyArgs,
    shellQuote(displayUrl(input)),
  ].join(' ');
  if (input.secretAccessKey === undefined) return { sigv4 };

  const url = urlOf(input);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  // Loaded on demand: the AWS SDK signer is only needed for the precomputed variant.
  const [{ SignatureV4 }, { Sha256 }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-crypto/sha256-js'),
  ]);
  const signer = new SignatureV4({
    credentials: { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
    region: input.region,
    service: input.service,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const headers: Record<string, string> = { host: url.host };
  if (hasBody) headers['content-type'] = 'application/json';
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: decodeURIComponent(url.pathname),
      query,
      headers,
      ...(hasBody ? { body: input.body } : {}),
    },
    { signingDate },
  );
  const out = signed.headers as Record<string, string>;
  const precomputed = [
    'curl -sS',
    ...methodArgs,
    `-H ${shellQuote(`X-Amz-Date: ${out['x-amz-date']}`)}`,
    `-H ${shellQuote(`Authorization: ${out.authorization}`)}`,
    ...bodyArgs,
    shellQuote(displayUrl(input)),
  ].join(' ');
  return { sigv4, precomputed, signedAt: signingDate.toISOString() };
}
