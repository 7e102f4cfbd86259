import { parseArgs } from 'node:util';
import { fakePosts, startFakeReddit } from '../test/support/fake-reddit.js';

/**
 * `npm run fake-reddit`: the test suite's stand-in for Reddit's listing API, on a fixed port, for trying
 * bots by hand without reaching Reddit. Point the worker at it: REDDIT_BASE_URL=http://127.0.0.1:8765.
 */
const SUBREDDITS = ['typescript', 'node', 'python', 'rust', 'golang'];

const { values } = parseArgs({ options: { port: { type: 'string', default: '8765' } } });
const reddit = await startFakeReddit(Number(values.port));
for (const name of SUBREDDITS) reddit.setSubreddit(name, fakePosts(`${name.slice(0, 2)}`, 250));
console.log(
  `fake Reddit at ${reddit.url}, serving r/${SUBREDDITS.join(', r/')} (250 posts each); Ctrl-C stops it`,
);

const stop = () => {
  void reddit.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
