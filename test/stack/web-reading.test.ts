/**
 * The web app reads like a chat app (real Chromium against the real stack; see
 * test/stack/web.test.ts): replies as Markdown drawn again while they stream (at most
 * once per animation frame, however fast the deltas come), raw HTML
 * and `javascript:` links from the model shown as text and never run, code blocks with
 * a working copy button, tool arguments and results folded until opened, long messages
 * collapsed behind "Show more", session titles readable beside their menu, and a page
 * load with an icon and no console error or failed request. The embedded LLM's
 * `[[reply:"..."]]` directive makes it answer a given text.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { ARTIFACTS_DIR } from '../../testkit/browser';
import {
  openApp,
  replyEnded,
  sendMessage,
  until,
  useWebApp,
  WAIT_MS,
  watchProblems,
} from '../../testkit/web-app';

const env = useWebApp();

/** A message that makes the embedded LLM answer exactly `text`. */
function replyWith(text: string): string {
  return `[[reply:${JSON.stringify(text)}]]`;
}

const lastReply = (page: Page): Locator => page.locator('.message.assistant').last();

/** True when the element shows all of its content (nothing cut or scrolled away). */
function showsAll(locator: Locator): Promise<boolean> {
  return locator.evaluate(
    (e) => e.scrollHeight <= e.clientHeight + 1 && e.scrollWidth <= e.clientWidth + 1,
  );
}

/**
 * Counts, in `window.__busyFrames`, the animation frames painted while a reply is being
 * written, and sets `window.__headingWhileBusy` once such a reply shows a heading.
 */
async function countFrames(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.__busyFrames = 0;
    window.__headingWhileBusy = false;
    const loop = () => {
      const reply = document.querySelector('.message.assistant[aria-busy="true"]');
      if (reply) window.__busyFrames++;
      if (reply?.querySelector('h1')) window.__headingWhileBusy = true;
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  })()`);
}

describe('web app: reads like a chat app', () => {
  it('loads with an icon and no console error or failed request, under the real CSP', async () => {
    // A context of its own without bypassCSP: an inline style or script the CSP refuses
    // logs an error here. No evaluated page expressions, only locators (the CSP refuses eval).
    const context = await env.browser.browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const problems = watchProblems(page);
    await page.goto(`${env.proxy.url}/#token=${env.sys.newUser().token}`);
    await page.locator('#connection', { hasText: 'Connected' }).waitFor();
    // A table with aligned columns: markdown-it writes alignment as a style attribute.
    await sendMessage(page, replyWith('| left | centre | right |\n|:--|:-:|--:|\n| 1 | 2 | 3 |'));
    await page.locator('.message.assistant[data-state="done"] td.align-center').waitFor();
    await page.reload();
    await page.locator('.message.assistant td.align-right').waitFor();

    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    assert.ok(icon, 'the page names its icon');
    for (const href of [icon, '/favicon.ico']) {
      const res = await fetch(new URL(href, env.proxy.url));
      assert.equal(res.status, 200, href);
      assert.equal(res.headers.get('content-type'), 'image/svg+xml', href);
    }
    assert.deepEqual(problems, []);
  });

  it('renders a reply as Markdown while it streams, and from history', async () => {
    const { page } = await openApp(env);
    const markdown = [
      '# Packing list',
      '',
      'Bring:',
      '',
      '- a tent',
      '- a **warm** jacket',
      '',
      '```sh',
      'echo ready',
      '```',
      '',
      'See [the guide](https://example.com/guide).',
    ].join('\n');
    await countFrames(page);
    await sendMessage(page, `[[delay_ms:40]] ${replyWith(markdown)}`);
    assert.equal(await replyEnded(page, 1), 'done');
    assert.ok(
      await page.evaluate(`window.__headingWhileBusy`),
      'the heading was drawn before the reply ended',
    );
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'web-chat-markdown.png') });
    for (const when of ['streamed', 'from history']) {
      const reply = lastReply(page);
      assert.equal(await reply.locator('h1').textContent(), 'Packing list', when);
      assert.deepEqual(
        await reply.locator('li').allTextContents(),
        ['a tent', 'a warm jacket'],
        when,
      );
      assert.equal(await reply.locator('li strong').textContent(), 'warm', when);
      assert.equal(await reply.locator('pre code').textContent(), 'echo ready\n', when);
      const link = reply.getByRole('link', { name: 'the guide' });
      assert.equal(await link.getAttribute('href'), 'https://example.com/guide', when);
      assert.equal(await link.getAttribute('target'), '_blank', when);
      assert.match((await link.getAttribute('rel')) ?? '', /\bnoopener\b/, when);
      await page.reload();
      await until(page, `document.querySelector('.message.assistant h1') !== null`);
    }
  });

  it('draws a reply that comes faster than the page paints at most once per frame', async () => {
    const { page } = await openApp(env);
    let deltas = 0;
    page.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        if (String(f.payload).includes('"type":"delta"')) deltas++;
      }),
    );
    await page.reload(); // the listener sees the new page's WebSocket
    await until(page, `document.querySelector('#connection')?.textContent === 'Connected'`);
    await countFrames(page);
    await sendMessage(page, '[[tokens:2000]] [[delay_ms:1]] a long one');
    assert.equal(await replyEnded(page, 1), 'done');
    const frames = await page.evaluate<number>(`window.__busyFrames`);
    const draws = Number(await lastReply(page).getAttribute('data-draws'));
    // Drawn in frames while it streamed, plus once with the final text. (Drawing on every
    // delta instead fails this whenever deltas outnumber frames, as they do on a quiet
    // machine: 371 deltas over 124 frames measured; under load the server coalesces more.)
    assert.ok(deltas > 0 && draws >= 2, `${draws} draws of ${deltas} deltas`);
    assert.ok(
      draws <= frames + 1,
      `at most one draw per frame: ${draws} draws, ${frames} frames, ${deltas} deltas`,
    );
  });

  it('copies a code block with its button', async () => {
    const { page } = await openApp(env);
    await page
      .context()
      .grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.proxy.url });
    await sendMessage(
      page,
      replyWith('Run:\n\n```\nnpm start\nnpm test\n```\n\nand\n\n```js\nconsole.log(1);\n```'),
    );
    assert.equal(await replyEnded(page, 1), 'done');
    const copy = lastReply(page).getByRole('button', { name: 'Copy code' });
    assert.equal(await copy.count(), 2, 'one copy button per code block');
    await copy.first().click();
    await until(page, `document.querySelector('.code-block .copy')?.textContent === 'Copied'`);
    assert.equal(
      await page.evaluate<string>(`navigator.clipboard.readText()`),
      'npm start\nnpm test\n',
    );
  });

  it('shows raw HTML and javascript: links from the model as text, never run', async () => {
    const { page } = await openApp(env);
    const hostile = [
      '<img src=x onerror="window.__pwned=1">',
      '<script>window.__pwned=2</script>',
      '[click me](javascript:window.__pwned=3)',
      '<a href="javascript:window.__pwned=4">raw link</a>',
      '[data](data:text/html,<script>window.__pwned=5</script>)',
      '![pixel](https://example.com/pixel.png)',
    ].join('\n\n');
    await sendMessage(page, replyWith(hostile));
    assert.equal(await replyEnded(page, 1), 'done');
    const reply = lastReply(page);
    const text = (await reply.locator('.text').textContent()) ?? '';
    assert.match(text, /<img src=x onerror="window.__pwned=1">/);
    assert.match(text, /<script>window.__pwned=2<\/script>/);
    assert.match(text, /\[click me\]\(javascript:window.__pwned=3\)/);
    assert.equal(await reply.locator('.text img, .text script, .text iframe').count(), 0);
    const links = reply.locator('.text a');
    const hrefs = [];
    for (let i = 0; i < (await links.count()); i++)
      hrefs.push(await links.nth(i).getAttribute('href'));
    assert.deepEqual(hrefs, ['https://example.com/pixel.png'], 'only the http(s) link is live');
    await reply.getByText('click me').click();
    await reply.getByText('raw link').click();
    assert.equal(await page.evaluate(`window.__pwned`), undefined);
  });

  it('folds tool arguments and results until opened, live and from history', async () => {
    const { page } = await openApp(env);
    await sendMessage(page, 'What is 6*7? [[tool:calculator {"expression":"6*7"}]]');
    assert.equal(await replyEnded(page, 1), 'done');
    const tool = page.locator('li.tool').first();
    const args = tool.locator('details.arguments');
    const result = tool.locator('details.result');
    assert.equal(await args.getAttribute('open'), null, 'arguments folded');
    assert.equal(await result.getAttribute('open'), null, 'result folded');
    assert.equal(await args.locator('pre').isVisible(), false);
    assert.match((await result.locator('summary').textContent()) ?? '', /^Result: 42/);
    await args.locator('summary').click();
    await result.locator('summary').click();
    assert.match((await args.locator('pre').textContent()) ?? '', /"expression": "6\*7"/);
    assert.equal(await result.locator('pre').isVisible(), true);

    await page.reload();
    const stored = page.locator('li.tool details.result').first();
    await stored.waitFor();
    assert.equal(await stored.getAttribute('open'), null, 'a stored result is folded too');
    await stored.locator('summary').click();
    assert.match((await stored.locator('pre').textContent()) ?? '', /42/);
  });

  it('collapses long messages behind "Show more", and expands them', async () => {
    const { page } = await openApp(env);
    const lines = Array.from({ length: 40 }, (_, i) => `Line ${i + 1} of a long note.`).join('\n');
    await sendMessage(page, `${lines}\n[[tokens:700]]`);
    assert.equal(await replyEnded(page, 1), 'done');
    for (const role of ['user', 'assistant']) {
      const bubble = page.locator(`.message.${role}`).last();
      const more = bubble.getByRole('button', { name: 'Show more' });
      assert.equal(await more.getAttribute('aria-expanded'), 'false', role);
      assert.equal(await showsAll(bubble.locator('.text')), false, `${role}: collapsed`);
      await more.click();
      const less = bubble.getByRole('button', { name: 'Show less' });
      assert.equal(await less.getAttribute('aria-expanded'), 'true', role);
      assert.equal(await showsAll(bubble.locator('.text')), true, `${role}: expanded`);
      await less.click();
      assert.equal(await showsAll(bubble.locator('.text')), false, `${role}: collapsed again`);
    }
    const short = await openApp(env);
    await sendMessage(short.page, 'a short one');
    assert.equal(await replyEnded(short.page, 1), 'done');
    assert.equal(
      await short.page.getByRole('button', { name: 'Show more' }).count(),
      0,
      'short messages stay open',
    );
  });

  it('keeps session titles readable, with rename and delete in a menu', async () => {
    const { page } = await openApp(env);
    const title = 'Plans for a long weekend by the sea';
    await sendMessage(page, title);
    assert.equal(await replyEnded(page, 1), 'done');
    const sidebar = page.getByRole('navigation', { name: 'Conversations' });
    const open = sidebar.getByRole('button', { name: title, exact: true });
    await open.waitFor();
    assert.equal(await showsAll(open), true, 'the whole title is shown');
    assert.equal(
      await sidebar.getByRole('button', { name: 'Rename' }).count(),
      0,
      'no action buttons beside the title',
    );

    await mkdir(ARTIFACTS_DIR, { recursive: true });
    const menuButton = sidebar.getByRole('button', { name: `Actions for “${title}”` });
    assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');
    await menuButton.click();
    const menu = sidebar.getByRole('menu');
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['Rename', 'Delete']);
    assert.equal(await menuButton.getAttribute('aria-expanded'), 'true');
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'web-chat-menu.png') });
    await until(page, `document.activeElement?.textContent === 'Rename'`);
    await page.keyboard.press('ArrowDown');
    await until(page, `document.activeElement?.textContent === 'Delete'`);
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    await until(page, `document.activeElement?.getAttribute('aria-haspopup') === 'menu'`);
    await menuButton.click();
    await page.locator('.messages').click();
    await menu.waitFor({ state: 'hidden' });
  });
});
