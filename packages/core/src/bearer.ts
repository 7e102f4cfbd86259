import { createHash, timingSafeEqual } from 'node:crypto';

/** The credentials of `Authorization: Bearer <secret>` (scheme in any case), or undefined. */
export function bearerSecret(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Finds which of `entries` a presented secret belongs to, in time that does not depend on the secret:
 * both sides are hashed to the same length and every entry is compared, even after a match.
 */
export class SecretMatcher<T> {
  private readonly digests: Array<{ digest: Buffer; value: T }>;

  constructor(entries: ReadonlyArray<{ secret: string; value: T }>) {
    this.digests = entries.map(({ secret, value }) => ({ digest: digest(secret), value }));
  }

  get size(): number {
    return this.digests.length;
  }

  match(presented: string | undefined): T | undefined {
    if (presented === undefined) return undefined;
    const candidate = digest(presented);
    let found: T | undefined;
    for (const entry of this.digests) if (timingSafeEqual(candidate, entry.digest)) found ??= entry.value;
    return found;
  }
}
