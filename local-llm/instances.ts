/**
 * Several embedded LLMs side by side, so tests and the benchmark can play a provider
 * outage for real (docs/API.md "Models and providers"): each instance listens on its own
 * port, puts its name in its replies, and may be told to fail every request, to hang
 * (accept the request and never answer), or to cut every stream after N tokens.
 *
 * `npx tsx local-llm/main.ts --instance main=8787 --instance backup=8788,fail=503`
 */

/** How an instance misbehaves; nothing set = healthy. */
export interface LocalLlmFaults {
  /** Answer every chat request with this HTTP status. */
  failStatus?: number;
  /** Accept every chat request and never answer it (until the client or the server gives up). */
  hang?: boolean;
  /** Drop every stream's connection after this many tokens. */
  cutAfter?: number;
}

export interface InstanceSpec {
  name: string;
  port: number;
  faults: LocalLlmFaults;
}

export class InstanceFlagError extends Error {
  override name = 'InstanceFlagError';
}

const USAGE = '--instance NAME=PORT[,fail=STATUS][,hang][,cut=N]';

/** Parses one `--instance` value. */
export function parseInstance(value: string): InstanceSpec {
  const [head = '', ...options] = value.split(',');
  const m = /^([A-Za-z0-9_-]{1,32})=(\d{1,5})$/.exec(head);
  const port = Number(m?.[2]);
  if (!m || port > 65_535) throw new InstanceFlagError(`--instance ${value}: expected ${USAGE}`);
  const faults: LocalLlmFaults = {};
  for (const option of options) {
    const [key, raw] = option.split('=');
    const n = Number(raw);
    if (key === 'hang' && raw === undefined) faults.hang = true;
    else if (key === 'fail' && Number.isInteger(n) && n >= 400 && n <= 599) faults.failStatus = n;
    else if (key === 'cut' && Number.isInteger(n) && n >= 0) faults.cutAfter = n;
    else throw new InstanceFlagError(`--instance ${value}: unknown option ${option} (expected ${USAGE})`);
  }
  return { name: m[1]!, port, faults };
}

/** The `--instance` flags of a command line (`--instance X` or `--instance=X`), in order. */
export function parseInstanceFlags(argv: readonly string[]): InstanceSpec[] {
  const specs: InstanceSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--instance') {
      const value = argv[++i];
      if (value === undefined) throw new InstanceFlagError(`--instance needs a value: ${USAGE}`);
      specs.push(parseInstance(value));
    } else if (arg.startsWith('--instance=')) {
      specs.push(parseInstance(arg.slice('--instance='.length)));
    } else {
      throw new InstanceFlagError(`unknown argument ${arg} (expected ${USAGE})`);
    }
  }
  if (new Set(specs.map((s) => s.port)).size !== specs.length) throw new InstanceFlagError('two instances on one port');
  return specs;
}
