// `node dist/workers/bundle.js <out>`: bundles the workflows once at build time (scripts/build.sh),
// so a worker started from dist/ loads the bundle instead of running webpack at every start
// (which costs ~3 s and ~140 MB of RSS that the process never gives back).
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleOptions } from './worker';

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: bundle.js <output file>');
  const { code } = await bundleWorkflowCode(workflowBundleOptions);
  writeFileSync(out, code);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
