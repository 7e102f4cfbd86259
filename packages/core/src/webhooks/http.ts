import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { hostOf, isPublicAddress, publicOnlyLookup, RefusedAddressError } from './address-policy.js';

/** How one POST went: delivered on a 2xx; otherwise the status (if any) and why it failed. */
export interface PostOutcome {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** From a 429 or 503's Retry-After (seconds): the least wait the receiver asked for. */
  retryAfterMs?: number;
}

export interface PostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivateNetworks: boolean;
}

/** What a failed attempt keeps of the receiver's answer. */
const SNIPPET_BYTES = 300;

/** Text PostgreSQL can store (no NUL), short enough to list. */
const storable = (text: string) => text.replaceAll('\u0000', '').slice(0, 1000);

/**
 * POSTs one delivery: a fresh connection (to an address the SSRF policy allows, checked by the lookup
 * itself), redirects never followed, the whole exchange bounded by `timeoutMs`. Never throws: every
 * failure is an outcome with an error, which the sender records as the attempt's.
 */
export function postWebhook(r: PostRequest): Promise<PostOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    // Set once the request is made; a URL refused before that settles without it.
    const timers: { answer?: NodeJS.Timeout } = {};
    const finish = (outcome: Omit<PostOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timers.answer);
      resolve({
        ...outcome,
        error: outcome.error === null ? null : storable(outcome.error),
        durationMs: elapsed(),
      });
    };
    const fail = (error: string, statusCode: number | null = null) =>
      finish({ delivered: false, statusCode, error });

    let url: URL;
    try {
      url = new URL(r.url);
    } catch {
      return fail('the webhook URL is not a valid URL');
    }
    const host = hostOf(url);
    // An IP literal is connected to without a lookup: check it here.
    if (!r.allowPrivateNetworks && isIP(host) !== 0 && !isPublicAddress(host))
      return fail(`${host} is not a public address (WEBHOOK_ALLOW_PRIVATE_NETWORKS=true allows it)`);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    timers.answer = setTimeout(() => {
      req.destroy();
      fail(`no answer within ${r.timeoutMs} ms (WEBHOOK_TIMEOUT_MS)`);
    }, r.timeoutMs);
    const req = send(url, {
      method: 'POST',
      headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
      agent: false,
      ...(r.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup }),
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedAddressError) return fail(error.message);
      fail(`${error.code ?? 'request failed'}: ${error.message}`);
    });
    req.on('response', (response) => readAnswer(response, finish));
    req.end(r.body);
  });
}

function readAnswer(response: IncomingMessage, finish: (o: Omit<PostOutcome, 'durationMs'>) => void): void {
  const status = response.statusCode ?? 0;
  const chunks: Buffer[] = [];
  let kept = 0;
  response.on('data', (chunk: Buffer) => {
    if (kept < SNIPPET_BYTES) chunks.push(chunk.subarray(0, SNIPPET_BYTES - kept));
    kept += chunk.length;
  });
  response.on('error', (error) => finish({ delivered: false, statusCode: status, error: error.message }));
  response.on('end', () => {
    if (status >= 200 && status < 300) return finish({ delivered: true, statusCode: status, error: null });
    const text = Buffer.concat(chunks).toString('utf8').trim();
    const retryAfter = /^\s*(\d{1,7})\s*$/.exec(String(response.headers['retry-after'] ?? ''))?.[1];
    const error =
      status >= 300 && status < 400
        ? `answered ${status}: redirects are not followed${response.headers.location ? ` (Location: ${response.headers.location})` : ''}`
        : `answered ${status}${text ? `: ${text}` : ''}`;
    finish({
      delivered: false,
      statusCode: status,
      error,
      ...((status === 429 || status === 503) && retryAfter
        ? { retryAfterMs: Number(retryAfter) * 1000 }
        : {}),
    });
  });
}
