/**
 * `MCP_CONFIG` (lib/mcp-config.ts): the `mcpServers` format with this project's
 * per-server rules, the names the LLM sees, and what `auto` makes of a tool's own
 * annotations. A bad file is refused with the field named, never a value (headers and
 * env may hold secrets).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config';
import { mayRetry, mcpToolName, needsApproval, parseMcpConfig } from '../../lib/mcp-config';

describe('MCP_CONFIG', () => {
  it('reads stdio and HTTP servers with their defaults and overrides', () => {
    const servers = parseMcpConfig({
      mcpServers: {
        search: { command: 'node', args: ['s.js'], env: { INDEX: '/srv' } },
        'my files': {
          url: 'http://127.0.0.1:4100/mcp',
          headers: { Authorization: 'Bearer x' },
          approval: 'always',
          retry: 'never',
          tools: ['read'],
          timeoutS: 5,
        },
      },
    });
    assert.deepEqual(servers, [
      {
        name: 'search',
        transport: { kind: 'stdio', command: 'node', args: ['s.js'], env: { INDEX: '/srv' } },
        approval: 'auto',
        retry: 'auto',
        timeoutS: 600,
      },
      {
        name: 'my_files',
        transport: { kind: 'http', url: 'http://127.0.0.1:4100/mcp', headers: { Authorization: 'Bearer x' } },
        approval: 'always',
        retry: 'never',
        tools: ['read'],
        timeoutS: 5,
      },
    ]);
  });

  it('refuses a bad file naming the field, never a secret value', () => {
    assert.throws(() => parseMcpConfig({ mcpServers: { a: { url: 'not a url', headers: { Authorization: 'Bearer s3cret' } } } }), (err: Error) => {
      assert.match(err.message, /MCP_CONFIG: mcpServers\.a/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    assert.throws(() => parseMcpConfig({ mcpServers: { a: { command: 'x', approval: 'sometimes' } } }), /MCP_CONFIG/);
    assert.throws(() => parseMcpConfig({ servers: {} }), /MCP_CONFIG: mcpServers/);
    const file = path.join(tmpdir(), `mcp-bad-${process.pid}.json`);
    writeFileSync(file, '{ not json');
    assert.throws(() => loadConfig({ MCP_CONFIG: file }), (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.message));
    assert.deepEqual(loadConfig({}).mcpServers, []);
  });

  it('names tools <server>__<tool> in the LLM alphabet', () => {
    assert.equal(mcpToolName('files', 'read_file'), 'files__read_file');
    assert.equal(mcpToolName('my files', 'get.thing/v2'), 'my_files__get_thing_v2');
  });

  it('auto follows the tool annotations; always and never override them', () => {
    const readOnly = { readOnly: true, idempotent: false };
    const idempotent = { readOnly: false, idempotent: true };
    const acting = { readOnly: false, idempotent: false };
    assert.deepEqual([readOnly, idempotent, acting].map((h) => needsApproval({ approval: 'auto' }, h)), [false, true, true]);
    assert.deepEqual([readOnly, idempotent, acting].map((h) => mayRetry({ retry: 'auto' }, h)), [true, true, false]);
    assert.equal(needsApproval({ approval: 'always' }, readOnly), true);
    assert.equal(needsApproval({ approval: 'never' }, acting), false);
    assert.equal(mayRetry({ retry: 'always' }, acting), true);
    assert.equal(mayRetry({ retry: 'never' }, readOnly), false);
  });
});
