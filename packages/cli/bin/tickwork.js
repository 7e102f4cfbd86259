#!/usr/bin/env node
// In a Tickwork checkout (sources and tsx present) the CLI runs from its TypeScript sources, so it is
// never stale; installed from a package or in the Docker image it runs the bundle `npm run build` made.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { URL } from 'node:url';

const source = new URL('../src/bin.ts', import.meta.url);

async function fromSource() {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    return false;
  }
  tsx.register();
  // Resolve workspace packages (@tickwork/client) to their sources too, as the tests and typecheck do.
  register(
    'data:text/javascript,' +
      encodeURIComponent(
        'export const resolve = (specifier, context, next) => ' +
          "next(specifier, { ...context, conditions: [...context.conditions, 'tickwork-source'] });",
      ),
  );
  await import(source.href);
  return true;
}

if (!(existsSync(source) && (await fromSource()))) await import('../dist/tickwork.js');
