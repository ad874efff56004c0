/**
 * MCP servers no one here wrote (issue #17's proof): the reference servers the MCP project
 * publishes on npm, `@modelcontextprotocol/server-filesystem` and
 * `@modelcontextprotocol/server-memory` (devDependencies), configured as a new user would:
 * `MCP_CONFIG` in the `mcpServers` format, `node` + the package's bin over stdio, an
 * allowed directory as argument, the memory file in `env`. The real stack, the WebSocket
 * and HTTP contract; what the servers did is checked on disk, never taken from our side.
 *
 * Both servers annotate their tools: read_* / list_* / search_* / open_* say
 * `readOnlyHint: true` (no approval under the default `approval: auto`); write_file,
 * create_entities and the rest say `readOnlyHint: false` (they wait for the user's yes).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { assertOneEnd, ofType, send, tool } from '../../testkit/tool-chat';
import type { Frame, TestClient } from '../../testkit/ws-client';

/** A package's bin script, resolved from its package.json as `npx` would find it. */
function binOf(pkg: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(manifest), Object.values(bin)[0]!);
}

const FS_BIN = binOf('@modelcontextprotocol/server-filesystem');
const MEMORY_BIN = binOf('@modelcontextprotocol/server-memory');

let sys: TestSystem;
/** The one directory the filesystem server may touch (real path: /tmp may be a link). */
let dir: string;
let memoryFile: string;
let config: string;

before(async () => {
  dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'mcp-ref-')));
  memoryFile = path.join(realpathSync(tmpdir()), `mcp-ref-memory-${randomUUID()}.jsonl`);
  config = path.join(tmpdir(), `mcp-ref-${randomUUID()}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        filesystem: { command: 'node', args: [FS_BIN, dir] },
        memory: { command: 'node', args: [MEMORY_BIN], env: { MEMORY_FILE_PATH: memoryFile } },
      },
    }),
  );
  sys = await startSystem({ env: { MCP_CONFIG: config } });
  await eventually(
    'both reference servers up',
    async () => {
      const res = await sys.http(sys.newUser().token, 'GET', '/v1/tools');
      return (
        (res.body.servers as Array<{ status: string }>).filter((s) => s.status === 'up').length ===
        2
      );
    },
    60_000,
  );
});
after(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(memoryFile, { force: true });
  rmSync(config, { force: true });
});

/** Runs a chat turn to its end: the frames, checked to end with exactly one terminal frame. */
async function turn(client: TestClient, requestId: string): Promise<Frame[]> {
  await client.end(requestId, 60_000);
  const frames = client.of(requestId);
  assertOneEnd(frames);
  assert.equal(frames.at(-1)!.type, 'done', JSON.stringify(frames.slice(-3)));
  return frames;
}

/** The one tool_result of a turn, and its text content joined. */
function resultOf(frames: Frame[]): { frame: Frame; text: string } {
  const results = ofType(frames, 'tool_result');
  assert.equal(results.length, 1, JSON.stringify(results));
  const content =
    (results[0]!.result as { content?: Array<{ type: string; text?: string }> } | undefined)
      ?.content ?? [];
  return { frame: results[0]!, text: content.map((c) => c.text ?? '').join('\n') };
}

async function approvalOf(client: TestClient, requestId: string): Promise<Frame> {
  return client.waitFor(
    (fs) => fs.find((f) => f.requestId === requestId && f.type === 'approval_required'),
    30_000,
  );
}

/** What the server itself lists, asked directly with the SDK (the reference, not our catalog). */
async function listedDirectly(
  args: string[],
  env?: Record<string, string>,
): Promise<Array<{ name: string; readOnly: boolean }>> {
  const client = new Client({ name: 'mcp-reference-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: 'node',
      args,
      ...(env ? { env: { ...process.env, ...env } as Record<string, string> } : {}),
      stderr: 'ignore',
    }),
  );
  try {
    const { tools } = await client.listTools();
    return tools.map((t) => ({ name: t.name, readOnly: t.annotations?.readOnlyHint === true }));
  } finally {
    await client.close();
  }
}

describe('MCP reference servers (filesystem, memory) over stdio', () => {
  it('GET /v1/tools lists every tool of both as <server>__<tool>, approval from their annotations', async () => {
    const res = await sys.http(sys.newUser().token, 'GET', '/v1/tools');
    assert.equal(res.status, 200);
    const servers = Object.fromEntries(
      (res.body.servers as Array<{ name: string; status: string }>).map((s) => [s.name, s.status]),
    );
    assert.deepEqual(servers, { filesystem: 'up', memory: 'up' });
    const byName = new Map(
      (res.body.tools as Array<Record<string, unknown>>).map((t) => [t.name, t]),
    );
    const reference = {
      filesystem: await listedDirectly([FS_BIN, dir]),
      memory: await listedDirectly([MEMORY_BIN], { MEMORY_FILE_PATH: memoryFile }),
    };
    for (const [server, tools] of Object.entries(reference)) {
      assert.ok(
        tools.some((t) => t.readOnly) && tools.some((t) => !t.readOnly),
        `${server} has both kinds`,
      );
      for (const t of tools) {
        const listed = byName.get(`${server}__${t.name}`);
        assert.ok(listed, `${server}__${t.name} listed`);
        assert.deepEqual([listed.source, listed.server], ['mcp', server]);
        assert.equal(listed.approval, t.readOnly ? 'none' : 'required', `${server}__${t.name}`);
        assert.equal((listed.inputSchema as { type?: string }).type, 'object');
      }
      const names = (res.body.servers as Array<{ name: string; tools: string[] }>).find(
        (s) => s.name === server,
      )!.tools;
      assert.deepEqual([...names].sort(), tools.map((t) => `${server}__${t.name}`).sort());
    }
    // The tools this file drives, as the servers annotate them today.
    assert.equal(byName.get('filesystem__read_text_file')?.approval, 'none');
    assert.equal(byName.get('filesystem__write_file')?.approval, 'required');
  });

  it('a read-only tool (read_text_file, list_directory) runs at once and carries the real file content', async () => {
    const { client, sessionId } = await sys.newChat();
    const name = `note-${randomUUID()}.txt`;
    const content = `written by the test ${randomUUID()}\nsecond line`;
    writeFileSync(path.join(dir, name), content);

    const read = await turn(
      client,
      send(client, sessionId, tool('filesystem__read_text_file', { path: path.join(dir, name) })),
    );
    assert.equal(ofType(read, 'approval_required').length, 0, 'read-only: no approval');
    assert.match(String(ofType(read, 'tool_call')[0]?.taskId), /^tool-/);
    const got = resultOf(read);
    assert.equal(got.frame.ok, true);
    assert.equal(got.text, content);

    const list = await turn(
      client,
      send(client, sessionId, tool('filesystem__list_directory', { path: dir })),
    );
    assert.equal(ofType(list, 'approval_required').length, 0);
    assert.match(resultOf(list).text, new RegExp(`\\[FILE\\] ${name.replace(/[.-]/g, '\\$&')}`));
    await client.close();
  });

  it('a path outside the allowed directory: the server refuses, tool_result ok:false, the request ends once', async () => {
    const { client, sessionId } = await sys.newChat();
    const outside = path.join(path.dirname(dir), `outside-${randomUUID()}.txt`);
    writeFileSync(outside, 'not for the server');
    try {
      const frames = await turn(
        client,
        send(client, sessionId, tool('filesystem__read_text_file', { path: outside })),
      );
      const got = resultOf(frames);
      assert.deepEqual([got.frame.ok, got.frame.error], [false, 'the tool reported an error']);
      assert.match(got.text, /access denied|outside allowed/i);
      assert.doesNotMatch(got.text, /not for the server/);
      assert.equal(ofType(frames, 'usage').length, 1, 'billed once');
    } finally {
      rmSync(outside, { force: true });
    }
    await client.close();
  });

  it('write_file waits for approval; approved, the file exists on disk; denied, it does not', async () => {
    const { client, sessionId, token } = await sys.newChat();
    for (const decision of ['approve', 'deny'] as const) {
      const file = path.join(dir, `${decision}-${randomUUID()}.txt`);
      const text = `${decision}d ${randomUUID()}`;
      const requestId = send(
        client,
        sessionId,
        tool('filesystem__write_file', { path: file, content: text }),
      );
      const asked = await approvalOf(client, requestId);
      assert.equal(asked.name, 'filesystem__write_file');
      assert.deepEqual(asked.arguments, { path: file, content: text });
      assert.equal(existsSync(file), false, 'nothing written before the decision');
      const res = await sys.http(
        token,
        'POST',
        `/v1/approvals/${requestId}/${String(asked.toolCallId)}`,
        {
          decision,
          ...(decision === 'deny' ? { reason: 'not now' } : {}),
        },
      );
      assert.equal(res.status, 200);
      const frames = await turn(client, requestId);
      const got = resultOf(frames);
      if (decision === 'approve') {
        assert.equal(got.frame.ok, true);
        assert.match(got.text, /Successfully wrote/);
        assert.equal(readFileSync(file, 'utf8'), text);
      } else {
        assert.deepEqual([got.frame.ok, got.frame.error], [false, 'denied']);
        assert.match(String(got.frame.detail), /not now/);
        assert.equal(ofType(frames, 'tool_call').length, 0);
        assert.equal(existsSync(file), false, 'denied: never written');
      }
    }
    await client.close();
  });

  it('memory: create_entities waits for approval, then read-only open_nodes finds what the server stored', async () => {
    const { client, sessionId, token } = await sys.newChat();
    const entity = `ref-${randomUUID()}`;
    const observation = `seen at ${new Date().toISOString()}`;
    const requestId = send(
      client,
      sessionId,
      tool('memory__create_entities', {
        entities: [{ name: entity, entityType: 'test', observations: [observation] }],
      }),
    );
    const asked = await approvalOf(client, requestId);
    assert.equal(
      (
        await sys.http(token, 'POST', `/v1/approvals/${requestId}/${String(asked.toolCallId)}`, {
          decision: 'approve',
        })
      ).status,
      200,
    );
    assert.equal(resultOf(await turn(client, requestId)).frame.ok, true);
    // The server's own store on disk (its JSON-lines file) has it.
    assert.match(readFileSync(memoryFile, 'utf8'), new RegExp(entity));

    const open = await turn(
      client,
      send(client, sessionId, tool('memory__open_nodes', { names: [entity] })),
    );
    assert.equal(ofType(open, 'approval_required').length, 0);
    const got = resultOf(open);
    assert.equal(got.frame.ok, true);
    assert.match(got.text, new RegExp(entity));
    assert.match(got.text, new RegExp(observation.replace(/[.:]/g, '\\$&')));
    await client.close();
  });
});
