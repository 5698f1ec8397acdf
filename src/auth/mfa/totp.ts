/**
 * TOTP (RFC 6238) as authenticator apps read it: a base32 secret of 160 bits, HMAC-SHA-1, six
 * digits, 30-second steps (the defaults every app supports). A code is accepted one step early or
 * late (clock drift), and the step it matched is returned so the caller can refuse it the next time.
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
const ISSUER = 'latchkey';

/** A new random secret (base32, 160 bits: RFC 4226's recommended length for SHA-1). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totpOf(secret: string, label: string): TOTP {
  return new TOTP({
    issuer: ISSUER,
    label,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** The `otpauth://totp/…` URL an authenticator app scans (as a QR code) or is given. */
export function otpauthUrl(secret: string, label: string): string {
  return totpOf(secret, label).toString();
}

/** Does `code` look like a TOTP code (and not a recovery code)? */
export const looksLikeTotp = (code: string): boolean => /^\d{6}$/.test(code.trim());

/** The time step `code` belongs to (within one step of now), or null when it matches none. */
export function matchingStep(secret: string, code: string, nowMs: number): number | null {
  const token = code.trim();
  if (!looksLikeTotp(token)) return null;
  const totp = totpOf(secret, 'check');
  const delta = totp.validate({ token, timestamp: nowMs, window: 1 });
  if (delta === null) return null;
  return totp.counter({ timestamp: nowMs }) + delta;
}
