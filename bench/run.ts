/**
 * Runs benchmarks and reports them: `node --import tsx bench/run.ts [names...]` (what
 * `npm run bench` calls once the stack is up). Each benchmark runs in a fresh child
 * process (`bench/<name>.ts --json`, one JSON line on stdout), one after the other, so
 * one's leftovers (timers, connections, garbage) cannot disturb the next.
 *
 * Results are merged into bench/results.json (a benchmark not run keeps its last
 * figures, with their date) and BENCHMARKS.md is rewritten from it (`--report`: only
 * rewrite BENCHMARKS.md from bench/results.json, running nothing).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchResult } from './result';
import { describeMachine, renderReport, type Entry, type ResultsFile } from './report';

/** What `npm run bench` runs, in this order. */
export const ALL_BENCHMARKS = [
  'streams',
  'chat',
  'pruning',
  'user-cache',
  'quota',
  'tools',
  'tools-mcp',
  'metrics-overhead',
] as const;
/**
 * Run only when named (`npm run bench -- chat-tuning`): long experiments, not goals; and
 * `chat-failover`, an arm `chat` runs too, alone (bench/chat-failover.ts).
 */
export const OPTIONAL_BENCHMARKS = ['chat-tuning', 'chat-failover'] as const;
const KNOWN: readonly string[] = [...ALL_BENCHMARKS, ...OPTIONAL_BENCHMARKS];

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results.json');
const REPORT = path.join(ROOT, 'BENCHMARKS.md');
/** A benchmark still running after this long is killed and reported as failed (streams runs seven arms, each on a fresh stack). */
const TIMEOUT_MS = 30 * 60_000;

/** The benchmark's result from its stdout: the last line that is a BenchResult. */
export function parseResult(stdout: string): BenchResult | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as Partial<BenchResult>;
      if (typeof v.name === 'string' && v.metrics && typeof v.metrics === 'object')
        return v as BenchResult;
    } catch {
      /* not the result line */
    }
  }
  // A module without --json support: its pretty-printed result at the end.
  const start = stdout.lastIndexOf('\n{\n');
  if (start >= 0) {
    try {
      const v = JSON.parse(stdout.slice(start + 1)) as Partial<BenchResult>;
      if (typeof v.name === 'string' && v.metrics) return v as BenchResult;
    } catch {
      /* no result */
    }
  }
  return undefined;
}

/** Runs one benchmark module in a child process. */
function runModule(name: string): Promise<{ result?: BenchResult; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, '--json'], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      // Whatever the module prints besides its result goes to the console.
      for (const line of chunk.split('\n')) {
        if (line.trim() && !line.startsWith('{"name"')) process.stderr.write(`[${name}] ${line}\n`);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ error: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = parseResult(stdout);
      if (code === 0 && result) return resolve({ result });
      const why =
        signal === 'SIGKILL' ? `killed after ${TIMEOUT_MS / 60_000} min` : `exit ${code ?? signal}`;
      resolve({ error: result ? why : `${why}, no result on stdout` });
    });
  });
}

function loadResults(): ResultsFile {
  if (!existsSync(RESULTS)) return { updatedAt: '', entries: {} };
  try {
    return JSON.parse(readFileSync(RESULTS, 'utf8')) as ResultsFile;
  } catch {
    console.error('bench/results.json is not valid JSON: starting afresh');
    return { updatedAt: '', entries: {} };
  }
}

function writeReport(file: ResultsFile): void {
  const order = [...ALL_BENCHMARKS, ...OPTIONAL_BENCHMARKS.filter((n) => file.entries[n])];
  writeFileSync(REPORT, renderReport(file, order));
  console.error(`bench: wrote ${path.relative(ROOT, REPORT)} from ${path.relative(ROOT, RESULTS)}`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = args.filter((a) => !KNOWN.includes(a));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
    return 2;
  }
  const names = args.length > 0 ? args : [...ALL_BENCHMARKS];
  const file = loadResults();
  if (process.argv.includes('--report')) {
    writeReport(file);
    return 0;
  }
  file.lastRun = {
    startedAt: new Date().toISOString(),
    command: args.length > 0 ? `npm run bench -- ${names.join(' ')}` : 'npm run bench',
    names,
  };
  let failed = 0;
  for (const name of names) {
    const machine = describeMachine();
    const ranAt = new Date().toISOString();
    const previous = file.entries[name];
    if (!existsSync(path.join(ROOT, 'bench', `${name}.ts`))) {
      console.error(`bench: ${name}: bench/${name}.ts does not exist yet, skipped`);
      file.entries[name] = {
        ...previous,
        name,
        status: 'skipped',
        attemptedAt: ranAt,
        error: `bench/${name}.ts not found`,
      };
      continue;
    }
    console.error(`bench: ${name}: running (load average ${machine.loadAverage.join(' ')})`);
    const t0 = Date.now();
    const out = await runModule(name);
    const durationS = Math.round((Date.now() - t0) / 100) / 10;
    const entry: Entry = out.result
      ? { name, status: 'ok', ranAt, attemptedAt: ranAt, durationS, machine, result: out.result }
      : { ...previous, name, status: 'failed', attemptedAt: ranAt, error: out.error };
    if (!out.result) failed++;
    console.error(
      `bench: ${name}: ${out.result ? `done in ${durationS} s` : `FAILED (${out.error})`}`,
    );
    file.entries[name] = entry;
    // Written after every benchmark, so an interrupted run keeps what it measured.
    file.updatedAt = new Date().toISOString();
    writeFileSync(RESULTS, `${JSON.stringify(file, null, 2)}\n`);
  }
  file.updatedAt = new Date().toISOString();
  writeFileSync(RESULTS, `${JSON.stringify(file, null, 2)}\n`);
  writeReport(file);
  return failed > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
