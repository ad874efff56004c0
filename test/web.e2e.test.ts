/**
 * The web app (`GET /`) in real Chromium (Debian's `chromium`, driven by
 * playwright-core) against the real stack: sign in from the printed link, a reply
 * streaming in over several paints, a long tool's progress bar rising to 100, the
 * network dropping mid-reply (a TCP proxy in front of the API cuts the socket and
 * refuses new ones for a while), cancel, the quota meter moving, rename and delete,
 * errors in plain words. Every wait is on a DOM condition, never a fixed sleep.
 * Leaves a screenshot of a finished conversation with a tool in .data/artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS_DIR, launchBrowser, type TestBrowser } from './helpers/browser';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';
import { startSystem, type TestSystem } from './helpers/system';

/** Generous: the machine is small and shared. */
const WAIT_MS = 90_000;

let sys: TestSystem;
let proxy: TcpProxy;
let browser: TestBrowser;
const contexts: BrowserContext[] = [];

before(async () => {
  sys = await startSystem({ env: { LLM_MAX_ATTEMPTS: '2' } });
  proxy = await startTcpProxy(sys.api.port);
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await proxy?.close();
  await sys?.stop();
});

/** A new user signed in through the link `npm start` prints (`/#token=...`). */
async function openApp(): Promise<{ page: Page; token: string; userId: string }> {
  const user = sys.newUser();
  // The test's own page expressions are strings (evaluated): the app's CSP would refuse them.
  const context = await browser.browser.newContext({ viewport: { width: 1100, height: 720 }, bypassCSP: true });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(`${proxy.url}/#token=${user.token}`);
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.waitForFunction(`document.querySelector('#connection')?.textContent === 'Connected'`);
  return { page, ...user };
}

/** Types a message and sends it with the keyboard (Enter). */
async function sendMessage(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

/** Waits until the newest reply has ended; returns its state (`done` or `error`). */
async function replyEnded(page: Page, count: number): Promise<string> {
  const reply = `document.querySelectorAll('.message.assistant')[${count - 1}]`;
  await page.waitForFunction(`${reply}?.dataset.state !== undefined`);
  return page.evaluate<string>(`${reply}.dataset.state`);
}

/** Waits until `expression` (evaluated in the page) is truthy. */
async function until(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression);
}

/** The newest reply's text, as a page expression. */
const REPLY_TEXT = `(document.querySelector('.message.assistant:last-of-type .text')?.textContent ?? '')`;

/** Starts sampling, at every animation frame, what the newest reply and progress bar show. */
async function sampleFrames(page: Page): Promise<void> {
  // A string: the page runs it as written (no helpers the test's compiler adds).
  await page.evaluate(`(() => {
    window.__texts = [];
    window.__progress = [];
    const loop = () => {
      const replies = document.querySelectorAll('.message.assistant .text');
      window.__texts.push(replies[replies.length - 1]?.textContent ?? '');
      const bar = document.querySelector('.tool progress');
      if (bar) window.__progress.push(bar.value);
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  })()`);
}

async function samples(page: Page): Promise<{ texts: string[]; progress: number[] }> {
  return page.evaluate<{ texts: string[]; progress: number[] }>(`({ texts: window.__texts, progress: window.__progress })`);
}

async function lastAssistantContent(token: string, sessionId: string): Promise<string> {
  const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
  const assistant = (res.body.messages as Array<{ role: string; content: string }>).filter((m) => m.role === 'assistant');
  return assistant.at(-1)?.content ?? '';
}

async function onlySession(token: string): Promise<string> {
  const res = await sys.http(token, 'GET', '/v1/sessions');
  assert.equal(res.body.sessions.length, 1);
  return res.body.sessions[0].sessionId as string;
}

describe('web app', () => {
  it('serves the app from this origin only, and signs in from the printed link', async () => {
    const res = await fetch(`${sys.baseUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from other hosts');
    assert.equal((await fetch(`${sys.baseUrl}/app.js`)).status, 200);

    const { page } = await openApp();
    assert.ok(!page.url().includes('token='), 'the token leaves the address bar');
    await page.getByRole('button', { name: 'New chat' }).waitFor();
    await until(page, `/resets 00:00 UTC/.test(document.querySelector('#quota-text')?.textContent ?? '')`);
  });

  it('signs in with the form, and says so in plain words when the token is refused', async () => {
    const context = await browser.browser.newContext({ bypassCSP: true });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${proxy.url}/`);
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(page, `/token was refused/.test(document.querySelector('#signin-error')?.textContent ?? '')`);
    await page.getByLabel('Access token').fill(sys.newUser().token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#app').waitFor({ state: 'visible' });
  });

  it('streams a reply in over several paints, with a cancel button while it runs', async () => {
    const { page, token } = await openApp();
    await sampleFrames(page);
    await sendMessage(page, '[[tokens:40]] [[delay_ms:30]] tell me a story');
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'visible' });
    assert.equal(await replyEnded(page, 1), 'done');
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'hidden' });
    const final = await lastAssistantContent(token, await onlySession(token));
    assert.equal(await page.locator('.message.assistant .text').last().textContent(), final);
    const { texts } = await samples(page);
    const partial = new Set(texts.filter((t) => t.length > 0 && t !== final));
    assert.ok(partial.size >= 3, `several paints before done, got ${partial.size}`);
    for (const t of texts) assert.ok(final.startsWith(t), `every paint is a prefix of the reply: ${JSON.stringify(t)}`);
  });

  it('shows a long tool inline with a live progress bar rising to 100 (screenshot artifact)', async () => {
    const { page } = await openApp();
    await sampleFrames(page);
    const text = Array.from({ length: 60 }, (_, i) => `Sentence ${i} about durable workflows.`).join(' ');
    await sendMessage(page, `Summarise this [[tool:summarize_document ${JSON.stringify({ text, chunkTokens: 40 })}]]`);
    await page.locator('.tool progress').waitFor();
    assert.equal(await replyEnded(page, 1), 'done');
    await until(page, `document.querySelector('.tool progress').value === 100`);
    const { progress } = await samples(page);
    assert.ok(progress.some((v) => v > 0 && v < 100), `intermediate progress shown: ${[...new Set(progress)].join(',')}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, 'the bar never goes back');
    assert.match((await page.locator('.tool .outcome').textContent()) ?? '', /^Result: /);
    assert.match((await page.locator('.tool .progress-message').textContent()) ?? '', /100%/);
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'web-chat-tool.png') });
  });

  it('survives the network dropping mid-reply: shows reconnecting, ends with exactly the reply', async () => {
    const { page, token } = await openApp();
    await sampleFrames(page);
    await sendMessage(page, '[[tokens:80]] [[delay_ms:40]] a long reply please');
    await until(page, `${REPLY_TEXT}.length > 5`);
    proxy.setOffline(true);
    try {
      await until(page, `document.querySelector('#connection')?.textContent === 'Reconnecting…'`);
    } finally {
      proxy.setOffline(false);
    }
    assert.equal(await replyEnded(page, 1), 'done');
    await until(page, `document.querySelector('#connection')?.textContent === 'Connected'`);
    const final = await lastAssistantContent(token, await onlySession(token));
    assert.equal(await page.locator('.message.assistant .text').last().textContent(), final);
    const { texts } = await samples(page);
    for (const t of texts) assert.ok(final.startsWith(t), `no repeated or foreign text painted: ${JSON.stringify(t)}`);
  });

  it('cancels a reply with the button', async () => {
    const { page } = await openApp();
    await sendMessage(page, '[[tokens:400]] [[delay_ms:40]] do not stop');
    await until(page, `${REPLY_TEXT}.length > 0`);
    await page.getByRole('button', { name: 'Cancel reply' }).click();
    assert.equal(await replyEnded(page, 1), 'error');
    await page.getByRole('alert').filter({ hasText: 'The reply was cancelled.' }).waitFor();
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'hidden' });
    assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);
  });

  it('moves the quota meter after a reply', async () => {
    const { page } = await openApp();
    const USED = `Number(document.querySelector('#quota-meter').dataset.used)`;
    const used = () => page.evaluate<number>(USED);
    await until(page, `document.querySelector('#quota-meter').dataset.used !== undefined`);
    const before = await used();
    await sendMessage(page, 'hello there');
    assert.equal(await replyEnded(page, 1), 'done');
    await until(page, `${USED} > ${before}`);
    assert.ok((await used()) > before);
  });

  it('renames and deletes a session from the sidebar', async () => {
    const { page, token } = await openApp();
    await sendMessage(page, 'Plans for the weekend');
    assert.equal(await replyEnded(page, 1), 'done');
    const sidebar = page.getByRole('navigation', { name: 'Conversations' });
    await sidebar.getByRole('button', { name: 'Plans for the weekend', exact: true }).waitFor();

    await sidebar.getByRole('button', { name: 'Rename “Plans for the weekend”' }).click();
    const title = sidebar.getByLabel('New title');
    await title.fill('Weekend');
    await title.press('Enter');
    await sidebar.getByRole('button', { name: 'Weekend', exact: true }).waitFor();
    await until(page, `document.querySelector('#session-title')?.textContent === 'Weekend'`);
    const listed = await sys.http(token, 'GET', '/v1/sessions');
    assert.equal(listed.body.sessions[0].title, 'Weekend');

    await sidebar.getByRole('button', { name: 'Delete “Weekend”' }).click();
    await sidebar.getByRole('group', { name: 'Confirm delete' }).getByRole('button', { name: 'Delete' }).click();
    await until(page, `document.querySelectorAll('#sessions li').length === 0`);
    await until(page, `document.querySelectorAll('#messages .message').length === 0`);
    assert.equal(await page.locator('#session-title').textContent(), 'New chat');
    assert.deepEqual((await sys.http(token, 'GET', '/v1/sessions')).body, { sessions: [] });
  });

  it('says what went wrong in plain words: quota exceeded and when it resets, LLM unavailable', async () => {
    const { page, userId } = await openApp();
    await sendMessage(page, '[[fail:500]] are you there?');
    assert.equal(await replyEnded(page, 1), 'error');
    await page.getByRole('alert').filter({ hasText: 'The language model is unavailable right now' }).waitFor();

    await sys.api.deps.db.query('INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 1)', [userId]);
    await sendMessage(page, 'one more');
    assert.equal(await replyEnded(page, 2), 'error');
    const notice = page.getByRole('alert').filter({ hasText: 'You have used today’s token quota' });
    await notice.waitFor();
    assert.match((await notice.textContent()) ?? '', /resets at 00:00 UTC, in \d+ (h|min|s)/);
  });
});
