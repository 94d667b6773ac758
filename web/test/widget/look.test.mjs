// How the widget looks and what it weighs: screenshots of one thread in
// both themes and in English, Korean and Spanish (written to WIDGET_OUT,
// for a person to look at), the Korean page's strings and dates, and the
// size of /embed.js as served, gzipped, against the stock socket.io-client
// bundle.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { browserTest, unique } from '../browser/browser.mjs';
import { FEATURES, OUT, URL, client, host, send, shown, thread, token } from './widget.mjs';

/** EMBED_MAX_GZIP is the budget of embed.js, client included, gzipped (issue 16). */
const EMBED_MAX_GZIP = 30 * 1024;

async function seed() {
  const postId = unique('look');
  const ann = await client(token({ sub: 'ann', name: 'Ann Lee' }));
  const min = await client(token({ sub: 'minji', name: '김민지' }));
  const first = await send(ann, { postId, content: '**Welcome** to the thread! Docs: https://example.com/docs and `npm ci`.' });
  await send(min, { postId, content: '> 좋은 글 감사합니다\n\n한국어 댓글도 잘 보이나요? *기울임*과 **굵게**.' });
  if (FEATURES.replies) await send(min, { postId, parentId: first._id, content: 'A reply, nested under its parent.' });
  if (FEATURES.reactions) {
    for (const s of [ann, min]) await s.timeout(5000).emitWithAck('react', { postId, commentId: first._id, reaction: '👍', on: true });
  }
  await send(ann, { postId, content: 'A list:\n- one\n- two with a [link](https://example.com) that stays text\n\n```\ncode block\n```' });
  ann.close();
  min.close();
  return postId;
}

/**
 * contrastBelowAA runs in the page: every text-bearing element of the widget
 * whose colour against its background (the nearest opaque one) is below
 * 4.5:1, as "selector ratio".
 */
function contrastBelowAA() {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (x) => ((x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (e) => {
    for (; e; e = e.parentElement || e.getRootNode().host) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0.9) return c;
    }
    return [255, 255, 255];
  };
  const root = document.querySelector('commentd-thread').shadowRoot;
  const out = [];
  for (const e of root.querySelectorAll('h2, label, .meta, .who, .when, .text p, .text a, .text code, .text blockquote p, button, .muted, .status, .saved')) {
    if (!e.textContent.trim() || !e.checkVisibility()) continue;
    const a = lum(rgb(getComputedStyle(e).color));
    const b = lum(bgOf(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push(`${e.tagName.toLowerCase()}.${e.className} ${ratio.toFixed(2)}`);
  }
  return out;
}

browserTest('screenshots of the thread: light and dark, English, Korean and Spanish; contrast AA', async () => {
  const postId = await seed();
  const shots = [];
  for (const [lang, theme] of [['en', 'light'], ['en', 'dark'], ['ko', 'light'], ['ko', 'dark'], ['es', 'light']]) {
    const p = await host(`${lang}-${theme}`, { post: postId, lang, theme });
    await p.page.setViewportSize({ width: 760, height: 900 });
    const path = join(OUT, `thread-${lang}-${theme}.png`);
    await p.page.locator('commentd-thread').screenshot({ path });
    shots.push(path);
    if (lang === 'ko') {
      assert.match(await thread(p, 'h2').textContent(), /^댓글 \d+개$/, 'Korean header');
      assert.equal(await thread(p, '.root > form.compose button.send').textContent(), '등록');
      assert.match(await thread(p, 'time.when').first().textContent(), /(오전|오후)/, 'a Korean date');
      assert.equal(await thread(p, '.root').getAttribute('lang'), 'ko');
    }
    const low = await p.page.evaluate(contrastBelowAA);
    assert.deepEqual(low, [], `${lang} ${theme}: text below WCAG AA contrast`);
    if (theme === 'dark') {
      const bg = await thread(p, '.root').evaluate((e) => getComputedStyle(e).backgroundColor);
      assert.equal(bg, 'rgb(22, 24, 29)', 'dark background');
    }
  }
  console.log(`screenshots:\n${shots.join('\n')}`);
});

browserTest('embed.js gzipped, as served, is within 30 KB; the stock socket.io-client for comparison', async () => {
  const res = await fetch(`${URL}/embed.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control'), /max-age=300/);
  const link = /<([^>]+)>/.exec(res.headers.get('link') || '')?.[1];
  assert.match(link, /^\/embed\.[0-9a-f]{12}\.js$/, 'the content-hashed path');
  const body = Buffer.from(await res.arrayBuffer());
  const hashed = await fetch(URL + link);
  assert.match(hashed.headers.get('cache-control'), /immutable/);
  assert.deepEqual(Buffer.from(await hashed.arrayBuffer()), body, 'the same script');

  const require = createRequire(import.meta.url);
  const stock = readFileSync(join(require.resolve('socket.io-client/package.json'), '..', 'dist', 'socket.io.min.js'));
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const report = [
    `embed.js (widget + its own client): ${body.length} bytes, ${gz(body)} gzipped`,
    `socket.io-client ${require('socket.io-client/package.json').version} dist/socket.io.min.js: ${stock.length} bytes, ${gz(stock)} gzipped`,
  ].join('\n');
  console.log(report);
  writeFileSync(join(OUT, 'sizes.txt'), report + '\n');
  assert.ok(gz(body) <= EMBED_MAX_GZIP, `embed.js is ${gz(body)} bytes gzipped, over ${EMBED_MAX_GZIP}`);
});

browserTest('accessible and complete: labelled controls, keyboard posting, every string in every language, auto theme, newest first', async () => {
  const postId = await seed();
  const p = await host('a11y', { post: postId, theme: 'auto' });
  // Every control has a name a screen reader can say.
  const unnamed = await p.page.evaluate(() => [...document.querySelector('commentd-thread').shadowRoot
    .querySelectorAll('button, input, textarea, select')]
    .filter((e) => e.checkVisibility())
    .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || (e.tagName === 'BUTTON' && e.textContent.trim())))
    .map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, [], 'controls without a label');
  assert.equal(await thread(p, '[aria-live=polite]').count(), 1, 'one live region');

  // Keyboard only: Tab reaches the form, Ctrl+Enter posts.
  await thread(p, '.root > form.compose input.name').focus();
  await p.page.keyboard.type('kim');
  await p.page.keyboard.press('Tab');
  const text = unique('typed with the keyboard');
  await p.page.keyboard.type(text);
  await p.page.keyboard.press('Control+Enter');
  await shown(p, text);

  // The same keys in every language's table.
  const keys = await p.page.evaluate(() => Object.fromEntries(Object.entries(window.commentd.strings).map(([l, t]) => [l, Object.keys(t).sort()])));
  assert.deepEqual(Object.keys(keys).sort(), ['en', 'es', 'ko']);
  for (const l of ['ko', 'es']) assert.deepEqual(keys[l], keys.en, `${l} has every string`);

  // theme auto follows the reader's system setting.
  const bg = () => thread(p, '.root').evaluate((e) => getComputedStyle(e).backgroundColor);
  await p.page.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await bg(), 'rgb(22, 24, 29)');
  await p.page.emulateMedia({ colorScheme: 'light' });
  assert.equal(await bg(), 'rgb(255, 255, 255)');

  // Newest first: the order select reverses the list, Load older moves below it.
  const ids = () => thread(p, '.list > li.c').evaluateAll((l) => l.map((x) => x.dataset.id));
  const before = await ids();
  await thread(p, 'select').selectOption('newest');
  assert.deepEqual(await ids(), [...before].reverse());
  assert.equal(await p.page.locator('commentd-thread').getAttribute('sort'), 'newest');
});
