// The demo page (web/static) in a real browser: Debian's headless chromium
// driven by playwright-core. Run by TestBrowser (cmd/commentd/browser_test.go),
// which starts commentd and sets COMMENTD_URL. By hand, against a running
// commentd: COMMENTD_URL=http://127.0.0.1:8080 node --test web/test/browser/page.test.mjs
//
// Each page has a browser context of its own (so its own Engine.IO session),
// each test posts of its own. The page is served as is; the suite only reads
// its sockets (window.__sockets, see exposeSockets) to tell the transport and
// to drop a connection. Nothing is asserted after a fixed sleep: an absence
// is checked once a later message on the same connection arrived.
import assert from 'node:assert/strict';
import {
  browserTest, chat, chatId, chatLines, comments, errorText, open, postComment, transport, unique,
  until, waitChat, waitComment, waitConfirmed, waitPage,
} from './browser.mjs';

browserTest('two pages on one post: a comment sent in one appears in both, once', async () => {
  const post = unique('two-pages');
  const a = await open('a', post);
  const b = await open('b', post);

  const first = unique('hello from a');
  await a.page.locator('#content').pressSequentially(first);
  await a.page.locator('#send').click();
  const id = await waitComment(a, first);
  assert.match(id, /^[0-9a-f]{24}$/, 'data-id is the comment\'s ObjectId');
  assert.equal(await waitComment(b, first), id, 'the other page shows the same comment');
  await waitConfirmed(a);
  assert.equal(await errorText(a), '', 'no error shown to the sender');

  // A reply from b: once it is on both pages, anything about the first
  // comment (a duplicate from load_comments and comment_added both) has
  // arrived too.
  const second = unique('reply from b');
  await postComment(b, second);
  const id2 = await waitComment(b, second);
  assert.equal(await waitComment(a, second), id2);

  const want = [{ id, content: first }, { id: id2, content: second }];
  assert.deepEqual(await comments(a), want, 'page a: each comment once, in order');
  assert.deepEqual(await comments(b), want, 'page b: each comment once, in order');
  assert.equal(await a.page.locator('#count').textContent(), '(2)');

  // The whole history again (load_comments without since, as a join from
  // scratch gets it): the page keeps one of each, by data-id.
  await a.page.evaluate((postId) => new Promise((resolve) => {
    const s = window.__sockets[0];
    let n = 0;
    const one = () => { if (++n === 2) resolve(); };
    s.once('load_comments', one); // after app.js's own handler
    s.emit('join_post', postId, one);
  }), post);
  assert.deepEqual(await comments(a), want, 'page a after the history again: still each comment once');

  // The connection drops: the page reconnects, joins again (since its last
  // comment) and goes on receiving, without duplicates.
  const engine = await a.page.evaluate(() => {
    const e = window.__sockets[0].io.engine;
    e.close();
    return e.id;
  });
  await waitPage(a, 'a new connection', (old) => {
    const s = window.__sockets[0];
    return s.connected && s.io.engine.id !== old;
  }, engine);
  await a.page.locator('#state[data-state="connected"]').waitFor();
  const third = unique('after the reconnect');
  await postComment(b, third);
  const id3 = await waitComment(a, third);
  want.push({ id: id3, content: third });
  assert.deepEqual(await comments(a), want, 'page a after its reconnect: each comment once, in order');

  // A page opened later gets them all from the history.
  const c = await open('c', post);
  await waitComment(c, third);
  assert.deepEqual(await comments(c), want, 'a new page loads the same comments');
});

browserTest('markup in a comment shows as text and never runs', async () => {
  const post = unique('xss');
  const a = await open('a', post);
  const b = await open('b', post);
  const content = '<script>window.__xss=1</script><b>bold</b>';

  await postComment(a, content);
  await waitConfirmed(a);
  const late = await open('late', post); // rendered from load_comments
  for (const p of [a, b, late]) {
    const li = p.page.locator('#comments li.comment');
    await li.first().waitFor();
    assert.equal(await li.count(), 1, `${p.name}: one comment`);
    assert.equal(await li.locator('.content').textContent(), content, `${p.name}: the text as typed`);
    assert.equal(await li.locator('.content *').count(), 0, `${p.name}: no element inside the content`);
    assert.equal(await p.page.locator('#comments b, #comments script').count(), 0, `${p.name}: no <b> or <script> made`);
    assert.equal(await p.page.evaluate(() => typeof window.__xss), 'undefined', `${p.name}: the script did not run`);
  }
});

for (const [ws, how] of [
  ['absent', 'a browser without WebSocket'],
  ['refused', 'a network that refuses WebSocket'],
]) {
  browserTest(`long-polling only (${how}): comments go both ways with a WebSocket page`, async () => {
    const post = unique(`polling-${ws}`);
    const normal = await open('websocket', post);
    const polling = await open('polling', post, { ws });

    // The normal page upgrades; the other one stays on long-polling.
    await waitPage(normal, 'the upgrade to WebSocket',
      () => window.__sockets[0].io.engine.transport.name === 'websocket');
    assert.match(await polling.page.locator('#state').textContent(), /polling/, '#state names the transport');
    if (ws === 'refused') await until(() => polling.refused.length > 0, 'page polling to try WebSocket and be refused');

    const down = unique('to the polling page');
    await postComment(normal, down);
    const id = await waitComment(normal, down);
    assert.equal(await waitComment(polling, down), id, 'a comment from the WebSocket page reaches the polling page');

    const up = unique('from the polling page');
    await postComment(polling, up);
    const id2 = await waitComment(polling, up);
    assert.equal(await waitComment(normal, up), id2, 'a comment from the polling page reaches the WebSocket page');
    await waitConfirmed(polling);
    assert.equal(await errorText(polling), '');

    assert.ok(polling.posts.some((body) => body.includes('new_comment') && body.includes(up)),
      'the polling page sent its comment in a long-polling POST');
    assert.equal(await transport(polling), 'polling', 'the polling page is still on long-polling');
    if (ws === 'absent') assert.deepEqual(polling.sockets, [], 'no WebSocket was opened');
    assert.deepEqual(await comments(polling), [{ id, content: down }, { id: id2, content: up }]);
    assert.deepEqual(await comments(normal), await comments(polling), 'both pages show the same');
    assert.deepEqual(polling.log.filter((l) => l.startsWith('pageerror')), [], 'no uncaught error in the page');
  });
}

browserTest('chat room: to all, privately, and to the others', async () => {
  const post = unique('chat');
  const a = await open('a', post);
  const idA = await chatId(a);
  const b = await open('b', post);
  const idB = await chatId(b);
  const c = await open('c', post);
  const idC = await chatId(c);
  assert.equal(new Set([idA, idB, idC]).size, 3, 'each page has a socket id of its own');
  await waitChat(a, `${idB} connected`);
  await waitChat(b, `${idC} connected`);

  // To all: everyone, sender included.
  const hello = unique('hello all');
  await chat(a, '#chat-send', hello);
  for (const p of [a, b, c]) await waitChat(p, `${idA}: ${hello}`);
  assert.equal(await a.page.locator('#chat-input').inputValue(), '', 'the input is cleared');

  // Privately, a to b: b only. a's and c's own later broadcast arrives after
  // anything the private message would have caused on their connections.
  const secret = unique('secret');
  await chat(a, '#chat-private', secret, idB);
  await waitChat(b, `${idA}: ${secret}`);
  const mark = unique('mark');
  await chat(a, '#chat-send', mark);
  for (const p of [a, b, c]) await waitChat(p, `${idA}: ${mark}`);
  for (const p of [a, c]) {
    assert.ok(!(await chatLines(p)).some((l) => l.includes(secret)), `${p.name} did not get the private message`);
  }

  // To the others: b and c, not a.
  const others = unique('to the others');
  await chat(a, '#chat-send-others', others);
  for (const p of [b, c]) await waitChat(p, `${idA}: ${others}`);
  const mark2 = unique('mark');
  await chat(a, '#chat-send', mark2);
  await waitChat(a, `${idA}: ${mark2}`);
  assert.ok(!(await chatLines(a)).some((l) => l.includes(others)), 'the sender did not get its own message');
  assert.ok(!(await chatLines(a)).some((l) => l.startsWith('error:')), 'no chat_error');

  // c leaves: the others are told.
  await c.context.close();
  for (const p of [a, b]) await waitChat(p, `${idC} disconnected`);
});
