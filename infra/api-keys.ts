import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys are 32 random bytes; only their SHA-256 is stored (shown once, never again). */
export function generateApiKey(): string {
  return `qk_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The row is found by the hash of the presented key (a lookup on a hash of a high-entropy
 * secret reveals nothing about stored keys); the final comparison is constant-time anyway.
 */
export function hashesMatch(presented: Buffer, stored: Buffer): boolean {
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
