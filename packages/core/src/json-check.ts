/**
 * Whether a JSON value can be stored and read back exactly: PostgreSQL refuses NUL (\u0000) in text and
 * jsonb, a lone UTF-16 surrogate would be stored as U+FFFD (a silent rewrite), and jsonb parsing runs out
 * of stack on deep nesting. Checked before a value joins a shared statement, so it fails alone.
 */

export interface JsonLimits {
  /** Most nested arrays/objects; the value itself at depth 1 when it is one. */
  maxDepth: number;
  /** Most UTF-8 bytes of its JSON text. */
  maxBytes?: number;
}

export interface JsonProblem {
  ok: false;
  /** Where, from the root name given: `args.items[3].name`. */
  path: string;
  problem: string;
  /** Which limit or rule: callers name the setting behind a depth or size limit. */
  kind: 'text' | 'number' | 'depth' | 'size';
}

/** `json` is the value's JSON text, measured: callers store it rather than serialise twice. */
export type JsonCheck = { ok: true; bytes: number; json: string } | JsonProblem;

/** Why a string cannot be stored as given, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (!text.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const child = (path: string, key: string | number) =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : IDENTIFIER.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;

/** An array or object being walked; paths are built from these only when a problem is found. */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

const pathOf = (root: string, frame: Frame | undefined, key?: string | number): string => {
  const keys: Array<string | number> = key === undefined ? [] : [key];
  for (let f = frame; f?.parent; f = f.parent) keys.push(f.key);
  return keys.reduceRight<string>(child, root);
};

/** Why a scalar cannot be stored as given (kind and words), or undefined. */
function scalarProblem(v: unknown): Pick<JsonProblem, 'problem' | 'kind'> | undefined {
  if (typeof v === 'string') {
    const problem = textProblem(v);
    return problem ? { problem, kind: 'text' } : undefined;
  }
  if (typeof v === 'number' && !Number.isFinite(v))
    return { problem: 'is not a finite number', kind: 'number' };
  return undefined;
}

const tooDeep = (root: string, maxDepth: number, frame?: Frame, key?: string | number): JsonProblem => ({
  ok: false,
  path: pathOf(root, frame, key),
  problem: `nests deeper than ${maxDepth} levels`,
  kind: 'depth',
});

/**
 * Checks member `key` of `frame`: a problem, or undefined; an array or object member is pushed on
 * `stack` to be walked later. (A module function, not a closure: this runs for every request body.)
 */
function visit(
  stack: Frame[],
  frame: Frame,
  key: string | number,
  v: unknown,
  maxDepth: number,
  root: string,
): JsonProblem | undefined {
  const problem = scalarProblem(v);
  if (problem) return { ok: false, path: pathOf(root, frame, key), ...problem };
  if (typeof v !== 'object' || v === null) return undefined;
  if (frame.depth + 1 > maxDepth) return tooDeep(root, maxDepth, frame, key);
  stack.push({ value: v, depth: frame.depth + 1, parent: frame, key });
  return undefined;
}

/**
 * The first thing in `value` that cannot be stored as given: a NUL or lone surrogate in a string or key,
 * a non-finite number, nesting deeper than `maxDepth`. Iterative, so no input can overflow the stack;
 * it allocates only per array or object (paths are built for the problem found, not for every value),
 * since every request body goes through it.
 * `root` names the value in the path (`args.items[3].name`).
 */
export function findJsonProblem(value: unknown, maxDepth: number, root = 'value'): JsonProblem | undefined {
  const atRoot = scalarProblem(value);
  if (atRoot) return { ok: false, path: root, ...atRoot };
  if (typeof value !== 'object' || value === null) return undefined;
  if (maxDepth < 1) return tooDeep(root, maxDepth);
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const problem = visit(stack, frame, i, v[i], maxDepth, root);
        if (problem) return problem;
      }
      continue;
    }
    for (const key of Object.keys(v)) {
      const text = textProblem(key);
      if (text)
        return { ok: false, path: pathOf(root, frame, key), problem: `has a key that ${text}`, kind: 'text' };
      const problem = visit(stack, frame, key, (v as Record<string, unknown>)[key], maxDepth, root);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** findJsonProblem, then the size of its JSON text against `maxBytes`. */
export function checkJsonValue(value: unknown, limits: JsonLimits, root = 'value'): JsonCheck {
  const problem = findJsonProblem(value, limits.maxDepth, root);
  if (problem) return problem;
  const json = JSON.stringify(value) ?? 'null';
  const bytes = Buffer.byteLength(json);
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes)
    return {
      ok: false,
      path: root,
      kind: 'size',
      problem: `is ${bytes.toLocaleString('en')} bytes as JSON, more than the ${limits.maxBytes.toLocaleString('en')} allowed`,
    };
  return { ok: true, bytes, json };
}

/**
 * Text we did not get from our own user (a task's error, a post from a third-party API), made fit to
 * store: NUL and lone surrogates become U+FFFD and it is cut to `maxChars` with a note. Text is diagnostic or
 * displayed, so a visible replacement keeps what can be read where refusing would lose it all. Text
 * from API callers is never rewritten: it is refused (textProblem).
 */
export function storableText(text: string, maxChars = Number.POSITIVE_INFINITY): string {
  let fixed = textProblem(text) ? text.replaceAll('\u0000', '\uFFFD').toWellFormed() : text;
  if (fixed.length > maxChars) {
    const more = (fixed.length - maxChars).toLocaleString('en');
    // A cut can split a surrogate pair: toWellFormed replaces the half left behind.
    fixed = `${fixed.slice(0, maxChars).toWellFormed()}… [${more} more characters cut]`;
  }
  return fixed;
}
