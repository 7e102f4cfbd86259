import process from 'node:process';
import { main } from './main.js';

// The process's own streams and environment; main() itself never touches `process`.
process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
