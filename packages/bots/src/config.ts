import { z } from 'zod';
import { integer, parseEnv, urlWithProtocol } from '@tickwork/core';
import type { RedditOptions } from './reddit/client.js';

/** The bots' variables, with their defaults; the engine's loadConfig knows none of them. */
const schema = z.object({
  REDDIT_BASE_URL: urlWithProtocol(['http:', 'https:'], 'http(s)://').default('https://www.reddit.com'),
  REDDIT_USER_AGENT: z
    .string()
    .min(1, 'must not be empty')
    .max(300, 'must be at most 300 characters')
    .default('node:tickwork:0.1.0 (self-hosted job scheduler; scrape.bot task)'),
  REDDIT_TIMEOUT_MS: integer(100, 300_000).default(15_000),
});

export interface BotsConfig {
  /** How scrape.bot talks to Reddit: REDDIT_BASE_URL, REDDIT_USER_AGENT, REDDIT_TIMEOUT_MS. */
  reddit: RedditOptions;
}

/**
 * Reads the bots' settings from an environment (the worker service's main.ts passes process.env). An
 * empty variable counts as unset; the first bad value throws core's ConfigError naming the variable.
 */
export function loadBotsConfig(env: Record<string, string | undefined>): BotsConfig {
  const c = parseEnv(schema, env);
  return {
    reddit: { baseUrl: c.REDDIT_BASE_URL, userAgent: c.REDDIT_USER_AGENT, timeoutMs: c.REDDIT_TIMEOUT_MS },
  };
}
