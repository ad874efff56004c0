/**
 * Operator commands: `npm run ops -- <command> [args]` (README "Runbook").
 * A small dispatcher over a command table; each area adds its commands in
 * `scripts/ops/<area>.ts`. Reads the same configuration as the services
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, task queues...).
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../lib/config';
import { dataConverter } from '../lib/payload-codec';
import { billingCommands } from './ops/billing';
import type { OpsCommand, OpsContext } from './ops/context';
import { toolCommands } from './ops/tools';

/** Every command, by name. */
export const COMMANDS: Readonly<Record<string, OpsCommand>> = Object.freeze({
  ...billingCommands,
  ...toolCommands,
});

function help(out: (line: string) => void): void {
  out('usage: npm run ops -- <command> [args]');
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    out(`  ${`${name} ${cmd.args}`.padEnd(40)} ${cmd.summary}`);
  }
}

/** Runs one command line; resolves to the exit code. */
export async function runOps(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const [name, ...args] = argv;
  const cmd = name === undefined ? undefined : COMMANDS[name];
  if (!cmd) {
    if (name !== undefined && name !== 'help' && name !== '--help') out(`unknown command: ${name}`);
    help(out);
    return name === undefined || name === 'help' || name === '--help' ? 0 : 2;
  }
  const config = loadConfig();
  const connection = await Connection.connect({ address: config.temporalAddress });
  try {
    const ctx: OpsContext = {
      config,
      temporal: new Client({ connection, namespace: config.temporalNamespace, dataConverter: dataConverter(config.payloadKeys) }),
      out,
    };
    return await cmd.run(args, ctx);
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  runOps(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
