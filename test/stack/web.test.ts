/**
 * The web app (`GET /`) in real Chromium (Debian's `chromium`, driven by
 * playwright-core) against the real stack: served from this origin only, sign in from
 * the printed link and the form, a reply streaming in over several paints, a long
 * tool's progress bar rising to 100 (leaves a screenshot in .data/artifacts/), and the
 * network dropping mid-reply (a TCP proxy in front of the API cuts the socket and
 * refuses new ones for a while). Every wait is on a DOM condition, never a fixed sleep.
 * test/stack/web-manage.test.ts covers cancel, quota, sessions and errors.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ARTIFACTS_DIR } from '../../testkit/browser';
import {
  lastAssistantContent,
  onlySession,
  openApp,
  REPLY_TEXT,
  replyEnded,
  sampleFrames,
  samples,
  sendMessage,
  until,
  useWebApp,
  WAIT_MS,
} from '../../testkit/web-app';

const env = useWebApp();
const sys = () => env.sys;
const proxy = () => env.proxy;

describe('web app', () => {
  it('serves the app from this origin only, and signs in from the printed link', async () => {
    const res = await fetch(`${sys().baseUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from other hosts');
    assert.equal((await fetch(`${sys().baseUrl}/app.js`)).status, 200);

    const { page } = await openApp(env);
    assert.ok(!page.url().includes('token='), 'the token leaves the address bar');
    await page.getByRole('button', { name: 'New chat' }).waitFor();
    await until(
      page,
      `/resets 00:00 UTC/.test(document.querySelector('#quota-text')?.textContent ?? '')`,
    );
  });

  it('signs in with the form, and says so in plain words when the token is refused', async () => {
    const context = await env.browser.browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${proxy().url}/`);
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(
      page,
      `/token was refused/.test(document.querySelector('#signin-error')?.textContent ?? '')`,
    );
    await page.getByLabel('Access token').fill(sys().newUser().token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#app').waitFor({ state: 'visible' });
  });

  it('streams a reply in over several paints, with a cancel button while it runs', async () => {
    const { page, token } = await openApp(env);
    await sampleFrames(page);
    await sendMessage(page, '[[tokens:40]] [[delay_ms:30]] tell me a story');
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'visible' });
    assert.equal(await replyEnded(page, 1), 'done');
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'hidden' });
    const final = await lastAssistantContent(sys(), token, await onlySession(sys(), token));
    assert.equal(await page.locator('.message.assistant .text').last().textContent(), final);
    const { texts } = await samples(page);
    const partial = new Set(texts.filter((t) => t.length > 0 && t !== final));
    assert.ok(partial.size >= 3, `several paints before done, got ${partial.size}`);
    for (const t of texts)
      assert.ok(final.startsWith(t), `every paint is a prefix of the reply: ${JSON.stringify(t)}`);
  });

  it('shows a long tool inline with a live progress bar rising to 100 (screenshot artifact)', async () => {
    const { page } = await openApp(env);
    await sampleFrames(page);
    const text = Array.from(
      { length: 60 },
      (_, i) => `Sentence ${i} about durable workflows.`,
    ).join(' ');
    await sendMessage(
      page,
      `Summarise this [[tool:summarize_document ${JSON.stringify({ text, chunkTokens: 40 })}]]`,
    );
    await page.locator('.tool progress').waitFor();
    assert.equal(await replyEnded(page, 1), 'done');
    await until(page, `document.querySelector('.tool progress').value === 100`);
    const { progress } = await samples(page);
    assert.ok(
      progress.some((v) => v > 0 && v < 100),
      `intermediate progress shown: ${[...new Set(progress)].join(',')}`,
    );
    for (let i = 1; i < progress.length; i++)
      assert.ok(progress[i]! >= progress[i - 1]!, 'the bar never goes back');
    assert.match((await page.locator('.tool .outcome').textContent()) ?? '', /^Result: /);
    assert.match((await page.locator('.tool .progress-message').textContent()) ?? '', /100%/);
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'web-chat-tool.png') });
  });

  it('survives the network dropping mid-reply: shows reconnecting, ends with exactly the reply', async () => {
    const { page, token } = await openApp(env);
    await sampleFrames(page);
    await sendMessage(page, '[[tokens:80]] [[delay_ms:40]] a long reply please');
    await until(page, `${REPLY_TEXT}.length > 5`);
    proxy().setOffline(true);
    try {
      await until(page, `document.querySelector('#connection')?.textContent === 'Reconnecting…'`);
    } finally {
      proxy().setOffline(false);
    }
    assert.equal(await replyEnded(page, 1), 'done');
    await until(page, `document.querySelector('#connection')?.textContent === 'Connected'`);
    const final = await lastAssistantContent(sys(), token, await onlySession(sys(), token));
    assert.equal(await page.locator('.message.assistant .text').last().textContent(), final);
    const { texts } = await samples(page);
    for (const t of texts)
      assert.ok(final.startsWith(t), `no repeated or foreign text painted: ${JSON.stringify(t)}`);
  });
});
