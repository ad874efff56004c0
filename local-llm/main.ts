/**
 * CLI entry of the embedded local LLM: `npx tsx local-llm/main.ts`.
 * Listens on LOCAL_LLM_HOST:LOCAL_LLM_PORT (default 127.0.0.1:8787) until SIGINT/SIGTERM.
 */
import { loadLocalLlmConfig } from '../lib/config';
import { startLocalLlm } from './server';

async function main(): Promise<void> {
  const { port, host } = loadLocalLlmConfig();
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
