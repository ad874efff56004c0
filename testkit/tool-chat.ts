/**
 * Driving tool calls through a chat in stack tests: the embedded LLM's
 * `[[tool:NAME {json}]]` directive (local-llm/directives.ts), sending a turn, and reading
 * its frames. Shared by the MCP tests (test/stack/mcp*.test.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Frame, TestClient } from './ws-client';

/** A message that makes the embedded LLM call `name` with `args`. */
export function tool(name: string, args: unknown): string {
  return `[[tool:${name} ${JSON.stringify(args)}]]`;
}

/** Sends one chat turn; its request id. */
export function send(client: TestClient, sessionId: string, content: string): string {
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content });
  return requestId;
}

export function ofType(frames: Frame[], type: string): Frame[] {
  return frames.filter((f) => f.type === type);
}

/** Exactly one terminal frame, and it is the last. */
export function assertOneEnd(frames: Frame[]): void {
  const ends = frames.filter((f) => f.type === 'done' || f.type === 'error');
  assert.equal(ends.length, 1, `one terminal frame: ${JSON.stringify(frames.map((f) => f.type))}`);
  assert.equal(frames.at(-1), ends[0]);
}
