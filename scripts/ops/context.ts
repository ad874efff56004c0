/** What every operator command gets: config, a Temporal client, and where to print. */
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';

export interface OpsContext {
  config: Readonly<Config>;
  temporal: Client;
  /** Prints one line of output (stdout for the CLI; captured in tests). */
  out: (line: string) => void;
}

/** One operator command of `npm run ops -- <name> [args]`. */
export interface OpsCommand {
  /** Arguments, for the help text, e.g. `<workflowId>|--all`. */
  args: string;
  summary: string;
  /** Runs the command; resolves to the process exit code. */
  run: (args: string[], ctx: OpsContext) => Promise<number>;
}
