/**
 * The workflow code a worker runs, as one webpack bundle (Temporal's `bundleWorkflowCode`).
 * Releases build it once at build time (`npm run build` writes dist/workflow-bundle.js,
 * which the image loads through `WORKFLOW_BUNDLE_PATH`); development bundles
 * `workflows/` when the process starts. Either way a process loads it once and every
 * task queue's worker in it shares the same code.
 */
import { readFile } from 'node:fs/promises';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';

/**
 * Bundles the workflows at `workflowsPath` (source `.ts` or compiled `.js`; default: the
 * `workflows/` next to this module), logging only webpack's warnings and errors.
 */
export async function bundleWorkflows(
  workflowsPath: string = require.resolve('../workflows'),
): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return { code };
}

const loaded = new Map<string, Promise<WorkflowBundle>>();

/**
 * This process's workflow bundle: the prebuilt file at `prebuiltPath`, else bundled from
 * source now. Loaded or built once per process and path, however many workers ask.
 */
export function workflowBundle(prebuiltPath?: string): Promise<WorkflowBundle> {
  const key = prebuiltPath ?? '';
  let bundle = loaded.get(key);
  if (!bundle) {
    bundle = prebuiltPath ? readFile(prebuiltPath, 'utf8').then((code) => ({ code })) : bundleWorkflows();
    // A failure is not cached: the next caller tries again.
    bundle.catch(() => loaded.delete(key));
    loaded.set(key, bundle);
  }
  return bundle;
}
