import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { storableText } from '@tickwork/core';
import type { ScrapedPost } from '../db/scrape-queries.js';

const NullableString = Type.Optional(Type.Union([Type.String(), Type.Null()]));

/** The fields of a Reddit post (`t3`) that we store; Reddit sends many more, which are ignored. */
const RedditPost = Type.Object({
  id: Type.String({ minLength: 1 }),
  subreddit: Type.String({ minLength: 1 }),
  title: Type.String(),
  author: NullableString,
  url: NullableString,
  permalink: Type.String(),
  selftext: NullableString,
  score: Type.Integer(),
  num_comments: Type.Integer({ minimum: 0 }),
  over_18: Type.Boolean(),
  created_utc: Type.Number({ minimum: 0 }),
});

/** Reddit's Listing envelope, as `/r/{sub}/new.json` answers it. */
const Listing = Type.Object({
  kind: Type.Literal('Listing'),
  data: Type.Object({
    after: Type.Union([Type.String(), Type.Null()]),
    children: Type.Array(Type.Object({ kind: Type.Literal('t3'), data: RedditPost })),
  }),
});

export type RedditPost = Static<typeof RedditPost>;
export type Listing = Static<typeof Listing>;

const listing = Compile(Listing);

/** A body that is not a Listing of posts, with the first thing wrong in it. */
export class MalformedListing extends Error {
  override readonly name = 'MalformedListing';
}

/** Parses and validates a listing body; throws MalformedListing naming the first problem. */
export function parseListing(body: string): Listing {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new MalformedListing(`not JSON (${(error as Error).message})`);
  }
  if (listing.Check(value)) return value;
  const first = listing.Errors(value)[0];
  throw new MalformedListing(
    first ? `${first.instancePath || 'body'} ${first.message}` : 'not a Listing of posts',
  );
}

/**
 * Longest text kept per field (characters; Reddit's own limits, with room): an upstream that sends more
 * gets it cut with a note, rather than filling the posts table. NUL and lone surrogates become U+FFFD
 * (storableText): replacing is right for third-party text we only display; text from our own users is
 * refused with a 400 instead, never rewritten.
 */
const MAX_CHARS = { id: 100, subreddit: 100, title: 1000, author: 100, url: 4000, selftext: 50_000 };

// Control characters are exactly what it looks for.
// eslint-disable-next-line no-control-regex
const BACKSLASH_OR_CONTROL = /[\\\u0000-\u001f\u007f]/;

/**
 * Whether a permalink is a path on reddit.com, safe to append to https://www.reddit.com: it starts with
 * "/" but not "//" (another host), and has no backslash (browsers read it as "/") and no control
 * character (URL parsers drop tabs and newlines, which could join two slashes).
 */
export function isRedditPath(permalink: string): boolean {
  return permalink.startsWith('/') && !permalink.startsWith('//') && !BACKSLASH_OR_CONTROL.test(permalink);
}

/** Reddit's short link to a post, which redirects to it: the permalink of a post whose own is unusable. */
const shortLink = (id: string) => `/comments/${encodeURIComponent(id)}/`;

export function toScrapedPost(post: RedditPost): ScrapedPost {
  const text = (value: string | null | undefined, max: number) =>
    value == null ? null : storableText(value, max);
  const id = storableText(post.id, MAX_CHARS.id);
  return {
    redditId: id,
    subreddit: storableText(post.subreddit, MAX_CHARS.subreddit),
    title: storableText(post.title, MAX_CHARS.title),
    author: text(post.author, MAX_CHARS.author),
    url: text(post.url, MAX_CHARS.url),
    permalink: isRedditPath(post.permalink) ? storableText(post.permalink, MAX_CHARS.url) : shortLink(id),
    selftext: text(post.selftext, MAX_CHARS.selftext),
    score: post.score,
    numComments: post.num_comments,
    over18: post.over_18,
    createdUtc: new Date(post.created_utc * 1000),
  };
}
