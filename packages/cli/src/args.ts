import type { Context } from './main.js';
import { UsageError } from './usage-error.js';

/** Reading a command's options and positionals, and writing its answer: what every command shares. */

// main.ts's EXIT.ok (only types are imported from main.ts, to keep this module free of a cycle with it).
const OK = 0;

export const say = (ctx: { io: Context['io'] }, text: string) => void ctx.io.stdout.write(text);

/** The API's JSON, for --json. */
export function print(ctx: Context, value: unknown): number {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  return OK;
}

export function str(ctx: Context, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable option's values (`--depends-on 1 --depends-on 2`), or [] when not given. */
export function strs(ctx: Context, name: string): string[] {
  const value = ctx.values[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A number option within `rule`; a UsageError naming the option otherwise. */
export function num(
  ctx: Context,
  name: string,
  rule: { min: number; max?: number; integer?: boolean },
): number | undefined {
  const text = str(ctx, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(value) ||
    value < rule.min ||
    (rule.max !== undefined && value > rule.max) ||
    (rule.integer && !Number.isInteger(value))
  ) {
    const range = rule.max === undefined ? `≥ ${rule.min}` : `from ${rule.min} to ${rule.max}`;
    throw new UsageError(
      `--${name} must be ${rule.integer ? 'an integer' : 'a number'} ${range}, not ${text}`,
    );
  }
  return value;
}

export function positiveInteger(text: string | undefined, what: string): number {
  if (text === undefined || !/^[1-9][0-9]{0,15}$/.test(text))
    throw new UsageError(`${what} must be a positive integer, not "${text ?? ''}"`);
  return Number(text);
}

/** The command's <id>. */
export const idArg = (ctx: Context): number => positiveInteger(ctx.positionals[0], '<id>');
