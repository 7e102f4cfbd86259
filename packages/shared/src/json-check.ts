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

export type JsonCheck = { ok: true; bytes: number } | { ok: false; path: string; problem: string };

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
 * Checks `value` (as produced by JSON.parse, or a task's result) iteratively, so no input can overflow the
 * stack. `root` names the value in the path of the first problem (`args.items[3].name`).
 */
export function checkJsonValue(value: unknown, limits: JsonLimits, root = 'value'): JsonCheck {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { ok: false, path: item.path, problem };
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { ok: false, path: item.path, problem: 'is not a finite number' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = item.depth + 1;
    if (depth > limits.maxDepth)
      return { ok: false, path: item.path, problem: `nests deeper than ${limits.maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: child(item.path, i), depth });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const path = child(item.path, key);
      const problem = textProblem(key);
      if (problem) return { ok: false, path, problem: `has a key that ${problem}` };
      stack.push({ value: (v as Record<string, unknown>)[key], path, depth });
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? 'null');
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes)
    return {
      ok: false,
      path: root,
      problem: `is ${bytes.toLocaleString('en')} bytes as JSON, more than the ${limits.maxBytes.toLocaleString('en')} allowed`,
    };
  return { ok: true, bytes };
}
