/**
 * Reddit's rule for subreddit names: letters, digits and underscores, not starting with an underscore,
 * at most 21 characters. New names need 3; a few old communities have 2 (r/de, r/nl), so 2 is allowed.
 */
const SUBREDDIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_]{1,20}$/;

export const MAX_SUBREDDITS = 50;

export interface SubredditProblem {
  index: number;
  message: string;
}

/**
 * The names as Reddit knows them: an `r/` or `/r/` prefix dropped, duplicates (Reddit ignores case)
 * kept once in their first spelling. Problems name the offending entry.
 */
export function normalizeSubreddits(
  input: readonly string[],
): { subreddits: string[] } | { problems: SubredditProblem[] } {
  const problems: SubredditProblem[] = [];
  const seen = new Set<string>();
  const subreddits: string[] = [];
  input.forEach((raw, index) => {
    const name = raw.trim().replace(/^\/?r\//i, '');
    if (!SUBREDDIT_NAME.test(name)) {
      problems.push({
        index,
        message: `"${raw}" is not a subreddit name: 2 to 21 letters, digits or underscores, not starting with an underscore`,
      });
      return;
    }
    if (seen.has(name.toLowerCase())) return;
    seen.add(name.toLowerCase());
    subreddits.push(name);
  });
  if (problems.length > 0) return { problems };
  if (subreddits.length === 0)
    return { problems: [{ index: 0, message: 'must name at least one subreddit' }] };
  return { subreddits };
}
