/**
 * CLI entry of the embedded local LLM: `npx tsx local-llm/main.ts`.
 * Listens on LOCAL_LLM_HOST:LOCAL_LLM_PORT (default 127.0.0.1:8787) until SIGINT/SIGTERM.
 * With `--instance NAME=PORT[,fail=STATUS][,hang][,cut=N]` (repeatable) it runs those
 * instances instead, each on its own port, on LOCAL_LLM_HOST (local-llm/instances.ts).
 */
import { loadLocalLlmConfig } from '../lib/config';
import { parseInstanceFlags } from './instances';
import { startLocalLlm, type LocalLlm } from './server';

async function main(): Promise<void> {
  const { port, host } = loadLocalLlmConfig();
  const specs = parseInstanceFlags(process.argv.slice(2));
  const llms: LocalLlm[] =
    specs.length === 0
      ? [await startLocalLlm({ port, host })]
      : await Promise.all(specs.map((s) => startLocalLlm({ port: s.port, host, name: s.name, faults: s.faults })));
  for (const llm of llms) {
    console.log(JSON.stringify({ msg: 'local llm listening', url: llm.url, name: llm.name }));
  }
  const stop = (signal: NodeJS.Signals): void => {
    console.log(JSON.stringify({ msg: 'local llm stopping', signal }));
    Promise.all(llms.map((l) => l.close())).then(
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
