// The demo page (/) embeds the widget (/embed.js), same origin. TestBrowser
// runs the server with moderation.mode guests and auth none: a guest's
// comment is held, shown to its author marked as awaiting approval, and not
// to another reader, a moderator approves it from the widget. The widget's
// own suite is web/test/widget (TestWidget).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserTest, newPage, unique, URL, waitPage } from './browser.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

async function demo(name, post) {
  const p = await newPage(name);
  await p.page.goto(`${URL}/?post=${encodeURIComponent(post)}`);
  await waitPage(p, 'the widget connected', () => {
    const t = document.querySelector('commentd-thread');
    return t && t.dataset.state === 'connected' && t.loaded;
  });
  return p;
}

browserTest('the demo page embeds the widget; a guest\'s held comment is marked for its author only, until a moderator approves it', async () => {
  const post = unique('demo');
  const a = await demo('author', post);
  const b = await demo('reader', post);
  const t = (p, css) => p.page.locator(`commentd-thread ${css}`);
  await t(a, '.root > form.compose input.name').fill('ann');
  const text = unique('held');
  await t(a, '.root > form.compose textarea.content').fill(text);
  await t(a, '.root > form.compose button.send').click();
  const li = t(a, 'li.c').filter({ hasText: text });
  await li.waitFor();
  assert.match(await li.locator('.status').textContent(), /awaiting approval/);
  assert.deepEqual(a.log.filter((l) => l.startsWith('pageerror') || /Content Security Policy/.test(l)), [],
    'no error and nothing refused by the page\'s CSP');
  // b's own comment reaches b, and a's held one never did.
  await t(b, '.root > form.compose input.name').fill('bob');
  const other = unique('also held');
  await t(b, '.root > form.compose textarea.content').fill(other);
  await t(b, '.root > form.compose button.send').click();
  await t(b, 'li.c').filter({ hasText: other }).waitFor();
  assert.equal(await t(b, 'li.c').filter({ hasText: text }).count(), 0, 'the reader does not see a held comment');

  // A moderator (the admin token, through the JS API) sees it with
  // Approve; approved, it reaches the reader and loses its mark.
  const m = await demo('moderator', post);
  await m.page.evaluate((tok) => window.commentd.setToken(tok), ADMIN);
  await waitPage(m, 'signed in', () => {
    const th = document.querySelector('commentd-thread');
    return th.dataset.state === 'connected' && th.loaded && th.tokenKind === 'opaque';
  });
  const held = t(m, 'li.c').filter({ hasText: text });
  await held.getByRole('button', { name: 'Approve' }).click();
  await t(b, 'li.c').filter({ hasText: text }).waitFor();
  const dir = process.env.COMMENTD_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'commentd-demo-'));
  await m.page.screenshot({ path: join(dir, 'demo-moderator.png'), fullPage: true });
  console.log(`screenshot: ${join(dir, 'demo-moderator.png')}`);
  await waitPage(a, 'the mark gone', (c) => {
    const li = [...document.querySelector('commentd-thread').shadowRoot.querySelectorAll('li.c')].find((x) => x.textContent.includes(c));
    return li && !li.querySelector('.status');
  }, text);
});
