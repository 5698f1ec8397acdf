/** Sign requests with real AWS clients' signers (@smithy/signature-v4 is what the AWS SDK v3 uses). */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials' token: the signer sends it as X-Amz-Security-Token, as AWS SDKs do. */
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  /** Path with optional query, e.g. `/profile` or `/agent/?code=A01`. */
  path: string;
  host: string;
  headers?: Record<string, string>;
  body?: string;
  region?: string;
  service?: string;
  date?: Date;
}

function split(path: string): { path: string; query: Record<string, string> } {
  const [p, q] = path.split('?', 2);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(q ?? '')) query[k] = v;
  return { path: p ?? '/', query };
}

function signer(creds: Credentials, region: string, service: string): SignatureV4 {
  return new SignatureV4({ credentials: creds, region, service, sha256: Sha256, uriEscapePath: true });
}

/** Authorization-header form: returns the headers to send. */
export async function signHeaders(creds: Credentials, input: SignInput): Promise<Record<string, string>> {
  const { path, query } = split(input.path);
  const signed = await signer(creds, input.region ?? 'ap-southeast-5', input.service ?? 'sqlaccount').sign(
    {
      method: input.method,
      protocol: 'http:',
      hostname: input.host.split(':')[0] as string,
      port: Number(input.host.split(':')[1]) || undefined,
      path,
      query,
      headers: { host: input.host, ...input.headers },
      body: input.body,
    },
    { signingDate: input.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

/** Presigned-URL form: returns path?query to request. */
export async function presign(
  creds: Credentials,
  input: SignInput & { expiresIn?: number },
): Promise<string> {
  const { path, query } = split(input.path);
  const signed = await signer(creds, input.region ?? 'ap-southeast-5', input.service ?? 'sqlaccount').presign(
    {
      method: input.method,
      protocol: 'http:',
      hostname: input.host.split(':')[0] as string,
      path,
      query,
      headers: { host: input.host },
    },
    { signingDate: input.date ?? new Date(), expiresIn: input.expiresIn ?? 300 },
  );
  const qs = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return `${signed.path}?${qs}`;
}

/** A secret that is certainly not `secret`: its last character replaced by another (a fixed replacement is the same one time in 62). */
export function wrongSecret(secret: string): string {
  return `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`;
}
