/**
 * A minimal command-line chat client for trying the system:
 *   npm run chat -- --token <dev token> "Hello there"
 * Creates a session (or uses --session), sends the message over the WebSocket and
 * prints the reply as it streams, then the usage.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { loadToolingConfig } from '../lib/config';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const tooling = loadToolingConfig();
  const token = arg('token') ?? tooling.chatToken;
  const base = arg('url') ?? tooling.chatUrl;
  const words = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const content = words.join(' ') || 'Hello!';
  if (!token) throw new Error('pass --token <dev token printed by npm start> (or set CHAT_TOKEN)');
  const headers = { Authorization: `Bearer ${token}` };

  let sessionId = arg('session');
  if (!sessionId) {
    const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers });
    if (res.status !== 201) throw new Error(`creating a session: HTTP ${res.status} ${await res.text()}`);
    sessionId = ((await res.json()) as { sessionId: string }).sessionId;
    process.stderr.write(`session ${sessionId}\n`);
  }
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, { headers });
  const requestId = randomUUID();
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'chat', requestId, sessionId, content }));
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(Buffer.from(data as ArrayBuffer).toString('utf8')) as Record<string, unknown>;
      switch (frame.type) {
        case 'delta':
          process.stdout.write(String(frame.content));
          break;
        case 'restart':
          process.stdout.write('\n[retrying]\n');
          break;
        case 'status':
          process.stderr.write(`[${String(frame.state)}]\n`);
          break;
        case 'tool_call':
        case 'tool_progress':
        case 'tool_result':
        case 'usage':
          process.stderr.write(`\n${JSON.stringify(frame)}\n`);
          break;
        case 'done':
          process.stdout.write('\n');
          ws.close();
          resolve();
          break;
        case 'error':
          ws.close();
          reject(new Error(`${String(frame.code)}: ${String(frame.message)}`));
          break;
      }
    });
  });
  process.stderr.write(`request ${requestId} (workflow chat-<your user id>-${requestId} in the Temporal UI)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
