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

/**
 * The first thing in `value` that cannot be stored as given: a NUL or lone surrogate in a string or key,
 * a non-finite number, nesting deeper than `maxDepth`. Iterative, so no input can overflow the stack.
 * `root` names the value in the path (`args.items[3].name`).
 */
export function findJsonProblem(value: unknown, maxDepth: number, root = 'value'): JsonProblem | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { ok: false, path: item.path, problem, kind: 'text' };
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v))
        return { ok: false, path: item.path, problem: 'is not a finite number', kind: 'number' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth)
      return { ok: false, path: item.path, problem: `nests deeper than ${maxDepth} levels`, kind: 'depth' };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: child(item.path, i), depth });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const path = child(item.path, key);
      const problem = textProblem(key);
      if (problem) return { ok: false, path, problem: `has a key that ${problem}`, kind: 'text' };
      stack.push({ value: (v as Record<string, unknown>)[key], path, depth });
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
 * Text we did not get from our own user (a task's error, a post from Reddit), made fit to store: NUL
 * and lone surrogates become U+FFFD and it is cut to `maxChars` with a note. Text is diagnostic or
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
