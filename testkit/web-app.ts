/**
 * Drives the web app in real Chromium for the browser tests (test/stack/web*.test.ts):
 * one stack, a TCP proxy in front of its API (to cut the network), one browser, and
 * page helpers that wait on DOM conditions (never fixed sleeps). Page expressions are
 * strings, evaluated as written (the compiler adds nothing to them).
 */
import { after, before } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from './browser';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';
import { startSystem, type TestSystem } from './system';

/** Generous: the machine is small and shared. */
export const WAIT_MS = 90_000;

export interface WebTestEnv {
  sys: TestSystem;
  proxy: TcpProxy;
  browser: TestBrowser;
}

/** Starts the stack, the proxy and the browser before the file's tests; stops them after. */
export function useWebApp(): WebTestEnv {
  const env = {} as WebTestEnv;
  const contexts: BrowserContext[] = [];
  before(async () => {
    env.sys = await startSystem({ env: { LLM_MAX_ATTEMPTS: '2' } });
    env.proxy = await startTcpProxy(env.sys.api.port);
    env.browser = await launchBrowser();
    const newContext = env.browser.browser.newContext.bind(env.browser.browser);
    env.browser.browser.newContext = async (options) => {
      const context = await newContext(options);
      contexts.push(context);
      return context;
    };
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await env.browser?.close();
    await env.proxy?.close();
    await env.sys?.stop();
  });
  return env;
}

/** A new user signed in through the link `npm start` prints (`/#token=...`). */
export async function openApp(
  env: WebTestEnv,
): Promise<{ page: Page; token: string; userId: string }> {
  const user = env.sys.newUser();
  // The test's own page expressions are strings (evaluated): the app's CSP would refuse them.
  const context = await env.browser.browser.newContext({
    viewport: { width: 1100, height: 720 },
    bypassCSP: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(`${env.proxy.url}/#token=${user.token}`);
  await page.locator('#app').waitFor({ state: 'visible' });
  await until(page, `document.querySelector('#connection')?.textContent === 'Connected'`);
  return { page, ...user };
}

/** Types a message and sends it with the keyboard (Enter). */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

/** Waits until `expression` (evaluated in the page) is truthy. */
export async function until(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression);
}

/** Waits until the `count`-th reply has ended; returns its state (`done` or `error`). */
export async function replyEnded(page: Page, count: number): Promise<string> {
  const reply = `document.querySelectorAll('.message.assistant')[${count - 1}]`;
  await page.waitForFunction(`${reply}?.dataset.state !== undefined`);
  return page.evaluate<string>(`${reply}.dataset.state`);
}

/** The newest reply's text, as a page expression. */
export const REPLY_TEXT = `(document.querySelector('.message.assistant:last-of-type .text')?.textContent ?? '')`;

/** Starts sampling, at every animation frame, what the newest reply and progress bar show. */
export async function sampleFrames(page: Page): Promise<void> {
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

export async function samples(page: Page): Promise<{ texts: string[]; progress: number[] }> {
  return page.evaluate<{ texts: string[]; progress: number[] }>(
    `({ texts: window.__texts, progress: window.__progress })`,
  );
}

/** The newest assistant message of the session, as stored. */
export async function lastAssistantContent(
  sys: TestSystem,
  token: string,
  sessionId: string,
): Promise<string> {
  const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
  const assistant = (res.body.messages as Array<{ role: string; content: string }>).filter(
    (m) => m.role === 'assistant',
  );
  return assistant.at(-1)?.content ?? '';
}

/** The user's one session. */
export async function onlySession(sys: TestSystem, token: string): Promise<string> {
  const res = await sys.http(token, 'GET', '/v1/sessions');
  if (res.body.sessions.length !== 1)
    throw new Error(`expected one session: ${JSON.stringify(res.body)}`);
  return res.body.sessions[0].sessionId as string;
}

/**
 * Collects what a user's browser console would complain about on `page`: console
 * errors, uncaught page errors, failed requests and answers with status >= 400.
 */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) =>
    problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`),
  );
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
  });
  return problems;
}
