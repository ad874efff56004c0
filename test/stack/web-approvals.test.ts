/**
 * Approve / Deny in the web app (docs/API.md "Approving tool calls"), in real Chromium
 * (see test/stack/web.test.ts), against the embedded MCP server over stdio as `npm start`
 * configures it: the buttons on a call that waits, the reply going on after the
 * decision, and the waiting call shown again after a reload.
 */
import { eventually } from '../../testkit/poll';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { openApp, replyEnded, sendMessage, until, useWebApp } from '../../testkit/web-app';

const ROOT = path.resolve(__dirname, '../..');
const config = path.join(tmpdir(), `mcp-web-${randomUUID()}.json`);
writeFileSync(
  config,
  JSON.stringify({
    mcpServers: { local: { command: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'local-mcp/main.ts')], cwd: ROOT } },
  }),
);
const env = useWebApp({ MCP_CONFIG: config });

/** Asks the embedded LLM to call the acting tool once. */
function askToSend(to: string): string {
  return `[[tool:local__send_note {"to":"${to}","text":"hi"}]]`;
}

async function waitingCall(page: Page) {
  const block = page.locator('li.tool[data-tool="local__send_note"]').last();
  await block.getByRole('button', { name: 'Approve' }).waitFor();
  return block;
}

/** The call's result (folded in the page), once it is there. */
async function resultText(block: Locator): Promise<string> {
  await block.locator('.outcome summary').waitFor();
  return (await block.locator('.outcome code').textContent()) ?? '';
}

/** The MCP server is connected (the tools worker published it). */
async function mcpUp(): Promise<void> {
  const { token } = env.sys.newUser();
  await eventually(
    'the embedded MCP server up',
    async () => {
      const res = await env.sys.http(token, 'GET', '/v1/tools');
      return (res.body.servers as Array<{ status: string }>).some((s) => s.status === 'up');
    },
    60_000,
  );
}

describe('web app: approving tool calls', () => {
  it('Approve runs the call once and the reply goes on', async () => {
    await mcpUp();
    const { page } = await openApp(env);
    await sendMessage(page, askToSend('ann'));
    const block = await waitingCall(page);
    await block.getByText('Waiting for your decision').waitFor();
    await block.getByRole('button', { name: 'Approve' }).click();
    assert.equal(await replyEnded(page, 1), 'done');
    await block.getByText('Approved').waitFor();
    assert.match(await resultText(block), /note sent to ann \(1 so far\)/);
    assert.equal(await block.getByRole('button', { name: 'Approve' }).count(), 0);
  });

  it('Deny answers the LLM "denied" and the call never runs', async () => {
    const { page } = await openApp(env);
    await sendMessage(page, askToSend('bob'));
    const block = await waitingCall(page);
    await block.getByRole('button', { name: 'Deny' }).click();
    assert.equal(await replyEnded(page, 1), 'done');
    await block.getByText('Denied', { exact: true }).waitFor();
    await block.locator('.outcome').getByText('Failed: denied').waitFor();
  });

  it('a call still waiting after a reload shows its buttons again', async () => {
    const { page } = await openApp(env);
    await sendMessage(page, askToSend('cy'));
    await waitingCall(page);
    await page.reload();
    await until(page, `document.querySelector('#connection')?.textContent === 'Connected'`);
    const block = await waitingCall(page);
    await block.getByRole('button', { name: 'Approve' }).click();
    assert.match(await resultText(block), /note sent to cy \(1 so far\)/);
  });
});
