/**
 * Loads the vendored SigV4 conformance vectors (test/fixtures/sigv4, see SOURCE.md there).
 * Reads only the vendored copy.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SigV4Request } from '../../../src/auth/sigv4/index.js';
import { parseRawHttpRequest } from './http.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/sigv4/', import.meta.url));

export interface VectorCase {
  /** e.g. `aws-c-auth/get-vanilla` or `botocore/normalize-path/get-slash` */
  readonly id: string;
  readonly form: 'header' | 'query';
  readonly request: SigV4Request;
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  /** The signature the vector says is right for its string to sign. */
  readonly signature: string;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
  readonly service: string;
  readonly now: Date;
  /** Whether the signer normalised the path (aws-c-auth `normalize`; botocore always does). */
  readonly normalize: boolean;
  readonly expiresSeconds: number;
  /** aws-c-auth `omit_session_token`: the token was added after signing. */
  readonly omitSessionToken: boolean;
  readonly hasSessionToken: boolean;
}

interface AwsCAuthContext {
  credentials: { access_key_id: string; secret_access_key: string; token?: string };
  expiration_in_seconds: number;
  normalize: boolean;
  region: string;
  service: string;
  sign_body: boolean;
  timestamp: string;
  omit_session_token?: boolean;
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

export function loadAwsCAuthCases(): VectorCase[] {
  const root = join(FIXTURES, 'aws-c-auth', 'v4');
  const out: VectorCase[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    const ctx = JSON.parse(read(join(dir, 'context.json'))) as AwsCAuthContext;
    for (const form of ['header', 'query'] as const) {
      out.push({
        id: `aws-c-auth/${name}`,
        form,
        request: parseRawHttpRequest(readFileSync(join(dir, `${form}-signed-request.txt`))),
        canonicalRequest: read(join(dir, `${form}-canonical-request.txt`)),
        stringToSign: read(join(dir, `${form}-string-to-sign.txt`)),
        signature: read(join(dir, `${form}-signature.txt`)).trim(),
        accessKeyId: ctx.credentials.access_key_id,
        secret: ctx.credentials.secret_access_key,
        region: ctx.region,
        service: ctx.service,
        now: new Date(ctx.timestamp),
        normalize: ctx.normalize,
        expiresSeconds: ctx.expiration_in_seconds,
        omitSessionToken: ctx.omit_session_token === true,
        hasSessionToken: ctx.credentials.token !== undefined,
      });
    }
  }
  return out;
}

function findFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findFiles(p, suffix));
    else if (entry.endsWith(suffix)) out.push(p);
  }
  return out;
}

/** botocore: every `.sreq`, region us-east-1, service `service`, 20150830T123600Z, example credentials. */
export function loadBotocoreCases(): VectorCase[] {
  const root = join(FIXTURES, 'botocore');
  return findFiles(root, '.sreq').map((sreq) => {
    const base = sreq.slice(0, -'.sreq'.length);
    const id = `botocore/${relative(root, base).split('/').slice(0, -1).join('/')}`;
    const authz = read(`${base}.authz`);
    const request = parseRawHttpRequest(readFileSync(sreq));
    return {
      id,
      form: 'header' as const,
      request,
      canonicalRequest: read(`${base}.creq`),
      stringToSign: read(`${base}.sts`),
      signature: authz.slice(authz.lastIndexOf('Signature=') + 'Signature='.length).trim(),
      accessKeyId: 'AKIDEXAMPLE',
      secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'service',
      now: new Date('2015-08-30T12:36:00Z'),
      normalize: true,
      expiresSeconds: 0,
      omitSessionToken: id.endsWith('post-sts-header-after'),
      hasSessionToken: request.headers.some(([n]) => n.toLowerCase() === 'x-amz-security-token'),
    };
  });
}
