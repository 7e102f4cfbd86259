import fc from 'fast-check';
import type { Body } from './body-mutations.js';
import { HOSTILE_PATH_VALUES, HOSTILE_QUERY_VALUES, toJsonText } from './hostile-values.js';

/** A request being built: everything on the wire, still in parts so that one part can be corrupted. */
export interface RequestParts {
  method: string;
  /** Path template with `{name}` placeholders, and each parameter's value as it goes on the wire. */
  pathTemplate: string;
  pathValues: Record<string, string>;
  /** Query pairs, already percent-encoded. */
  query: Array<[string, string]>;
  headers: Record<string, string>;
  body?: Body;
}

/** What goes on the wire. */
export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export function render(parts: RequestParts): WireRequest {
  const path = parts.pathTemplate.replace(/\{(\w+)\}/g, (_, name: string) => parts.pathValues[name] ?? '');
  const query = parts.query.map(([key, value]) => `${key}=${value}`).join('&');
  const body =
    parts.body === undefined
      ? undefined
      : 'json' in parts.body
        ? toJsonText(parts.body.json)
        : parts.body.raw;
  return {
    method: parts.method,
    path: query ? `${path}?${query}` : path,
    headers: parts.headers,
    ...(body === undefined ? {} : { body }),
  };
}

/** A change to a request's parts and the words a report uses for it. */
export type PartsMutation = (parts: RequestParts) => { parts: RequestParts; label: string };

const clip = (text: string) => (text.length > 30 ? `${text.slice(0, 20)}… (${text.length} chars)` : text);

/** A declared query parameter given a hostile value, repeated, or an unknown (or secret-bearing) one added. */
export function queryMutation(declared: readonly string[], token: string): fc.Arbitrary<PartsMutation> {
  const names = declared.length > 0 ? declared : ['limit'];
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...names), fc.constantFrom(...HOSTILE_QUERY_VALUES))
      .map(([name, value]): PartsMutation => (parts) => ({
        parts: { ...parts, query: [...parts.query.filter(([k]) => k !== name), [name, value]] },
        label: `query ${name}=${clip(value)}`,
      })),
    fc
      .tuple(fc.constantFrom(...names), fc.constantFrom('1', '2', '%00', 'x'))
      .map(([name, value]): PartsMutation => (parts) => ({
        parts: { ...parts, query: [...parts.query, [name, '1'], [name, value]] },
        label: `query ${name} repeated`,
      })),
    fc
      .constantFrom(
        'unknown=1',
        '__proto__=1',
        'constructor=x',
        '%00=1',
        '%ED%A0%80=1',
        'a[b]=1',
        '=1',
        '&&&',
      )
      .map((pair): PartsMutation => (parts) => ({
        parts: { ...parts, query: [...parts.query, [pair, '']] },
        label: `query key ${pair}`,
      })),
    fc.constantFrom('access_token', 'token', 'api_token').map((name): PartsMutation => (parts) => ({
      parts: { ...parts, query: [...parts.query, [name, token]] },
      label: `token in query (${name})`,
    })),
  );
}

/** A path parameter that is not a positive integer id, or junk after a path without parameters. */
export function pathMutation(params: readonly string[]): fc.Arbitrary<PartsMutation> {
  if (params.length === 0) {
    return fc
      .constantFrom('/', '/%00', '/..', '%20', '/x/y', ';x=1')
      .map((suffix): PartsMutation => (parts) => ({
        parts: { ...parts, pathTemplate: parts.pathTemplate + suffix },
        label: `path + ${suffix}`,
      }));
  }
  return fc
    .tuple(fc.constantFrom(...params), fc.constantFrom(...HOSTILE_PATH_VALUES))
    .map(([name, value]): PartsMutation => (parts) => ({
      parts: { ...parts, pathValues: { ...parts.pathValues, [name]: value } },
      label: `path ${name}=${clip(value)}`,
    }));
}

const CONTENT_TYPES = [
  undefined,
  'text/plain',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'multipart/form-data; boundary=----fuzz',
  'application/x-www-form-urlencoded',
  'application/json;',
  'Application/JSON',
  'application/json, text/plain',
  'application/problem+json',
  `application/json; x=${'a'.repeat(4000)}`,
  '',
];

/** Content types, a 100 KB header, odd Accept and Content-Encoding values. */
export const headerMutation: fc.Arbitrary<PartsMutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(...CONTENT_TYPES).map((type): PartsMutation => (parts) => {
      const headers = { ...parts.headers };
      delete headers['content-type'];
      if (type !== undefined) headers['content-type'] = type;
      return {
        parts: { ...parts, headers },
        label: `content-type ${type === undefined ? '(none)' : clip(type)}`,
      };
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(100 * 1024, 10 * 1024).map((size): PartsMutation => (parts) => ({
      parts: { ...parts, headers: { ...parts.headers, 'x-fuzz-padding': 'a'.repeat(size) } },
      label: `a ${size / 1024} KB header value`,
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['accept', 'application/xml'],
        ['accept', 'text/html;q=0.1, */*;q=0'],
        ['content-encoding', 'gzip'],
        ['content-encoding', 'br, identity'],
        ['accept-encoding', 'gzip;q=1e309'],
        ['x-http-method-override', 'DELETE'],
      )
      .map(([name, value]): PartsMutation => (parts) => ({
        parts: { ...parts, headers: { ...parts.headers, [name]: value } },
        label: `${name}: ${value}`,
      })),
  },
);

/** A method the document does not give this path; FOO is not even HTTP. */
export function methodMutation(allowed: readonly string[]): fc.Arbitrary<PartsMutation> {
  const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND', 'FOO'].filter(
    (m) => !allowed.includes(m),
  );
  return fc
    .constantFrom(...others)
    .map((method): PartsMutation => (parts) => ({ parts: { ...parts, method }, label: `method ${method}` }));
}

/** No token, a wrong one, or a malformed Authorization header. */
export function authMutation(token: string): fc.Arbitrary<PartsMutation> {
  return fc
    .constantFrom<[string, string | undefined]>(
      ['no token', undefined],
      ['wrong token', `Bearer ${'w'.repeat(token.length)}`],
      ['token with a typo', `Bearer ${token.slice(0, -1)}x`],
      ['Basic auth', `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`],
      ['empty bearer', 'Bearer '],
      ['token twice', `Bearer ${token} ${token}`],
      ['token without scheme', token],
      ['a 10 KB token', `Bearer ${'t'.repeat(10_240)}`],
    )
    .map(([label, value]): PartsMutation => (parts) => {
      const headers = { ...parts.headers };
      delete headers.authorization;
      if (value !== undefined) headers.authorization = value;
      return { parts: { ...parts, headers }, label };
    });
}
