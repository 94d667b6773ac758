// The admin page (/admin/) in headless chromium. TestBrowser runs the
// server with admin.token COMMENTD_ADMIN_TOKEN and moderation.mode guests:
// a guest:<name> user's comment on the demo page is held.
//
// Without a token the page refuses (a message says a token is needed), and
// with a wrong one (the server's 401 shown). With the token: a held comment
// from the demo page appears in the queue; Approve makes it appear on a
// reader's demo page; the moderator watches the post and bans the author
// from the comment, who is then listed as banned and whose next post on
// the demo page fails with BANNED; the audit log lists both actions with
// the reason given; Unban lifts the ban. Screenshots of the page are kept.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserTest, open, openPath, postComment, unique, waitComment, waitPage } from './browser.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;
const shots = () => process.env.COMMENTD_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'commentd-admin-'));

async function signIn(p, token) {
  await p.page.locator('#token').fill(token);
  await p.page.locator('#sign-in').click();
}

browserTest('the admin page refuses without a token, and with a wrong one', async () => {
  const p = await openPath('admin-none', '/admin/');
  const error = p.page.locator('#error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /moderator token is needed/);
  assert.ok(await p.page.locator('#app').isHidden(), 'nothing of the admin view without a token');

  await signIn(p, 'not-the-token');
  await waitPage(p, 'the refusal', () => /refused/.test(document.getElementById('error').textContent));
  assert.match(await error.textContent(), /The token was refused: .*UNAUTHORIZED/);
  assert.ok(await p.page.locator('#app').isHidden());
  assert.equal(await p.page.evaluate(() => sessionStorage.getItem('commentd-admin-token')), null, 'a refused token is not kept');
  const dir = shots();
  await p.page.screenshot({ path: join(dir, 'admin-refused.png'), fullPage: true });
  console.log(`screenshots: ${dir}`);
});

browserTest('approve from the queue, ban from the comments, both in the audit log', async () => {
  const post = unique('admin');
  const guest = unique('guest:gus');
  const a = await open('guest', post, { user: guest });
  const r = await open('reader', post);
  const m = await openPath('admin', '/admin/');
  await signIn(m, ADMIN);
  await m.page.locator('#state[data-state="connected"]').waitFor();
  assert.ok(await m.page.locator('#login').isHidden());
  await waitPage(m, 'live figures', () => document.getElementById('stat-depth').textContent !== '–');

  // A guest's comment is held: it shows in the admin queue, live.
  const text = unique('please approve me');
  await postComment(a, text);
  const id = await waitComment(a, text);
  const queued = m.page.locator(`#queue li.item[data-id="${id}"]`);
  await queued.waitFor();
  assert.equal(await queued.locator('.content').textContent(), text);
  assert.match(await queued.locator('.meta').textContent(), new RegExp(`${guest} on ${post}`));
  const dir = shots();
  await m.page.screenshot({ path: join(dir, 'admin-queue.png'), fullPage: true });

  await m.page.locator('#reason').fill('looks fine');
  await queued.getByRole('button', { name: 'Approve' }).click();
  await waitComment(r, text); // the reader's demo page shows it
  await queued.waitFor({ state: 'detached' });
  await m.page.locator('#queue-empty').waitFor({ state: 'visible' });

  // Watch the post: its comments, with Hide, Delete and Ban.
  await m.page.locator('#watch-post').fill(post);
  await m.page.locator('#watch').click();
  const item = m.page.locator(`#recent li.item[data-id="${id}"]`);
  await item.waitFor();
  assert.equal(await item.getByRole('button', { name: 'Hide' }).count(), 1);
  assert.equal(await item.getByRole('button', { name: 'Delete' }).count(), 1);
  await m.page.locator('#reason').fill('spam links');
  await item.getByRole('button', { name: `Ban ${guest}` }).click();
  const banned = m.page.locator(`#bans tr[data-user="${guest}"]`);
  await banned.waitFor();
  assert.match(await banned.textContent(), /spam links/);

  // The banned guest's next post fails on the demo page.
  await postComment(a, unique('after the ban'));
  await waitPage(a, 'BANNED shown', () => /BANNED/.test(document.getElementById('error').textContent));

  // The audit log: the ban, then the approval, newest first, with reasons.
  await m.page.locator('#audit-refresh').click();
  await waitPage(m, 'the ban in the audit log', () => document.querySelector('#audit tbody tr')?.dataset.action === 'ban');
  const rows = await m.page.locator('#audit tbody tr').evaluateAll((trs) =>
    trs.slice(0, 2).map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.equal(rows[0][1], 'admin');
  assert.equal(rows[0][2], 'ban');
  assert.match(rows[0][3], new RegExp(`user ${guest}`));
  assert.equal(rows[0][4], 'spam links');
  assert.equal(rows[1][2], 'approve');
  assert.match(rows[1][3], new RegExp(`post ${post}, comment ${id}`));
  assert.equal(rows[1][4], 'looks fine');
  await m.page.screenshot({ path: join(dir, 'admin-banned.png'), fullPage: true });
  await a.page.screenshot({ path: join(dir, 'admin-guest-banned.png'), fullPage: true });

  // Unban from the list: the guest posts again (held, as a guest).
  await banned.getByRole('button', { name: 'Unban' }).click();
  await banned.waitFor({ state: 'detached' });
  const again = unique('back again');
  await postComment(a, again);
  await waitComment(a, again);
  await m.page.locator('#queue li.item .content', { hasText: again }).waitFor();
  console.log(`screenshots: ${dir}`);
});
