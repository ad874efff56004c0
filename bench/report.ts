/** The machine a benchmark ran on, and BENCHMARKS.md rendered from bench/results.json. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { goalMet, type BenchResult } from './result';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** 1, 5 and 15 minute load averages when the benchmark started. */
  loadAverage: number[];
}

/** One benchmark's latest figures (kept when a later attempt failed or was skipped). */
export interface Entry {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  /** When the figures in `result` were measured. */
  ranAt?: string;
  /** When it was last attempted (equals `ranAt` after a success). */
  attemptedAt: string;
  durationS?: number;
  machine?: Machine;
  result?: BenchResult;
  /** Why the last attempt produced no figures. */
  error?: string;
}

export interface ResultsFile {
  updatedAt: string;
  /** The last `npm run bench` invocation: what BENCHMARKS.md calls "this run". */
  lastRun?: { startedAt: string; command: string; names: string[] };
  entries: Record<string, Entry>;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** This machine, now. */
export function describeMachine(): Machine {
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const day = (iso: string | undefined) =>
  iso ? iso.replace('T', ' ').slice(0, 16) + ' UTC' : 'never';
const cell = (v: unknown) => String(v).replace(/\|/g, '\\|');

function machineLine(m: Machine, when = 'at its start'): string {
  return `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, load average ${m.loadAverage.join(' / ')} (1/5/15 min) ${when}`;
}

function section(name: string, e: Entry | undefined, thisRun: readonly string[]): string[] {
  const out = [`## ${name}`, ''];
  const fresh = thisRun.includes(name) && e?.status === 'ok';
  const alone = e?.result?.command ? `; alone, with the stack up: \`${e.result.command}\`` : '';
  out.push(`Command: \`npm run bench -- ${name}\`${alone}.`, '');
  if (!e?.result) {
    out.push(
      `No figures yet${e?.error ? `: last attempt ${day(e.attemptedAt)}: ${e.error}` : ''}.`,
      '',
    );
    return out;
  }
  const when = fresh ? 'this run' : 'an earlier run: figures kept from then';
  out.push(
    `Measured ${day(e.ranAt)} (${when})${e.durationS !== undefined ? `, in ${e.durationS} s` : ''}.`,
  );
  if (e.machine) out.push(`Machine: ${machineLine(e.machine)}.`);
  if (e.status !== 'ok')
    out.push(`**Last attempt ${day(e.attemptedAt)} ${e.status}: ${e.error ?? ''}**`);
  out.push('');
  const goals = new Map((e.result.goals ?? []).map((g) => [g.metric, g]));
  out.push('| metric | value | goal | |', '|---|---:|---|---|');
  for (const [k, v] of Object.entries(e.result.metrics)) {
    const g = goals.get(k);
    const met = g ? goalMet(g, e.result.metrics) : undefined;
    const verdict = g ? (met ? 'met' : met === false ? '**missed**' : 'n/a') : '';
    out.push(`| ${cell(k)} | ${cell(v)} | ${g ? `${g.op} ${g.target}` : ''} | ${verdict} |`);
  }
  out.push('');
  for (const note of e.result.notes ?? []) out.push(`- ${note}`);
  out.push('');
  return out;
}

/** BENCHMARKS.md. */
export function renderReport(file: ResultsFile, order: readonly string[]): string {
  const run = {
    runStarted: new Date(file.lastRun?.startedAt ?? file.updatedAt),
    command: file.lastRun?.command ?? 'npm run bench',
    thisRun: file.lastRun?.names ?? [],
    order,
  };
  const machine = describeMachine();
  const names = [...run.order, ...Object.keys(file.entries).filter((n) => !run.order.includes(n))];
  const out = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (scripts/bench.ts sets up the local stack, bench/run.ts runs each benchmark in its own process and merges into bench/results.json). This run: ${day(run.runStarted.toISOString())}, \`${run.command}\`.`,
    '',
    `Machine: ${machineLine(machine, 'when this file was written')}.`,
    '',
    '| benchmark | measured | goals met | status |',
    '|---|---|---|---|',
  ];
  for (const name of names) {
    const e = file.entries[name];
    const goals = e?.result?.goals ?? [];
    const met = goals.filter((g) => e?.result && goalMet(g, e.result.metrics)).length;
    const when = e?.result
      ? `${day(e.ranAt)}${run.thisRun.includes(name) && e.status === 'ok' ? '' : ' (earlier run)'}`
      : 'never';
    out.push(
      `| [${name}](#${name}) | ${when} | ${goals.length ? `${met}/${goals.length}` : '-'} | ${e?.status ?? 'not run'} |`,
    );
  }
  out.push('');
  for (const name of names) out.push(...section(name, file.entries[name], run.thisRun));
  return out.join('\n');
}
