/**
 * The web app in real Chromium (see test/stack/web.test.ts): cancel with the button, the
 * quota meter moving after a reply, renaming and deleting a session from the sidebar's menu,
 * and errors in plain words (LLM unavailable; quota exceeded and when it resets).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  openApp,
  REPLY_TEXT,
  replyEnded,
  sendMessage,
  until,
  useWebApp,
} from '../../testkit/web-app';

const env = useWebApp();
const sys = () => env.sys;

describe('web app: managing a conversation', () => {
  it('cancels a reply with the button', async () => {
    const { page } = await openApp(env);
    await sendMessage(page, '[[tokens:400]] [[delay_ms:40]] do not stop');
    await until(page, `${REPLY_TEXT}.length > 0`);
    await page.getByRole('button', { name: 'Cancel reply' }).click();
    assert.equal(await replyEnded(page, 1), 'error');
    await page.getByRole('alert').filter({ hasText: 'The reply was cancelled.' }).waitFor();
    await page.getByRole('button', { name: 'Cancel reply' }).waitFor({ state: 'hidden' });
    assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);
  });

  it('moves the quota meter after a reply', async () => {
    const { page } = await openApp(env);
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
    const { page, token } = await openApp(env);
    await sendMessage(page, 'Plans for the weekend');
    assert.equal(await replyEnded(page, 1), 'done');
    const sidebar = page.getByRole('navigation', { name: 'Conversations' });
    await sidebar.getByRole('button', { name: 'Plans for the weekend', exact: true }).waitFor();

    await sidebar.getByRole('button', { name: 'Actions for “Plans for the weekend”' }).click();
    await sidebar.getByRole('menuitem', { name: 'Rename' }).click();
    const title = sidebar.getByLabel('New title');
    await title.fill('Weekend');
    await title.press('Enter');
    await sidebar.getByRole('button', { name: 'Weekend', exact: true }).waitFor();
    await until(page, `document.querySelector('#session-title')?.textContent === 'Weekend'`);
    const listed = await sys().http(token, 'GET', '/v1/sessions');
    assert.equal(listed.body.sessions[0].title, 'Weekend');

    await sidebar.getByRole('button', { name: 'Actions for “Weekend”' }).click();
    await sidebar.getByRole('menuitem', { name: 'Delete' }).click();
    await sidebar
      .getByRole('group', { name: 'Confirm delete' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await until(page, `document.querySelectorAll('#sessions li').length === 0`);
    await until(page, `document.querySelectorAll('#messages .message').length === 0`);
    assert.equal(await page.locator('#session-title').textContent(), 'New chat');
    assert.deepEqual((await sys().http(token, 'GET', '/v1/sessions')).body, { sessions: [] });
  });

  it('says what went wrong in plain words: quota exceeded and when it resets, LLM unavailable', async () => {
    const { page, userId } = await openApp(env);
    await sendMessage(page, '[[fail:500]] are you there?');
    assert.equal(await replyEnded(page, 1), 'error');
    await page
      .getByRole('alert')
      .filter({ hasText: 'The language model is unavailable right now' })
      .waitFor();

    await sys().api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 1)',
      [userId],
    );
    await sendMessage(page, 'one more');
    assert.equal(await replyEnded(page, 2), 'error');
    const notice = page.getByRole('alert').filter({ hasText: 'You have used today’s token quota' });
    await notice.waitFor();
    assert.match((await notice.textContent()) ?? '', /resets at 00:00 UTC, in \d+ (h|min|s)/);
  });
});
