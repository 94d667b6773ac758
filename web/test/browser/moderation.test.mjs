// Pre-moderation on the demo page, in headless chromium. TestBrowser runs
// the server with moderation.mode guests: a guest:<name> user's comment is
// held. Its author sees it marked as awaiting approval, a reader does not
// see it, the moderator (admin.token in the Moderate form) sees it with
// Approve and Reject; approved, it appears on the reader's page; rejected,
// it leaves its author's.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { browserTest, moderateWith, open, postComment, unique, waitComment, waitPage } from './browser.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

const item = (p, id) => p.page.locator(`#comments li.comment[data-id="${id}"]`);

function gone(p, id) {
  return waitPage(p, `comment ${id} gone`, (i) => !document.querySelector(`#comments li.comment[data-id="${i}"]`), id);
}

browserTest('a guest\'s comment waits for a moderator, then appears for readers', async () => {
  const post = unique('premod');
  const a = await open('guest', post, { user: unique('guest:ann') });
  const b = await open('reader', post);
  const m = await open('moderator', post);
  await moderateWith(m, ADMIN);

  const text = unique('held for review');
  await postComment(a, text);
  const id = await waitComment(a, text);
  assert.match(await item(a, id).locator('.status-mark').textContent(), /awaiting approval/);
  await waitComment(m, text);
  assert.equal(await item(m, id).getByRole('button', { name: 'Approve' }).count(), 1);
  await sleep(500);
  assert.equal(await item(b, id).count(), 0, 'a reader does not see a held comment');

  const dir = process.env.COMMENTD_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'commentd-premod-'));
  await a.page.screenshot({ path: join(dir, 'premod-author-pending.png'), fullPage: true });
  await m.page.screenshot({ path: join(dir, 'premod-moderator-pending.png'), fullPage: true });
  console.log(`screenshots: ${dir}`);

  await item(m, id).getByRole('button', { name: 'Approve' }).click();
  await waitComment(b, text);
  await waitPage(a, 'the mark gone', (i) => !document.querySelector(`li.comment[data-id="${i}"] .status-mark`), id);
  await b.page.screenshot({ path: join(dir, 'premod-reader-approved.png'), fullPage: true });

  const spam = unique('spam');
  await postComment(a, spam);
  const spamID = await waitComment(a, spam);
  await waitComment(m, spam);
  await item(m, spamID).getByRole('button', { name: 'Reject' }).click();
  for (const p of [a, m]) await gone(p, spamID);
  assert.equal(await item(b, spamID).count(), 0);
});
