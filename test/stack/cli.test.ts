/**
 * `npm run chat` (scripts/chat-client.ts) as a child process against the real stack:
 * the one-shot form, and the interactive one surviving an API restart mid-reply
 * (through a TCP proxy: the old API process closes, a new one takes its place) with
 * the reply printed exactly once, then /usage, /sessions, /new, a long tool's progress
 * bar, Ctrl-C cancelling a reply and Ctrl-C twice quitting.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApiServer, type ApiServer } from '../../api/server';
import { createLogger } from '../../lib/logger';
import { startTcpProxy, type TcpProxy } from '../../testkit/tcp-proxy';
import { startSystem, type TestSystem } from '../../testkit/system';

const ROOT = path.resolve(__dirname, '..', '..');
const WAIT_MS = 60_000;
const quiet = createLogger({ service: 'test-cli' }, 'error');

let sys: TestSystem;
let proxy: TcpProxy;
const apis: ApiServer[] = [];
const children: ChildProcess[] = [];

before(async () => {
  sys = await startSystem();
  proxy = await startTcpProxy(sys.api.port);
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const a of apis) await a.close().catch(() => undefined);
  await proxy?.close();
  await sys?.stop();
});

interface Cli {
  child: ChildProcess;
  out: () => string;
  errText: () => string;
  exited: Promise<number | null>;
  /** Waits until stdout or stderr (as chosen) satisfies `pred`. */
  waitFor(stream: 'out' | 'err', pred: (text: string) => boolean, what: string): Promise<string>;
  write(line: string): void;
}

function runCli(args: string[]): Cli {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/chat-client.ts', '--url', proxy.url, ...args],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CHAT_TOKEN: '' },
    },
  );
  children.push(child);
  let out = '';
  let errText = '';
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    notify();
  });
  child.stderr.on('data', (d: Buffer) => {
    errText += d.toString('utf8');
    notify();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => (notify(), resolve(code))),
  );
  return {
    child,
    out: () => out,
    errText: () => errText,
    exited,
    waitFor(stream, pred, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const text = stream === 'out' ? out : errText;
          if (pred(text)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(text);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`cli exited waiting for ${what}\nstdout: ${out}\nstderr: ${errText}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}\nstdout: ${out}\nstderr: ${errText}`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      });
    },
    write(line) {
      child.stdin.write(`${line}\n`);
    },
  };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

async function lastReply(token: string, sessionId: string): Promise<string> {
  const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
  const replies = (res.body.messages as Array<{ role: string; content: string }>).filter(
    (m) => m.role === 'assistant',
  );
  return replies.at(-1)?.content ?? '';
}

function sessionOf(stderr: string): string {
  const ids = [...stderr.matchAll(/session ([0-9a-f-]{36})/g)].map((m) => m[1]!);
  assert.ok(ids.length > 0, `a session id in: ${stderr}`);
  return ids.at(-1)!;
}

describe('npm run chat', () => {
  it('one shot: prints the reply and exits 0', async () => {
    const { token } = sys.newUser();
    const cli = runCli(['--token', token, '[[tokens:8]]', 'hello']);
    assert.equal(await cli.exited, 0, cli.errText());
    const reply = await lastReply(token, sessionOf(cli.errText()));
    assert.equal(cli.out(), `${reply}\n`);
    assert.match(cli.errText(), /today \d+\/50000/);
  });

  it('one shot: an error exits 1 with its code', async () => {
    const cli = runCli(['--token', 'bad-token', 'hello']);
    assert.equal(await cli.exited, 1);
    assert.match(cli.errText(), /unauthorized/);
  });

  it('interactive: survives an API restart mid-reply, then /usage, /sessions, /new and a tool with a progress bar', async () => {
    const { token } = sys.newUser();
    const first = await startApiServer(sys.config, quiet);
    apis.push(first);
    proxy.retarget(first.port);
    const cli = runCli(['--token', token]);
    await cli.waitFor('err', (t) => t.includes('you> '), 'the prompt');
    const sessionId = sessionOf(cli.errText());

    cli.write('[[tokens:60]] [[delay_ms:40]] tell me everything');
    await cli.waitFor('out', (t) => t.length > 10, 'the reply to start');
    await first.close();
    const second = await startApiServer(sys.config, quiet);
    apis.push(second);
    proxy.retarget(second.port);
    await cli.waitFor('err', (t) => t.includes('[reconnecting…]'), 'reconnecting');
    await cli.waitFor('err', (t) => /\[tokens \d+ \+ \d+ = \d+ · today/.test(t), 'the usage line');
    const reply = await lastReply(token, sessionId);
    assert.equal(
      cli.out(),
      `${reply}\n`,
      'the reply printed exactly once, nothing lost or repeated',
    );

    cli.write('/usage');
    await cli.waitFor('err', (t) => count(t, '· today') + count(t, '[today') >= 2, '/usage');
    cli.write('/sessions');
    await cli.waitFor(
      'err',
      (t) => t.includes('* 1. [[tokens:60]] [[delay_ms:40]] tell me everything · 2 messages'),
      '/sessions',
    );
    cli.write('/new');
    await cli.waitFor('err', (t) => sessionOf(t) !== sessionId, '/new');

    const doc = Array.from({ length: 40 }, (_, i) => `Line ${i} of the document.`).join(' ');
    cli.write(`[[tool:summarize_document ${JSON.stringify({ text: doc, chunkTokens: 30 })}]]`);
    await cli.waitFor('err', (t) => t.includes('[tool finished]'), 'the tool to finish');
    assert.match(cli.errText(), /\[#+-*\]\s+\d+% /, 'a progress bar was drawn');
    assert.match(cli.errText(), /\[#{20}\] 100% /, 'the bar reached 100%');

    cli.write('/quit');
    assert.equal(await cli.exited, 0);
  });

  it('interactive: Ctrl-C cancels the reply in flight; twice quits', async () => {
    const { token } = sys.newUser();
    proxy.retarget(sys.api.port);
    const cli = runCli(['--token', token]);
    await cli.waitFor('err', (t) => t.includes('you> '), 'the prompt');
    cli.write('[[tokens:400]] [[delay_ms:40]] keep going');
    await cli.waitFor('out', (t) => t.length > 0, 'the reply to start');
    cli.child.kill('SIGINT');
    await cli.waitFor('err', (t) => t.includes('error cancelled'), 'the cancel');
    cli.child.kill('SIGINT');
    await cli.waitFor('err', (t) => t.includes('press Ctrl-C again'), 'the hint');
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 0);
  });
});
