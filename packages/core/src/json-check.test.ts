import { describe, expect, it } from 'vitest';
import { checkJsonValue, findJsonProblem, textProblem } from './json-check.js';

const limits = { maxDepth: 8, maxBytes: 1000 };

describe('checkJsonValue', () => {
  it('accepts ordinary JSON and reports its size in UTF-8 bytes', () => {
    const value = { a: [1, 'é', null, true], b: { c: 'x' } };
    const json = JSON.stringify(value);
    expect(checkJsonValue(value, limits)).toEqual({ ok: true, bytes: Buffer.byteLength(json), json });
    expect(checkJsonValue('😀', limits, 'args')).toEqual({ ok: true, bytes: 6, json: '"😀"' });
  });

  it('names the path of a NUL or a lone surrogate, in values and in keys', () => {
    const nul = checkJsonValue({ a: [1, { b: 'x\u0000' }] }, limits, 'args');
    expect(nul).toMatchObject({ ok: false, path: 'args.a[1].b' });
    expect(!nul.ok && nul.problem).toMatch(/NUL/);
    const lone = checkJsonValue({ list: ['ok', '\ud800'] }, limits, 'args');
    expect(lone).toMatchObject({ ok: false, path: 'args.list[1]' });
    expect(!lone.ok && lone.problem).toMatch(/surrogate/);
    const key = checkJsonValue({ 'bad\udc00key': 1 }, limits, 'args');
    expect(key).toMatchObject({ ok: false, path: 'args["bad\\udc00key"]' });
    expect(!key.ok && key.problem).toMatch(/^has a key that/);
    expect(checkJsonValue({ 'a b': '\u0000' }, limits, 'r').ok).toBe(false);
  });

  it('refuses nesting beyond the limit without overflowing the stack, however deep', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(checkJsonValue(deep, limits, 'args')).toMatchObject({
      ok: false,
      problem: 'nests deeper than 8 levels',
    });
    let eight: unknown = 1;
    for (let i = 0; i < 8; i++) eight = { x: eight };
    expect(checkJsonValue(eight, limits).ok).toBe(true);
    expect(checkJsonValue({ x: eight }, limits).ok).toBe(false);
  });

  it('refuses a value larger than maxBytes', () => {
    expect(checkJsonValue('x'.repeat(998), limits)).toMatchObject({ ok: true, bytes: 1000 });
    expect(findJsonProblem('x'.repeat(5000), 8)).toBeUndefined();
    expect(checkJsonValue('x'.repeat(999), limits, 'args')).toMatchObject({
      ok: false,
      path: 'args',
      problem: 'is 1,001 bytes as JSON, more than the 1,000 allowed',
    });
  });

  it('refuses non-finite numbers (JSON has none; they would be stored as null)', () => {
    expect(checkJsonValue({ n: Number.POSITIVE_INFINITY }, limits).ok).toBe(false);
  });
});

describe('textProblem', () => {
  it('accepts paired surrogates and refuses lone ones and NUL', () => {
    expect(textProblem('a😀b')).toBeUndefined();
    expect(textProblem('\ud83d')).toMatch(/surrogate/);
    expect(textProblem('\ude00x')).toMatch(/surrogate/);
    expect(textProblem('a\u0000')).toMatch(/NUL/);
  });
});
