import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { queueNameProblem, type QueueName } from './broker/topology.js';

/** Parsers for the kinds of value our environment variables hold; each message completes "VARIABLE: …". */

export const urlWithProtocol = (protocols: string[], label: string) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `not a ${label} URL` },
  );

export const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, 'not an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const boolean = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(
    z.enum(['true', 'false', '1', '0', 'yes', 'no'], {
      error: () => 'must be true or false',
    }),
  )
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const queueList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((q) => q.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.string().superRefine((queue, ctx) => {
          const problem = queueNameProblem(queue);
          if (problem) ctx.addIssue({ code: 'custom', message: `queue ${problem}` });
        }),
      )
      .min(1, 'names no queue'),
  )
  .transform((queues) => [...new Set(queues)] as QueueName[]);

export const list = z.string().transform((v) =>
  v
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean),
);

/** A bearer secret: long enough not to be guessed, printable, without separators. */
export const MIN_SECRET_LENGTH = 16;
const SECRET = /^[\x21-\x7e]+$/;
export const secret = z
  .string()
  .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`)
  .max(512, 'must be at most 512 characters')
  .regex(SECRET, 'must be printable ASCII without spaces');

export type TokenRole = 'admin' | 'read';
export const TOKEN_ROLES: readonly TokenRole[] = ['admin', 'read'];

/** A bearer token the API accepts: its name (for logs and metrics, never the secret) and its role. */
export interface ApiToken {
  name: string;
  role: TokenRole;
  secret: string;
}

const TOKEN_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** `name:role:secret` entries, comma-separated; the secret is what follows the second colon. */
export const tokenList = z.string().transform((value, ctx): ApiToken[] => {
  const tokens: ApiToken[] = [];
  for (const [i, entry] of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .entries()) {
    const [name = '', role = '', ...rest] = entry.split(':');
    const problem = (message: string) => {
      // Never echo the entry: it holds a secret.
      ctx.addIssue({
        code: 'custom',
        message: `entry ${i + 1}${TOKEN_NAME.test(name) ? ` ("${name}")` : ''} ${message}`,
      });
      return z.NEVER;
    };
    if (rest.length === 0) return problem('is not name:role:secret');
    if (!TOKEN_NAME.test(name)) return problem('has a name that is not 1-64 letters, digits, _ . or -');
    if (!(TOKEN_ROLES as readonly string[]).includes(role))
      return problem(`has role "${role.slice(0, 20)}" (roles: ${TOKEN_ROLES.join(', ')})`);
    const checked = secret.safeParse(rest.join(':'));
    if (!checked.success)
      return problem(`has a secret that ${checked.error.issues[0]?.message ?? 'is invalid'}`);
    tokens.push({ name, role: role as TokenRole, secret: checked.data });
  }
  return tokens;
});

/** A PEM file, read at start so a wrong path stops the service naming the variable. */
export const pemFile = z.string().transform((path, ctx) => {
  try {
    return readFileSync(path);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    });
    return z.NEVER;
  }
});
