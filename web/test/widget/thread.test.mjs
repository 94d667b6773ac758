// The embeddable widget (/embed.js) on host pages of another origin than
// commentd, in headless chromium. Run by TestWidget
// (cmd/commentd/widget_test.go), which serves the host pages and starts
// commentd with auth jwt + guests and cors.origins = HOST.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { browserTest, unique, until, waitPage } from '../browser/browser.mjs';
import {
  FOREIGN, OUT, URL, WAIT_MS, client, gone, host, item, post, send, shown, skipUnless, thread, token,
} from './widget.mjs';

browserTest('two host pages on another origin see each other\'s comments live', async () => {
  const postId = unique('live');
  const a = await host('a', { post: postId });
  const b = await host('b', { post: postId });
  assert.equal(await a.page.evaluate(() => location.origin !== new URL(document.querySelector('commentd-thread').server).origin), true,
    'the host page and commentd are different origins');

  const first = unique('hello from a');
  const id = await post(a, first, 'ann');
  assert.match(id, /^[0-9a-f]{24}$/);
  assert.equal(await shown(b, first), id, 'b shows a\'s comment');
  assert.match(await item(b, id).locator('.who').first().textContent(), /^ann$/);

  const second = unique('hello from b');
  const id2 = await post(b, second, 'bob');
  assert.equal(await shown(a, second), id2, 'a shows b\'s comment');

  // Each once, in order (oldest first); the header counts them.
  for (const p of [a, b]) {
    assert.deepEqual(await thread(p, '.list > li.c').evaluateAll((l) => l.map((x) => x.dataset.id)), [id, id2], `${p.name}: in order, once`);
  }
  // The author's comment is marked saved once it is in MongoDB.
  await item(a, id).locator('.saved').first().waitFor();
  assert.equal(await item(b, id).locator('.saved').count(), 0, 'saved is shown to the author only');
  // Guests see no Edit on others' comments, and have one on theirs.
  assert.equal(await item(b, id).getByRole('button', { name: 'Edit' }).count(), 0);
  assert.equal(await item(a, id).getByRole('button', { name: 'Edit' }).count(), 1);
  // aria-live announces the new comment to screen readers.
  assert.match(await thread(a, '[aria-live=polite]').textContent(), /bob/);
});

browserTest('replies: a reply on one page appears under its parent on the other', async () => {
  const postId = unique('replies');
  const a = await host('a', { post: postId });
  const b = await host('b', { post: postId });
  const top = unique('question');
  const id = await post(a, top, 'ann');
  await shown(b, top);
  await item(b, id).getByRole('button', { name: 'Reply' }).click();
  const answer = unique('answer');
  await item(b, id).locator('form.compose textarea').fill(answer);
  await item(b, id).locator('form.compose button.send').click();
  const rid = await shown(a, answer);
  assert.equal(await a.page.evaluate(([p, r]) => document.querySelector('commentd-thread').shadowRoot
    .querySelector(`li.c[data-id="${p}"] > ol.replies > li.c[data-id="${r}"]`) !== null, [id, rid]), true, 'nested under its parent');
  // A page opened later gets it from history or load_replies.
  const c = await host('c', { post: postId });
  await shown(c, top);
  const more = item(c, id).locator('button.more-replies');
  if (await more.count()) await more.click();
  assert.equal(await shown(c, answer), rid);
}, { skip: skipUnless('replies') });

browserTest('reactions: a reaction on one page shows on the other', async () => {
  const postId = unique('reactions');
  const a = await host('a', { post: postId });
  const b = await host('b', { post: postId });
  const text = unique('react to me');
  const id = await post(a, text, 'ann');
  await shown(b, text);
  const like = item(b, id).locator('> .body button.react[data-reaction="👍"]');
  // A guest without a name is asked for one first.
  await like.click();
  assert.equal(await thread(b, '.root > form.compose .err').textContent(), 'Enter your name first.');
  assert.equal(await like.getAttribute('aria-pressed'), 'false');
  await thread(b, '.root > form.compose input.name').fill('bob');
  await like.click();
  assert.equal(await like.getAttribute('aria-pressed'), 'true');
  await waitPage(a, 'the reaction count', (i) => document.querySelector('commentd-thread').shadowRoot
    .querySelector(`li.c[data-id="${i}"] > .body button.react[data-reaction="👍"]`)?.textContent.includes('1'), id);
}, { skip: skipUnless('reactions') });

browserTest('a page whose origin is not in cors.origins says so in the widget', async () => {
  const p = await host('foreign', { post: unique('foreign') }, { origin: FOREIGN, wait: 'forbidden' });
  const banner = thread(p, '.banner');
  assert.equal(await banner.getAttribute('role'), 'alert');
  const text = await banner.textContent();
  assert.match(text, /cors\.origins/);
  assert.ok(text.includes(FOREIGN), `the banner names the page's origin: ${text}`);
  assert.equal(await thread(p, '.root > form.compose').isHidden(), true, 'no form to post into');
});

browserTest('the host page\'s aggressive CSS does not leak into the widget', async () => {
  const postId = unique('css');
  const p = await host('evil', { post: postId, css: 'evil' });
  const text = unique('styled by the widget');
  const id = await post(p, text, 'ann');
  await item(p, id).locator('.saved').first().waitFor(); // drawn again once saved: measure after
  const st = await item(p, id).locator('.text').first().evaluate((e) => {
    const s = getComputedStyle(e);
    return { color: s.color, size: parseFloat(s.fontSize), display: s.display };
  });
  assert.notEqual(st.color, 'rgb(255, 0, 0)', 'not red');
  assert.ok(st.size < 20, `font size ${st.size}px is the widget's`);
  assert.notEqual(st.display, 'none');
  assert.equal(await thread(p, '.root > form.compose button.send').isVisible(), true, 'the widget\'s buttons show');
  const rootStyle = await thread(p, '.root').evaluate((e) => getComputedStyle(e).fontFamily);
  assert.doesNotMatch(rootStyle, /^serif$/, 'the host\'s font is not inherited');
  assert.equal(await thread(p, 'h2').textContent(), '1 comment');
  await p.page.screenshot({ path: join(OUT, 'hostile-css.png'), fullPage: true });
});

for (const [how, setup] of [
  ['a network that refuses WebSocket', (context, rec) => context.routeWebSocket(() => true, (route) => {
    rec.refused.push(route.url());
    route.close({ code: 1008, reason: 'blocked by the test' });
  })],
  ['a browser without WebSocket', (context) => context.addInitScript(() => { window.WebSocket = undefined; })],
]) {
  browserTest(`long-polling when WebSocket is blocked (${how})`, async () => {
    const postId = unique('polling');
    const ws = await host('websocket', { post: postId });
    const lp = await host('polling', { post: postId }, { setup });
    assert.equal(await ws.page.evaluate(() => document.querySelector('commentd-thread').transport), 'websocket');
    assert.equal(await lp.page.evaluate(() => document.querySelector('commentd-thread').transport), 'polling');
    const down = unique('to polling');
    const id = await post(ws, down, 'ann');
    assert.equal(await shown(lp, down), id);
    const up = unique('from polling');
    const id2 = await post(lp, up, 'bob');
    assert.equal(await shown(ws, up), id2);
  });
}

browserTest('a dropped connection: offline banner, then resume without losing or doubling comments', async () => {
  const postId = unique('resume');
  const a = await host('a', { post: postId });
  const b = await host('b', { post: postId });
  const before = unique('before');
  await post(a, before, 'ann');
  await shown(b, before);
  await a.page.evaluate(() => document.querySelector('commentd-thread').client.drop());
  await waitPage(a, 'the offline banner', () => document.querySelector('commentd-thread').dataset.state === 'offline');
  assert.match(await thread(a, '.banner').textContent(), /Connection lost/);
  const missed = unique('while a was away');
  await post(b, missed, 'bob');
  assert.ok(await shown(a, missed), 'a gets what it missed');
  await waitPage(a, 'back online', () => document.querySelector('commentd-thread').dataset.state === 'connected');
  const ids = await thread(a, '.list > li.c').evaluateAll((l) => l.map((x) => x.dataset.id));
  assert.equal(ids.length, 2, 'each comment once');
  assert.equal(await a.page.evaluate(() => document.querySelector('commentd-thread').recovered), true,
    'the connection was recovered (pid and offset), not joined again');
});

browserTest('scrolled up, new comments show as "N new comments"; older ones load on demand', async () => {
  const postId = unique('scroll');
  const s = await client(token({ sub: 'seeder', name: 'Seeder' }));
  const texts = [];
  for (let i = 0; i < 25; i++) texts.push((await send(s, { postId, content: `seed ${i}` })).content);
  const a = await host('reader', { post: postId, maxh: '12rem' });
  // History holds the latest 20 (history.limit); the rest load on demand.
  assert.equal(await thread(a, '.list > li.c').count(), 20);
  await thread(a, 'button.older').click();
  await waitPage(a, 'all 25', () => document.querySelector('commentd-thread').shadowRoot.querySelectorAll('.list > li.c').length === 25);
  await thread(a, '.list').evaluate((l) => { l.scrollTop = 0; });
  const top = await thread(a, '.list').evaluate((l) => l.scrollTop);
  await send(s, { postId, content: 'one more' });
  await send(s, { postId, content: 'and another' });
  await shown(a, 'and another');
  const pill = thread(a, 'button.pill');
  await pill.waitFor();
  assert.equal(await pill.textContent(), '2 new comments');
  assert.equal(await thread(a, '.list').evaluate((l) => l.scrollTop), top, 'the reader was not moved');
  await pill.click();
  assert.equal(await pill.isHidden(), true);
  assert.ok(await thread(a, '.list').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 40), 'at the newest');
  s.close();
});

browserTest('an author edits and deletes; a moderator\'s token shows moderation', async () => {
  const postId = unique('changes');
  const userTok = token({ sub: unique('user'), name: 'Ann Author' });
  const modTok = token({ sub: unique('mod'), name: 'Mo', roles: ['moderator'] });
  const a = await host('author', { post: postId, token: userTok });
  const r = await host('reader', { post: postId });
  const m = await host('moderator', { post: postId, token: modTok });
  assert.equal(await thread(a, '.root > form.compose .name-row').isHidden(), true, 'signed in: no name field');
  const text = unique('draft');
  const id = await post(a, text);
  assert.equal(await item(a, id).locator('.who').first().textContent(), 'Ann Author');
  await shown(r, text);
  await shown(m, text);
  assert.equal(await item(r, id).getByRole('button', { name: 'Hide' }).count(), 0);

  await item(a, id).getByRole('button', { name: 'Edit' }).click();
  const edited = unique('final');
  await item(a, id).locator('textarea.edit-content').fill(edited);
  await item(a, id).getByRole('button', { name: 'Save' }).click();
  for (const p of [a, r, m]) assert.equal(await shown(p, edited), id);
  await item(r, id).locator('.edited').first().waitFor();

  await item(m, id).getByRole('button', { name: 'Hide' }).click();
  await gone(r, id);
  await item(m, id).getByRole('button', { name: 'Restore' }).click();
  await shown(r, edited);

  await item(a, id).getByRole('button', { name: 'Delete' }).click();
  for (const p of [a, r, m]) await gone(p, id);
});

browserTest('the JS API: setToken signs every thread in, posted fires', async () => {
  const postId = unique('api');
  const a = await host('a', { post: postId });
  await a.page.evaluate(() => document.addEventListener('posted', (e) => { window.__posted = e.detail._id; }));
  await a.page.evaluate((t) => window.commentd.setToken(t), token({ sub: unique('spa'), name: 'Spa User' }));
  await waitPage(a, 'reconnected signed in', () => {
    const t = document.querySelector('commentd-thread');
    return t.dataset.state === 'connected' && t.loaded && t.tokenKind === 'jwt';
  });
  const id = await post(a, unique('from the api'));
  assert.equal(await item(a, id).locator('.who').first().textContent(), 'Spa User');
  assert.equal(await a.page.evaluate(() => window.__posted), id);
});

browserTest('<commentd-count>: every count on the page in one request, live with the thread', async () => {
  const posts = [unique('c1'), unique('c2'), unique('c3')];
  const s = await client(token({ sub: 'counter', name: 'Counter' }));
  await send(s, { postId: posts[0], content: 'one' });
  await send(s, { postId: posts[1], content: 'one' });
  await send(s, { postId: posts[1], content: 'two' });
  const p = await host('counts', { counts: posts.join(','), live: '1' }, {
    wait: '',
    setup: async (context, rec) => {
      rec.counts = [];
      context.on('request', (q) => { if (q.url().includes('/api/counts')) rec.counts.push(q.url()); });
    },
  });
  for (const [postId, want] of [[posts[0], '1 comment'], [posts[1], '2 comments'], [posts[2], '0 comments']]) {
    await waitPage(p, `count of ${postId}`, ([id, w]) => document.querySelector(`commentd-count[post="${id}"]`).shadowRoot.textContent === w, [postId, want]);
  }
  await until(() => p.counts.length >= 1, 'the counts request');
  assert.equal(p.counts.length, 1, `one request: ${p.counts.join(' ')}`);
  // live: post_info keeps them current.
  await send(s, { postId: posts[2], content: 'first' });
  await waitPage(p, 'the live count', (id) => document.querySelector(`commentd-count[post="${id}"]`).shadowRoot.textContent === '1 comment', posts[2]);
}, { skip: skipUnless('counts') });

browserTest('with storage blocked (a sandboxed frame, strict privacy settings) the widget still works', async () => {
  const postId = unique('nostorage');
  const p = await host('nostorage', { post: postId }, {
    setup: (context) => context.addInitScript(() => {
      for (const name of ['localStorage', 'sessionStorage']) {
        Object.defineProperty(window, name, { get() { throw new DOMException('blocked by the test', 'SecurityError'); } });
      }
    }),
  });
  const text = unique('no storage');
  const id = await post(p, text, 'ann');
  assert.equal(await item(p, id).getByRole('button', { name: 'Edit' }).count(), 1, 'still knows its own comment');
  assert.deepEqual(p.log.filter((l) => l.startsWith('pageerror')), []);
});

browserTest('a token the server refuses: the widget says why instead of going silent', async () => {
  const p = await host('badtoken', { post: unique('badtoken'), token: 'not.a-valid.token' }, { wait: 'refused' });
  const banner = thread(p, '.banner');
  assert.equal(await banner.getAttribute('role'), 'alert');
  assert.match(await banner.textContent(), /^The comment server refused the connection: .+/);
});

browserTest('slow mode: the form says so, and a comment too soon is refused with the reason', async () => {
  const postId = unique('slow');
  const a = await host('a', { post: postId });
  const mod = await client(token({ sub: unique('mod'), name: 'Mo', roles: ['moderator'] }));
  const res = await mod.timeout(WAIT_MS).emitWithAck('slow_mode', { postId, seconds: 60 });
  assert.equal(res?.ok, true, JSON.stringify(res));
  await waitPage(a, 'the slow-mode placeholder', () => document.querySelector('commentd-thread').shadowRoot
    .querySelector('.root > form.compose textarea').placeholder.includes('60'));
  await post(a, unique('first'), 'ann');
  await thread(a, '.root > form.compose textarea.content').fill('too soon');
  await thread(a, '.root > form.compose button.send').click();
  const err = await waitPage(a, 'the refusal', () => document.querySelector('commentd-thread').shadowRoot
    .querySelector('.root > form.compose .err')?.textContent || false);
  assert.match(err, /slow mode/i, 'the reason is shown');
  await a.page.screenshot({ path: join(OUT, 'slow-mode.png') });
  assert.equal((await mod.timeout(WAIT_MS).emitWithAck('slow_mode', { postId, seconds: 0 }))?.ok, true);
  await waitPage(a, 'no slow-mode placeholder', () => document.querySelector('commentd-thread').shadowRoot
    .querySelector('.root > form.compose textarea').placeholder === '');
});
