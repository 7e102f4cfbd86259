import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ScrapedPost } from '@tickwork/shared';

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

export function toScrapedPost(post: RedditPost): ScrapedPost {
  return {
    redditId: post.id,
    subreddit: post.subreddit,
    title: post.title,
    author: post.author ?? null,
    url: post.url ?? null,
    permalink: post.permalink,
    selftext: post.selftext ?? null,
    score: post.score,
    numComments: post.num_comments,
    over18: post.over_18,
    createdUtc: new Date(post.created_utc * 1000),
  };
}
