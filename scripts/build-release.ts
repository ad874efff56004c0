/**
 * The second half of `npm run build`, run with plain node after `tsc -p
 * tsconfig.build.json` has compiled the runtime code to dist/: bundles the compiled
 * workflows into dist/workflow-bundle.js (the workers load it through
 * `WORKFLOW_BUNDLE_PATH` instead of bundling at boot), builds the web app into dist/web
 * (served as it is: the runtime has no esbuild) and copies the files the code reads at
 * run time, so dist/ plus production node_modules is the whole release.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildWebApp } from '../api/static';
import { bundleWorkflows } from '../workers/bundle';

/** dist/ (this file runs as dist/scripts/build-release.js). */
const DIST = path.resolve(__dirname, '..');
const ROOT = path.resolve(DIST, '..');

/** Non-code files read at run time, relative to the repository (and to dist/). */
const ASSETS = ['db/migrations'];

/** Where the release's workflow bundle lands (the image's `WORKFLOW_BUNDLE_PATH`). */
export const BUNDLE_FILE = 'workflow-bundle.js';

async function main(): Promise<void> {
  const started = Date.now();
  const { code } = await bundleWorkflows(path.join(DIST, 'workflows'));
  writeFileSync(path.join(DIST, BUNDLE_FILE), code);
  const webDir = path.join(DIST, 'web');
  mkdirSync(webDir, { recursive: true });
  for (const [route, asset] of await buildWebApp(path.join(ROOT, 'web'))) {
    writeFileSync(path.join(webDir, route === '/' ? 'index.html' : route.slice(1)), asset.body);
  }
  for (const asset of ASSETS) {
    cpSync(path.join(ROOT, asset), path.join(DIST, asset), { recursive: true });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`dist/${BUNDLE_FILE}, dist/web bundled and ${ASSETS.join(', ')} copied in ${seconds} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
