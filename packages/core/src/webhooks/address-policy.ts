import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may send (SSRF): http(s) URLs whose host resolves to public addresses only. Loopback,
 * private, link-local, shared (CGNAT), documentation, multicast and reserved ranges are refused, and so
 * are IPv6 forms that embed one (IPv4-mapped, NAT64, 6to4), unless WEBHOOK_ALLOW_PRIVATE_NETWORKS.
 * Checked when a webhook is created or changed, and again by the lookup of every delivery, whose
 * connection goes to the very address checked (a DNS answer that changed since is checked anew).
 */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (one with a dotted IPv4 tail too). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().split('%')[0] ?? '';
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/** The IPv4 address an IPv6 one carries (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (g.length !== 8) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return ipv4Of(g[1]!, g[2]!);
  return undefined;
}

/** Whether an IP address is one a webhook may reach: none of the ranges above. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const embedded = embeddedIpv4(address);
  if (embedded !== undefined) return isPublicAddress(embedded);
  return !NON_PUBLIC.check(address, 'ipv6');
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** The host of a URL as DNS and net.connect take it: IPv6 literals without their brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * What is wrong with a webhook URL as written, or undefined: http(s) only, a host, no credentials
 * (the signature authenticates deliveries; a password in a URL would show wherever the URL does).
 */
export function webhookUrlProblem(text: string): string | undefined {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return `is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `must be http:// or https://, not ${url.protocol}//`;
  if (url.hostname === '') return 'has no host';
  if (url.username !== '' || url.password !== '')
    return 'must not contain a user name or password (deliveries are authenticated by their signature)';
  if (url.hash !== '') return 'must not have a #fragment (it is never sent)';
  return undefined;
}

export class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
  readonly code = 'ERR_WEBHOOK_ADDRESS_REFUSED';
}

const refusal = (host: string, address: string) =>
  new RefusedAddressError(
    `${host} resolves to ${address}, which is not a public address (WEBHOOK_ALLOW_PRIVATE_NETWORKS=true allows it)`,
  );

type LookupAddress = { address: string; family: number };

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );
}

/**
 * Why a URL's host may not receive webhooks, or undefined when it may: every address it resolves to
 * must be public (one private answer among public ones refuses it: the next lookup may pick that one).
 */
export async function refusedHost(url: URL): Promise<string | undefined> {
  const host = hostOf(url);
  if (isIP(host) !== 0) return isPublicAddress(host) ? undefined : refusal(host, host).message;
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'lookup failed';
    return `${host} does not resolve (${code})`;
  }
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  return refused ? refusal(host, refused.address).message : undefined;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that resolves as usual, then refuses non-public answers: the socket
 * connects to an address this function checked, so a DNS answer changed after the webhook was created
 * (DNS rebinding) is refused at delivery time too.
 */
export function publicOnlyLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  resolveAll(hostname).then(
    (addresses) => {
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      if (refused) return callback(refusal(hostname, refused.address), []);
      const wanted =
        options.family === 4 || options.family === 6
          ? addresses.filter((a) => a.family === options.family)
          : addresses;
      const first = wanted[0];
      if (options.all) return callback(null, wanted);
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    },
    (error: NodeJS.ErrnoException) => callback(error, []),
  );
}
