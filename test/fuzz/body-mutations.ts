import fc from 'fast-check';
import {
  DEEP_LEVELS,
  HOSTILE_BODIES,
  HOSTILE_KEYS,
  hostileValue,
  RawJson,
  type BodyValue,
} from './hostile-values.js';

/** A request body: a (possibly hostile) JSON value, or raw text/bytes that are not one. */
export type Body = { json: BodyValue } | { raw: string | Buffer; label: string };

/** A change to a valid body, chosen when the body is known; it says what it did. */
export type BodyMutation = (body: BodyValue) => { body: Body; label: string };

type Segment = string | number;
type Node = { [key: string]: BodyValue };

const isObject = (value: BodyValue): value is Node =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RawJson);

/** Every position in a value, the root included (`[]`), parents before children. */
export function positions(value: BodyValue, at: Segment[] = []): Segment[][] {
  const found: Segment[][] = [at];
  if (Array.isArray(value)) value.forEach((v, i) => found.push(...positions(v, [...at, i])));
  else if (isObject(value))
    for (const [k, v] of Object.entries(value)) found.push(...positions(v, [...at, k]));
  return found;
}

function valueAt(value: BodyValue, path: readonly Segment[]): BodyValue | undefined {
  let node: BodyValue | undefined = value;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (node !== undefined && isObject(node) && typeof segment === 'string') node = node[segment];
    else return undefined;
  }
  return node;
}

/** A copy of `value` with the position replaced (or removed when `replacement` is undefined). */
export function replaceAt(
  value: BodyValue,
  path: readonly Segment[],
  replacement: BodyValue | undefined,
): BodyValue {
  const [head, ...rest] = path;
  if (head === undefined) return replacement ?? null;
  if (Array.isArray(value) && typeof head === 'number') {
    const copy = [...value];
    const child = copy[head];
    if (rest.length === 0 && replacement === undefined) copy.splice(head, 1);
    else if (child !== undefined) copy[head] = replaceAt(child, rest, replacement);
    return copy;
  }
  if (isObject(value) && typeof head === 'string') {
    const copy: Node = { ...value };
    const child = copy[head];
    if (rest.length === 0 && replacement === undefined) delete copy[head];
    else if (child !== undefined) copy[head] = replaceAt(child, rest, replacement);
    return copy;
  }
  return value;
}

/** A key of a copy set to `value`, kept an own property even when the key is `__proto__`. */
function withKey(node: Node, key: string, value: BodyValue): Node {
  const copy: Node = { ...node };
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

export const describePath = (path: readonly Segment[]): string =>
  path.length === 0 ? '(root)' : path.map(String).join('.');

export function describeValue(value: BodyValue): string {
  if (value instanceof RawJson) return value.label;
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 24)}… (${text.length} chars)` : text;
}

const pickOf = <T>(items: readonly T[], pick: number): T | undefined =>
  items[pick % Math.max(items.length, 1)];

/** The body corruptions: one hostile value, key, deletion or addition at a random position, or no JSON at all. */
export const bodyMutation: fc.Arbitrary<BodyMutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(fc.nat(), hostileValue).map(([pick, hostile]): BodyMutation => (body) => {
      const path = pickOf(positions(body), pick) ?? [];
      return {
        body: { json: replaceAt(body, path, hostile) },
        label: `value ${describeValue(hostile)} at ${describePath(path)}`,
      };
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom(...HOSTILE_KEYS), hostileValue)
      .map(([pick, key, hostile]): BodyMutation => (body) => {
        const objects = positions(body).filter((p) => {
          const node = valueAt(body, p);
          return node !== undefined && isObject(node);
        });
        const path = pickOf(objects, pick) ?? [];
        const node = valueAt(body, path);
        const value = pick % 2 === 0 ? 1 : hostile;
        const changed = node !== undefined && isObject(node) ? withKey(node, key, value) : { [key]: value };
        return {
          body: { json: replaceAt(body, path, changed) },
          label: `key ${describeValue(key)} = ${describeValue(value)} in ${describePath(path)}`,
        };
      }),
  },
  {
    weight: 2,
    arbitrary: fc.nat().map((pick): BodyMutation => (body) => {
      const path = pickOf(positions(body).slice(1), pick);
      if (path === undefined) return { body: { json: {} }, label: 'empty object' };
      return { body: { json: replaceAt(body, path, undefined) }, label: `without ${describePath(path)}` };
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...HOSTILE_BODIES)
      .map(({ label, body: raw }): BodyMutation => () => ({ body: { raw, label }, label })),
  },
);

/** Values PostgreSQL or JSON.stringify cannot store as given: what once failed a whole group commit. */
const POISON: ReadonlyArray<{ label: string; key?: string; value: BodyValue }> = [
  { label: 'lone surrogate', value: '\ud800' },
  { label: 'lone low surrogate', value: 'x\udc00' },
  { label: 'NUL', value: 'a\u0000b' },
  { label: 'NUL in a key', key: 'k\u0000', value: 1 },
  { label: 'lone surrogate in a key', key: '\udfff', value: 1 },
  {
    label: `${DEEP_LEVELS} nested arrays`,
    value: new RawJson('['.repeat(DEEP_LEVELS) + ']'.repeat(DEEP_LEVELS), 'deep'),
  },
  { label: 'a 300 KB string', value: 'p'.repeat(300_000) },
];

/**
 * Poison where it reaches a shared INSERT: inside `args` (or as the idempotency key) of an otherwise
 * valid body, so it travels with valid neighbours unless the API checks it first.
 */
export const poisonMutation: fc.Arbitrary<BodyMutation> = fc
  .tuple(fc.nat(), fc.constantFrom(...POISON), fc.boolean())
  .map(([pick, poison, asKey]): BodyMutation => (body) => {
    const argsAt = positions(body).filter((p) => p.at(-1) === 'args');
    const keyAt = positions(body).filter((p) => p.at(-1) === 'idempotencyKey');
    if (asKey && typeof poison.value === 'string' && keyAt.length > 0) {
      const path = pickOf(keyAt, pick) ?? [];
      return {
        body: { json: replaceAt(body, path, poison.value) },
        label: `poison: ${poison.label} at ${describePath(path)}`,
      };
    }
    const path = pickOf(argsAt, pick) ?? ['args'];
    const args = valueAt(body, path);
    const holder: Node = args !== undefined && isObject(args) ? args : {};
    const poisoned = withKey(holder, poison.key ?? 'poison', poison.value);
    const json =
      argsAt.length > 0
        ? replaceAt(body, path, poisoned)
        : isObject(body)
          ? withKey(body, 'args', poisoned)
          : poisoned;
    return { body: { json }, label: `poison: ${poison.label} in ${describePath(path)}` };
  });
