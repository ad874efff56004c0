/**
 * `npm run chat`: the command-line chat over the client library (client/).
 *
 *   npm run chat -- --token <dev token> [--session <id>] [--url http://127.0.0.1:3000]
 *       an interactive conversation: replies stream in, long tools draw a progress bar,
 *       usage and quota after each reply; /new, /sessions, /open <n|id>, /usage,
 *       /cancel, /help, /quit. Ctrl-C cancels the reply in flight (twice quits). The
 *       connection survives an API restart mid-reply (the library resumes the request).
 *   npm run chat -- --token <dev token> "Hello there"
 *       one shot: sends the message, prints the reply to stdout, exits (1 on error).
 *
 * Status lines go to stderr, reply text to stdout.
 */
import readline from 'node:readline';
import WebSocket from 'ws';
import {
  ChatApiError,
  ChatClient,
  nextDailyReset,
  type ChatEvent,
  type ChatHandle,
  type Session,
  type WebSocketConstructor,
} from '../client';
import { loadToolingConfig } from '../lib/config';

const HELP = `commands: /new  /sessions  /open <n|id>  /usage  /cancel  /help  /quit
Ctrl-C cancels the reply in flight; twice quits.`;

interface Args {
  token?: string;
  url?: string;
  session?: string;
  words: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { words: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(token|url|session)$/.exec(a);
    if (m) args[m[1] as 'token' | 'url' | 'session'] = argv[++i];
    else args.words.push(a);
  }
  return args;
}

const err = (line: string) => process.stderr.write(`${line}\n`);

function describe(e: unknown): string {
  if (e instanceof ChatApiError) {
    const retry = e.retryAfter !== undefined ? ` (retry in ${e.retryAfter} s)` : '';
    return `${e.code}: ${e.message}${retry}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function untilReset(): string {
  const min = Math.round((nextDailyReset().getTime() - Date.now()) / 60_000);
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** `[##########----------]  50% message` */
function progressBar(progress: number, message: string): string {
  const width = 20;
  const filled = Math.round((Math.max(0, Math.min(100, progress)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(progress)).padStart(3)}% ${message}`;
}

/** Prints one reply as it streams: text to stdout, the rest to stderr. */
class ReplyPrinter {
  private printed = '';
  private barShown = false;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly verbose: boolean) {}

  on(event: ChatEvent, handle: ChatHandle): void {
    switch (event.type) {
      case 'delta':
        this.clearBar();
        // The handle's text is the truth: print what it adds to what is shown.
        if (handle.text.startsWith(this.printed)) {
          process.stdout.write(handle.text.slice(this.printed.length));
        } else {
          process.stdout.write(`\n${handle.text}`);
        }
        this.printed = handle.text;
        break;
      case 'restart':
        this.clearBar();
        if (this.printed) process.stdout.write('\n');
        err('[the model was retried; the reply starts again]');
        this.printed = '';
        break;
      case 'status':
        if (this.verbose) err(`[${event.state}]`);
        break;
      case 'tool_call':
        this.newline();
        err(`[tool ${event.name} ${JSON.stringify(event.arguments).slice(0, 120)}]`);
        break;
      case 'tool_progress':
        this.drawBar(event.progress, event.message);
        break;
      case 'tool_result':
        if (this.barShown) this.drawBar(100, 'done');
        this.clearBar(true);
        err(event.ok ? '[tool finished]' : `[tool failed: ${event.error ?? 'unknown error'}]`);
        break;
      default:
        break;
    }
  }

  /** Ends the reply's line; prints what the stream did not (e.g. a reply with no deltas). */
  finish(content?: string): void {
    this.clearBar();
    if (content !== undefined && content !== this.printed) {
      process.stdout.write(content.startsWith(this.printed) ? content.slice(this.printed.length) : `\n${content}`);
      this.printed = content;
    }
    if (this.printed) process.stdout.write('\n');
  }

  private newline(): void {
    if (this.printed && !this.printed.endsWith('\n')) {
      process.stdout.write('\n');
      this.printed += '\n';
    }
  }

  private drawBar(progress: number, message: string): void {
    const bar = progressBar(progress, message);
    if (this.tty) process.stderr.write(`\r\x1b[2K${bar}`);
    else err(bar);
    this.barShown = true;
  }

  private clearBar(keep = false): void {
    if (!this.barShown) return;
    if (this.tty) process.stderr.write(keep ? '\n' : '\r\x1b[2K');
    this.barShown = false;
  }
}

async function usageLine(client: ChatClient, event?: Extract<ChatEvent, { type: 'usage' }>): Promise<string> {
  const parts: string[] = [];
  if (event) parts.push(`tokens ${event.promptTokens} + ${event.completionTokens} = ${event.totalTokens}`);
  try {
    const usage = await client.usage(1);
    const { daily, monthly } = usage.quota;
    parts.push(`today ${daily.used}/${daily.limit} (resets in ${untilReset()})`, `month ${monthly.used}/${monthly.limit}`);
  } catch (e) {
    parts.push(`usage unavailable: ${describe(e)}`);
  }
  return `[${parts.join(' · ')}]`;
}

/** Asks the user one question; resolves with the line typed (empty when input ended). */
type Ask = (question: string) => Promise<string>;

/** One question on stdin, for one-shot use (input that is closed answers ''). */
const askOnce: Ask = (question) =>
  new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });

/**
 * A tool call waits for the user's decision: asks `approve? [y/N]` and sends the answer
 * (anything but y/yes denies). Never throws: a decision the API refuses is printed.
 */
async function askApproval(client: ChatClient, requestId: string, event: Extract<ChatEvent, { type: 'approval_required' }>, ask: Ask): Promise<void> {
  const args = JSON.stringify(event.arguments).slice(0, 200);
  const answer = await ask(`[tool ${event.name} ${args} wants to run] approve? [y/N] `);
  const yes = /^y(es)?$/i.test(answer.trim());
  try {
    if (yes) await client.approve(requestId, event.toolCallId);
    else await client.deny(requestId, event.toolCallId, 'denied in the CLI');
    err(yes ? '[approved]' : '[denied]');
  } catch (e) {
    err(`[the decision was not recorded: ${describe(e)}]`);
  }
}

/** Sends one message and prints the reply; resolves when it ends. */
async function converse(client: ChatClient, sessionId: string, content: string, verbose: boolean, ask: Ask, onStart?: (h: ChatHandle) => void) {
  const handle = client.chat({ sessionId, content });
  onStart?.(handle);
  const printer = new ReplyPrinter(verbose);
  let usage: Extract<ChatEvent, { type: 'usage' }> | undefined;
  // Several calls of one reply may wait: one question at a time.
  let questions = Promise.resolve();
  handle.on((event) => {
    if (event.type === 'usage') usage = event;
    printer.on(event, handle);
    if (event.type === 'approval_required') {
      questions = questions.then(() => askApproval(client, handle.requestId, event, ask));
    }
  });
  const end = await handle.terminal;
  printer.finish(end.type === 'done' ? end.content : undefined);
  return { handle, end, usage };
}

async function oneShot(client: ChatClient, args: Args): Promise<number> {
  const sessionId = args.session ?? (await client.createSession()).sessionId;
  if (!args.session) err(`session ${sessionId}`);
  const { handle, end, usage } = await converse(client, sessionId, args.words.join(' '), true, askOnce);
  if (end.type === 'error') {
    err(`error ${describe(new ChatApiError(end.code, end.message, end))}`);
    return 1;
  }
  err(await usageLine(client, usage));
  err(`request ${handle.requestId} (workflow chat-<your user id>-${handle.requestId} in the Temporal UI)`);
  return 0;
}

async function interactive(client: ChatClient, args: Args): Promise<number> {
  let sessionId = args.session ?? (await client.createSession()).sessionId;
  let listed: Session[] = [];
  let running: ChatHandle | undefined;
  let lastInterrupt = 0;
  err(`session ${sessionId}  (${HELP.split('\n')[0]})`);
  client.onState((state) => {
    if (state === 'reconnecting') err('[reconnecting…]');
    else if (state === 'open') err('[connected]');
    else if (state === 'closed') err('[disconnected]');
  });

  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
  const prompt = () => {
    rl.setPrompt('you> ');
    rl.prompt();
  };
  const finished = new Promise<number>((resolve) => rl.on('close', () => resolve(0)));
  // A question asked while a reply runs (an approval) takes the next line typed.
  let answer: ((line: string) => void) | undefined;
  const ask: Ask = (question) => {
    process.stderr.write(question);
    return new Promise((resolve) => (answer = resolve));
  };

  const interrupt = () => {
    if (running) {
      err('\n[cancelling…]');
      running.cancel();
      return;
    }
    if (Date.now() - lastInterrupt < 2000) return rl.close();
    lastInterrupt = Date.now();
    err('\n(press Ctrl-C again to quit)');
    prompt();
  };
  // readline sees Ctrl-C itself on a terminal; with piped input it arrives as a signal.
  rl.on('SIGINT', interrupt);
  if (!process.stdin.isTTY) process.on('SIGINT', interrupt);

  const commands: Record<string, (arg: string) => Promise<void>> = {
    async new() {
      sessionId = (await client.createSession()).sessionId;
      err(`session ${sessionId}`);
    },
    async sessions() {
      listed = (await client.listSessions({ limit: 20 })).sessions;
      listed.forEach((s, i) => {
        const mark = s.sessionId === sessionId ? '*' : ' ';
        err(`${mark}${String(i + 1).padStart(2)}. ${s.title ?? '(no messages yet)'} · ${s.messageCount} messages · ${s.tokens} tokens · ${s.lastMessageAt} · ${s.sessionId}`);
      });
      if (listed.length === 0) err('(no sessions)');
    },
    async open(arg) {
      const chosen = /^\d+$/.test(arg) ? listed[Number(arg) - 1]?.sessionId : arg;
      if (!chosen) {
        err('usage: /open <number from /sessions | session id>');
        return;
      }
      const messages = await client.messages(chosen, 20);
      sessionId = chosen;
      for (const m of messages) err(`${m.role}> ${m.content}`);
      err(`session ${sessionId}`);
    },
    async usage() {
      err(await usageLine(client));
    },
    cancel() {
      if (running) running.cancel();
      else err('(no reply in flight)');
      return Promise.resolve();
    },
    help() {
      err(HELP);
      return Promise.resolve();
    },
    quit() {
      rl.close();
      return Promise.resolve();
    },
  };

  rl.on('line', (line) => {
    const text = line.trim();
    if (answer) {
      const take = answer;
      answer = undefined;
      return take(text);
    }
    void (async () => {
      if (!text) return prompt();
      if (text.startsWith('/')) {
        const [name = '', ...rest] = text.slice(1).split(/\s+/);
        const command = commands[name];
        if (!command) err(`unknown command /${name}; ${HELP.split('\n')[0]}`);
        else await command(rest.join(' ')).catch((e: unknown) => err(`error ${describe(e)}`));
        if (name !== 'quit') prompt();
        return;
      }
      if (running) return err('(a reply is still coming: wait, or /cancel)');
      const { end, usage } = await converse(client, sessionId, text, false, ask, (h) => (running = h));
      running = undefined;
      if (end.type === 'error') err(`error ${describe(new ChatApiError(end.code, end.message, end))}`);
      else err(await usageLine(client, usage));
      prompt();
    })();
  });
  prompt();
  return finished;
}

async function main(): Promise<number> {
  const tooling = loadToolingConfig();
  const args = parseArgs(process.argv.slice(2));
  const token = args.token ?? tooling.chatToken;
  if (!token) throw new Error('pass --token <dev token printed by npm start> (or set CHAT_TOKEN)');
  const client = new ChatClient({
    baseUrl: args.url ?? tooling.chatUrl,
    token,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
  try {
    return args.words.length > 0 ? await oneShot(client, args) : await interactive(client, args);
  } finally {
    client.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    err(describe(e));
    process.exit(1);
  },
);
