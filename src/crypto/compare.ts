import { createHash, timingSafeEqual } from 'node:crypto';

/** Two secrets compared in constant time whatever their lengths (each is hashed first). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
