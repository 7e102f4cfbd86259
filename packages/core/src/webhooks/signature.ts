import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Tickwork-Signature, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The key is the webhook's secret as UTF-8 text. The timestamp is signed with the body, so a receiver
 * that refuses old timestamps refuses replays of a captured delivery.
 */
export function webhookSignature(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export interface VerifyOptions {
  /** How old (or how far ahead) a timestamp may be; default 300 s. */
  toleranceSeconds?: number;
  /** Now, in unix seconds (tests); default the clock. */
  nowSeconds?: number;
}

/**
 * Whether a Tickwork-Signature header signs `body` (the raw request body, as received) with `secret`
 * and a timestamp within the tolerance. What a receiver does, in Node; docs/webhooks.md shows it alone.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: VerifyOptions = {},
): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const signatures = parts.filter(([k]) => k === 'v1').map(([, v]) => v ?? '');
  if (!t || !/^\d+$/.test(t) || signatures.length === 0) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return signatures.some((s) => {
    const given = Buffer.from(s);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
