#!/usr/bin/env node
// Runs the TypeScript sources through tsx (a root devDependency), so the CLI works without a build.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
