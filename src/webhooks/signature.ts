/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is `whsec_` and the
 * base64 of 24 to 64 random bytes; each request carries `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed
 * with the secret's bytes. Receivers verify with any Standard Webhooks library.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';

const PREFIX = 'whsec_';
const SECRET_BYTES = { min: 24, max: 64 } as const;

/** A new secret: 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The secret's key bytes; INVALID_WEBHOOK when it is not `whsec_<base64 of 24 to 64 bytes>`. */
export function secretKey(secret: string): Buffer {
  const body = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : '';
  const bytes = Buffer.from(body, 'base64');
  // Buffer.from skips characters that are not base64: the round trip proves there were none.
  const canonical = bytes.toString('base64');
  if (
    body === '' ||
    canonical.replace(/=+$/, '') !== body.replace(/=+$/, '') ||
    bytes.length < SECRET_BYTES.min ||
    bytes.length > SECRET_BYTES.max
  ) {
    throw new AppError(
      'INVALID_WEBHOOK',
      `secret: must be ${PREFIX} followed by the base64 of ${SECRET_BYTES.min} to ${SECRET_BYTES.max} random bytes`,
    );
  }
  return bytes;
}

/** The three headers of one delivery attempt. */
export function signatureHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const mac = createHmac('sha256', secretKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${mac}`,
  };
}
