// Edit, delete and moderation on the demo page, in headless chromium: an
// author edits and deletes their comment, a moderator (admin.token, given
// in the page's Moderate form) hides and restores it, and every page shows
// each change live. Run by TestBrowser, which sets COMMENTD_ADMIN_TOKEN.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserTest, moderateWith, open, postComment, unique, waitComment, waitPage } from './browser.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

/** item is the page's list item of comment id. */
const item = (p, id) => p.page.locator(`#comments li.comment[data-id="${id}"]`);

/** shown waits until the page shows comment id with content, or (content null) no comment id. */
function shown(p, id, content) {
  return waitPage(p, `comment ${id} ${content === null ? 'gone' : `as ${JSON.stringify(content)}`}`, ([i, c]) => {
    const li = document.querySelector(`#comments li.comment[data-id="${i}"]`);
    if (c === null) return !li;
    return li?.querySelector('.content')?.textContent === c;
  }, [id, content]);
}

browserTest('an author edits and deletes, a moderator hides and restores, live on every page', async () => {
  const post = unique('changes');
  const a = await open('author', post);
  const b = await open('reader', post);
  const m = await open('moderator', post);
  await moderateWith(m, ADMIN);

  const text = unique('first draft');
  await postComment(a, text);
  const id = await waitComment(a, text);
  await waitComment(b, text);
  await waitComment(m, text);
  assert.equal(await item(b, id).getByRole('button', { name: 'Edit' }).count(), 0, 'a reader cannot edit it');
  assert.equal(await item(b, id).getByRole('button', { name: 'Delete' }).count(), 0, 'nor delete it');

  // The author edits it: every page shows the new text, marked edited.
  await item(a, id).getByRole('button', { name: 'Edit' }).click();
  const edited = unique('final text');
  await item(a, id).locator('textarea.edit-content').fill(edited);
  await item(a, id).getByRole('button', { name: 'Save' }).click();
  for (const p of [a, b, m]) await shown(p, id, edited);
  assert.match(await item(b, id).locator('.meta').textContent(), /edited/);

  // The moderator hides it: gone for the reader, marked hidden for its
  // author and the moderator.
  await item(m, id).getByRole('button', { name: 'Hide' }).click();
  await shown(b, id, null);
  for (const p of [a, m]) {
    await waitPage(p, 'the hidden mark', (i) => document.querySelector(`li.comment[data-id="${i}"] .status-mark`)?.textContent.includes('hidden'), id);
  }
  const dir = process.env.COMMENTD_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'commentd-changes-'));
  await m.page.screenshot({ path: join(dir, 'changes-moderator-hidden.png'), fullPage: true });
  await b.page.screenshot({ path: join(dir, 'changes-reader-hidden.png'), fullPage: true });
  console.log(`screenshots: ${dir}`);

  // Restored: back for the reader, in its place.
  await item(m, id).getByRole('button', { name: 'Restore' }).click();
  await shown(b, id, edited);

  // The author deletes it: gone everywhere.
  await item(a, id).getByRole('button', { name: 'Delete' }).click();
  for (const p of [a, b, m]) await shown(p, id, null);
});
