/**
 * CLI entry of the embedded local LLM: `npx tsx llm/main.ts`.
 * Listens on LOCAL_LLM_HOST:LOCAL_LLM_PORT (default 127.0.0.1:8787) until SIGINT/SIGTERM.
 */
import { startLocalLlm } from './server';

const DEFAULT_PORT = 8787;
const DEFAULT_HOST = '127.0.0.1';

function portFromEnv(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new Error(`LOCAL_LLM_PORT must be a port number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function main(): Promise<void> {
  const port = portFromEnv(process.env.LOCAL_LLM_PORT);
  const host = process.env.LOCAL_LLM_HOST || DEFAULT_HOST;
  const llm = await startLocalLlm({ port, host });
  console.log(JSON.stringify({ msg: 'local llm listening', url: llm.url }));
  const stop = (signal: NodeJS.Signals): void => {
    console.log(JSON.stringify({ msg: 'local llm stopping', signal }));
    llm.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(
    JSON.stringify({
      msg: 'local llm failed to start',
      error: err instanceof Error ? err.message : String(err),
    }),
  );
  process.exit(1);
});
