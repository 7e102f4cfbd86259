import fc from 'fast-check';

/** JSON text put into a body as it is: numbers JavaScript cannot hold, nesting too deep to build as values. */
export class RawJson {
  constructor(
    readonly text: string,
    /** How a report names it, instead of printing 100 KB. */
    readonly label: string,
  ) {}
}

/** A body value: JSON, with raw JSON text allowed anywhere. */
export type BodyValue =
  null | boolean | number | string | RawJson | BodyValue[] | { [key: string]: BodyValue };

/** Serialises a body value; strings (lone surrogates included) are escaped as JSON.stringify does. */
export function toJsonText(value: BodyValue): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, v]) => `${JSON.stringify(key)}:${toJsonText(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export const HUGE_STRING_LENGTH = 100_000;
export const DEEP_LEVELS = 5_000;

/** Strings PostgreSQL or a careless encoder cannot take as given, and strings that look like attacks. */
export const HOSTILE_STRINGS: readonly string[] = [
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(20),
  '',
  ' ',
  '\ufeff',
  '\uffff',
  '\u202egnp.exe',
  '😀',
  '\u0301\u0301\u0301',
  'x'.repeat(HUGE_STRING_LENGTH),
  '😀'.repeat(HUGE_STRING_LENGTH / 2),
  '__proto__',
  'constructor',
  "' OR 1=1 --",
  '\r\nX-Injected: 1',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e3',
  '0x10',
  'null',
  'true',
  '9223372036854775808',
  'Europe/BERLIN',
  '*/0 * * * * *',
];

/** Number tokens at the edges: -0, doubles' ends, 2^53, 2^63, and past them. */
export const EDGE_NUMBERS: readonly string[] = [
  '-0',
  '0',
  '-1',
  '0.5',
  '1e308',
  '1e309',
  '-1e309',
  '5e-324',
  '1e-400',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '18446744073709551616',
  '123456789012345678901234567890',
  '1E3',
  '1.0',
  '100000000000000000000000000000000000000000000000000000000000000000000000000000000000',
];

const deep = (levels: number, kind: 'array' | 'object') =>
  kind === 'array'
    ? new RawJson('['.repeat(levels) + ']'.repeat(levels), `${levels} nested arrays`)
    : new RawJson('{"a":'.repeat(levels) + '1' + '}'.repeat(levels), `${levels} nested objects`);

/** Any hostile value for a JSON position: a string, an edge number, a wrong type, deep or huge. */
export const hostileValue: fc.Arbitrary<BodyValue> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_NUMBERS).map((n) => new RawJson(n, `number ${n}`)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<BodyValue>(true, false, null, [], {}, [null], { '': null }, [[[]]], 'string'),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(64, 65, 100, 1000, DEEP_LEVELS),
        fc.constantFrom('array' as const, 'object' as const),
      )
      .map(([levels, kind]) => deep(levels, kind)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(1000, 50_000)
      .map(
        (n) => new RawJson(`[${Array.from({ length: n }, (_, i) => i).join(',')}]`, `array of ${n} numbers`),
      ),
  },
);

/** Object keys that must not be stored as given (NUL, lone surrogates) or that poke at prototypes. */
export const HOSTILE_KEYS: readonly string[] = [
  '\u0000',
  'a\u0000',
  '\ud800',
  'k\udfffk',
  '',
  '__proto__',
  'constructor',
  'prototype',
  'k'.repeat(10_000),
  '😀',
  '$where',
  'unexpectedField',
];

/** Whole bodies that are not the JSON object asked for. Text, or bytes where text cannot say it. */
export const HOSTILE_BODIES: ReadonlyArray<{ label: string; body: string | Buffer }> = [
  { label: 'empty body', body: '' },
  { label: 'JSON null', body: 'null' },
  { label: 'JSON array', body: '[]' },
  { label: 'JSON string', body: '"diag.echo"' },
  { label: 'JSON number', body: '42' },
  { label: 'truncated JSON', body: '{"task": "diag.echo", "args": {' },
  { label: 'two JSON values', body: '{"task":"diag.echo"}{"task":"diag.echo"}' },
  { label: 'not JSON', body: 'task=diag.echo&args=1' },
  { label: 'JSON with a comment', body: '{"task": "diag.echo" /* hi */}' },
  { label: 'JSON with a BOM', body: '\ufeff{"task":"diag.echo"}' },
  { label: 'duplicate keys', body: '{"task":"diag.echo","task":"diag.sleep","args":{"ms":1}}' },
  { label: '__proto__ key', body: '{"task":"diag.echo","__proto__":{"polluted":true}}' },
  { label: 'constructor.prototype key', body: '{"task":"diag.echo","constructor":{"prototype":{"x":1}}}' },
  {
    label: 'raw lone surrogate bytes',
    body: Buffer.from([...Buffer.from('{"task":"'), 0xed, 0xa0, 0x80, 0x22, 0x7d]),
  },
  { label: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
  { label: 'NUL bytes', body: Buffer.alloc(64) },
  { label: 'body over 1 MiB', body: `{"task":"diag.echo","args":"${'x'.repeat(1_100_000)}"}` },
  { label: '5,000 nested arrays', body: '['.repeat(DEEP_LEVELS) + ']'.repeat(DEEP_LEVELS) },
  { label: '100,000 nested arrays', body: '['.repeat(100_000) + ']'.repeat(100_000) },
];

/** Query values as they appear on the wire (already percent-encoded, or deliberately malformed). */
export const HOSTILE_QUERY_VALUES: readonly string[] = [
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%ED%BF%BF',
  '%C0%AF',
  '%FF',
  '%ZZ',
  '%',
  '',
  '-1',
  '0',
  '1e3',
  '1.5',
  '9223372036854775808',
  '9007199254740993',
  'NaN',
  'true',
  'null',
  '%F0%9F%98%80',
  '__proto__',
  'a'.repeat(8_000),
  'a'.repeat(HUGE_STRING_LENGTH),
];

/** Path parameter values on the wire. */
export const HOSTILE_PATH_VALUES: readonly string[] = [
  '0',
  '-1',
  '1.5',
  '1e3',
  'abc',
  '%00',
  '%ED%A0%80',
  '%20',
  '+1',
  '0x10',
  '%EF%BC%91',
  '9007199254740992',
  '9223372036854775808',
  '18446744073709551616',
  '1'.repeat(5_000),
  '%2e%2e',
  '1%2F2',
  'null',
];
