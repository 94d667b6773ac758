// The wire contract of DESIGN.md, row by row, with the official
// socket.io-client on one transport: WebSocket, or long-polling that is
// never upgraded (COMMENTD_TRANSPORT). Run by TestSocketIOClientContract
// (cmd/commentd/client_test.go), which starts the server, sets COMMENTD_URL
// and runs this suite once per transport. Every test uses rooms of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GRACE_MS, TRANSPORT, WAIT_MS, ack, assertComment, assertTransport, collect, connect, connectN, ids, join,
  post, postId, quiet, until, userId, waitFor,
} from './helpers.mjs';

test(`the session stays on ${TRANSPORT}, and works there`, async (t) => {
  const [writer, reader] = await connectN(t, 2);
  // The server offers the upgrade to WebSocket on every polling handshake;
  // a client limited to polling must never take it. An upgrade takes a
  // round trip and the server's noop (100ms): give it ample time.
  await sleep(1000);
  assertTransport(writer);
  assertTransport(reader);
  const p = postId();
  await join(reader, p);
  const got = waitFor(reader, 'comment_added');
  const c = await post(writer, { postId: p, userId: userId(), content: `over ${TRANSPORT}` });
  assert.deepEqual(await got, c);
  assertTransport(writer);
  assertTransport(reader);
});

test('join_post with a post id string: load_comments oldest first, and the ack', async (t) => {
  const [writer, reader] = await connectN(t, 2);
  const p = postId();
  const u = userId();
  const sent = [];
  for (const content of ['first', 'second', 'third']) sent.push(await post(writer, { postId: p, userId: u, content }));

  // Without an ack callback: load_comments alone.
  const loaded = waitFor(reader, 'load_comments');
  reader.emit('join_post', p);
  const comments = await loaded;
  assert.ok(Array.isArray(comments), 'load_comments is an array');
  assert.deepEqual(comments, sent, 'load_comments holds the post\'s comments, oldest first, as confirmed');

  // With an ack callback: load_comments and the ack {ok:true, comments}.
  const other = await connect(t);
  const { loaded: again, acked } = await join(other, p);
  assert.deepEqual(again, sent);
  assert.deepEqual(acked, sent, 'the ack carries the same comments');
});

test('join_post with {postId}: load_comments and the ack', async (t) => {
  const [writer, reader] = await connectN(t, 2);
  const p = postId();
  const c = await post(writer, { postId: p, userId: userId(), content: 'hello' });
  const { loaded, acked } = await join(reader, { postId: p });
  assert.deepEqual(loaded, [c]);
  assert.deepEqual(acked, [c]);
});

test('join_post of a post without comments: an empty array', async (t) => {
  const s = await connect(t);
  const { loaded, acked } = await join(s, postId());
  assert.deepEqual(loaded, []);
  assert.deepEqual(acked, []);
});

test('new_comment: comment_confirmed {message, comment} and the ack {ok:true, comment}', async (t) => {
  const s = await connect(t);
  const p = postId();
  const u = userId();
  const confirmed = waitFor(s, 'comment_confirmed');
  const res = await ack(s, 'new_comment', { postId: p, userId: u, content: 'a comment' });
  assert.equal(res.ok, true, `ack ${JSON.stringify(res)}`);
  assert.deepEqual(Object.keys(res).sort(), ['comment', 'ok']);
  assertComment(res.comment, { postId: p, userId: u, content: 'a comment' });

  const conf = await confirmed;
  assert.deepEqual(Object.keys(conf).sort(), ['comment', 'message']);
  assert.equal(typeof conf.message, 'string');
  assert.ok(conf.message.length > 0, 'message is not empty');
  assert.deepEqual(conf.comment, res.comment, 'comment_confirmed and the ack carry the same comment');
});

test('new_comment without an ack callback still gets comment_confirmed', async (t) => {
  const s = await connect(t);
  const p = postId();
  const confirmed = waitFor(s, 'comment_confirmed');
  s.emit('new_comment', { postId: p, userId: userId(), content: 'no callback' });
  const conf = await confirmed;
  assertComment(conf.comment, { postId: p, content: 'no callback' });
});

test('a comment reaches every member of its room, once, and no one outside it', async (t) => {
  const p = postId();
  const members = await connectN(t, 3);
  const outsider = await connect(t);
  const bystander = await connect(t); // in no room at all
  for (const m of members) await join(m, p);
  await join(outsider, postId('other'));

  const added = members.map((m) => collect(m, 'comment_added'));
  const confirmedTo = members.map((m) => collect(m, 'comment_confirmed'));
  const outsiderGot = collect(outsider, 'comment_added');
  const bystanderGot = collect(bystander, 'comment_added');

  const sender = members[0];
  const c = await post(sender, { postId: p, userId: userId(), content: 'for the room' });
  await until(() => added.every((a) => a.length >= 1), WAIT_MS,
    () => `comment_added per member: ${added.map((a) => a.length)}`);
  await quiet(); // duplicates, or a delivery outside the room, would show up now

  added.forEach((a, i) => assert.deepEqual(a, [c], `member ${i} (sender: ${i === 0}) got comment_added once`));
  assert.equal(confirmedTo[0].length, 1, 'the sender got comment_confirmed');
  assert.equal(confirmedTo[1].length + confirmedTo[2].length, 0, 'comment_confirmed goes to the sender only');
  assert.deepEqual(outsiderGot, [], 'a client in another post\'s room got nothing');
  assert.deepEqual(bystanderGot, [], 'a client in no room got nothing');
});

test('a sender outside the room gets comment_confirmed but no comment_added', async (t) => {
  const p = postId();
  const [sender, member] = await connectN(t, 2);
  await join(member, p);
  const senderGot = collect(sender, 'comment_added');
  const memberGot = waitFor(member, 'comment_added');
  const confirmed = waitFor(sender, 'comment_confirmed');
  const c = await post(sender, { postId: p, userId: userId(), content: 'from outside' });
  assert.deepEqual((await confirmed).comment, c);
  assert.deepEqual(await memberGot, c);
  await quiet();
  assert.deepEqual(senderGot, []);
});

test('leave_post stops deliveries', async (t) => {
  const p = postId();
  const [leaver, stayer, writer] = await connectN(t, 3);
  await join(leaver, p);
  await join(stayer, p);
  const leaverGot = collect(leaver, 'comment_added');
  const stayerGot = collect(stayer, 'comment_added');

  const c1 = await post(writer, { postId: p, userId: userId(), content: 'before leaving' });
  await until(() => leaverGot.length === 1 && stayerGot.length === 1, WAIT_MS,
    () => `leaver got ${leaverGot.length}, stayer ${stayerGot.length}`);

  leaver.emit('leave_post', p);
  // A socket's events are handled in order: once this join is acked, the
  // leave_post before it has been handled.
  await join(leaver, postId('barrier'));

  const c2 = await post(writer, { postId: p, userId: userId(), content: 'after leaving' });
  await until(() => stayerGot.length === 2, WAIT_MS, () => `stayer got ${stayerGot.length}`);
  await quiet();
  assert.deepEqual(ids(stayerGot), [c1._id, c2._id], 'the member who stayed got both');
  assert.deepEqual(ids(leaverGot), [c1._id], 'nothing after leave_post');
});

test('new_comment as a JSON string', async (t) => {
  const p = postId();
  const [sender, member] = await connectN(t, 2);
  await join(member, p);
  const u = userId();
  const got = waitFor(member, 'comment_added');
  const confirmed = waitFor(sender, 'comment_confirmed');
  const res = await ack(sender, 'new_comment', JSON.stringify({ postId: p, userId: u, content: 'as a string' }));
  assert.equal(res.ok, true, `ack ${JSON.stringify(res)}`);
  assertComment(res.comment, { postId: p, userId: u, content: 'as a string' });
  assert.deepEqual((await confirmed).comment, res.comment);
  assert.deepEqual(await got, res.comment);
});

// Each stable error code: comment_error {message, error, code} and the ack
// {ok:false, error:{code, message}}; nothing is broadcast.
const errorCases = [
  { name: 'a number as payload', code: 'INVALID_PAYLOAD', payload: () => 42 },
  { name: 'no payload at all', code: 'INVALID_PAYLOAD', args: () => [] },
  { name: 'an array as payload', code: 'INVALID_PAYLOAD', payload: () => ['a'] },
  { name: 'a JSON string that is not JSON', code: 'INVALID_PAYLOAD', payload: (p) => `{"postId":"${p}",` },
  { name: 'content with a NUL character', code: 'INVALID_PAYLOAD', payload: (p, u) => ({ postId: p, userId: u, content: 'a\u0000b' }) },
  { name: 'content that is not a string', code: 'INVALID_PAYLOAD', payload: (p, u) => ({ postId: p, userId: u, content: 7 }) },
  { name: 'an empty postId', code: 'INVALID_POST_ID', payload: (p, u) => ({ postId: '', userId: u, content: 'x' }) },
  { name: 'postId "a b"', code: 'INVALID_POST_ID', payload: (p, u) => ({ postId: 'a b', userId: u, content: 'x' }) },
  { name: 'no postId', code: 'INVALID_POST_ID', payload: (p, u) => ({ userId: u, content: 'x' }) },
  { name: 'an empty userId', code: 'INVALID_USER_ID', payload: (p) => ({ postId: p, userId: '', content: 'x' }) },
  { name: 'content of blanks only', code: 'EMPTY_CONTENT', payload: (p, u) => ({ postId: p, userId: u, content: '   ' }) },
  { name: 'empty content', code: 'EMPTY_CONTENT', payload: (p, u) => ({ postId: p, userId: u, content: '' }) },
  { name: 'content of 2001 characters', code: 'CONTENT_TOO_LONG', payload: (p, u) => ({ postId: p, userId: u, content: 'x'.repeat(2001) }) },
  { name: 'content of 2001 two-byte characters', code: 'CONTENT_TOO_LONG', payload: (p, u) => ({ postId: p, userId: u, content: 'é'.repeat(2001) }) },
];

for (const tc of errorCases) {
  test(`new_comment error ${tc.code}: ${tc.name}`, async (t) => {
    const p = postId();
    const [s, member] = await connectN(t, 2);
    await join(member, p);
    const memberGot = collect(member, 'comment_added');
    const confirmed = collect(s, 'comment_confirmed');
    const args = tc.args ? tc.args() : [tc.payload(p, userId())];

    const errEvent = waitFor(s, 'comment_error');
    const res = await ack(s, 'new_comment', ...args);
    assert.deepEqual(Object.keys(res).sort(), ['error', 'ok'], `ack ${JSON.stringify(res)}`);
    assert.equal(res.ok, false);
    assert.deepEqual(Object.keys(res.error).sort(), ['code', 'message'], `ack.error ${JSON.stringify(res.error)}`);
    assert.equal(res.error.code, tc.code, `ack ${JSON.stringify(res)}`);
    assert.equal(typeof res.error.message, 'string');
    assert.ok(res.error.message.length > 0);

    const ev = await errEvent;
    assert.deepEqual(Object.keys(ev).sort(), ['code', 'error', 'message'], `comment_error ${JSON.stringify(ev)}`);
    assert.equal(ev.code, tc.code);
    assert.equal(typeof ev.message, 'string');
    assert.ok(ev.message.length > 0);
    assert.equal(ev.error, res.error.message, 'comment_error.error is the ack\'s message');

    await quiet(GRACE_MS / 2);
    assert.deepEqual(confirmed, [], 'a rejected comment is not confirmed');
    assert.deepEqual(memberGot, [], 'a rejected comment is not broadcast');
    assert.ok(s.connected, 'a rejected comment does not cost the connection');
  });
}

test('content of exactly 2000 characters (runes, not bytes) is accepted', async (t) => {
  const s = await connect(t);
  const p = postId();
  for (const content of ['x'.repeat(2000), 'é'.repeat(2000), '👍'.repeat(2000)]) {
    const c = await post(s, { postId: p, userId: userId(), content });
    assert.equal(c.content, content);
  }
});

test('join_post with an invalid post id: comment_error and the ack', async (t) => {
  const s = await connect(t);
  for (const bad of ['', 'a b', { postId: 'a b' }]) {
    const errEvent = waitFor(s, 'comment_error');
    const res = await ack(s, 'join_post', bad);
    assert.equal(res.ok, false, `join_post ${JSON.stringify(bad)} acked ${JSON.stringify(res)}`);
    assert.equal(res.error.code, 'INVALID_POST_ID');
    const ev = await errEvent;
    assert.equal(ev.code, 'INVALID_POST_ID');
    assert.equal(typeof ev.message, 'string');
    assert.equal(typeof ev.error, 'string');
  }
});

test('reconnect, then join with {postId, since} returns only what was missed', async (t) => {
  const p = postId();
  const u = userId();
  const [reader, writer] = await connectN(t, 2);
  await post(writer, { postId: p, userId: u, content: 'before joining' });
  const first = await join(reader, p);
  assert.equal(first.loaded.length, 1);

  const live = collect(reader, 'comment_added');
  const seen = await post(writer, { postId: p, userId: u, content: 'seen live' });
  await until(() => live.length === 1, WAIT_MS, () => `reader got ${live.length} comment_added`);
  assert.deepEqual(live, [seen]);
  const lastSeen = live.at(-1)._id;

  // The reader goes away; two comments are posted meanwhile.
  const gone = waitFor(reader, 'disconnect');
  reader.disconnect();
  await gone;
  const missed = [
    await post(writer, { postId: p, userId: u, content: 'missed 1' }),
    await post(writer, { postId: p, userId: u, content: 'missed 2' }),
  ];

  // Back, on a new connection of the same client.
  const back = waitFor(reader, 'connect');
  reader.connect();
  await back;
  const { loaded, acked } = await join(reader, { postId: p, since: lastSeen });
  assert.deepEqual(loaded, missed, 'only the comments posted while away, oldest first');
  assert.deepEqual(acked, missed);

  // And it is live again.
  const after = await post(writer, { postId: p, userId: u, content: 'after coming back' });
  await until(() => live.length === 2, WAIT_MS, () => `reader got ${live.length} comment_added`);
  assert.deepEqual(live.at(-1), after);

  // since = the newest comment: nothing to catch up on.
  const none = await join(await connect(t), { postId: p, since: after._id });
  assert.deepEqual(none.loaded, []);
});

test('20 clients posting concurrently all see every comment, once, in one order', { timeout: 120_000 }, async (t) => {
  const clients = 20;
  const each = 10;
  const p = postId();
  const sockets = await connectN(t, clients);
  await Promise.all(sockets.map((s) => join(s, p)));
  const got = sockets.map((s) => collect(s, 'comment_added'));

  const acks = await Promise.all(sockets.map(async (s, i) => {
    const u = userId(`writer${i}`);
    // Fire all of a client's comments at once, not one after the other.
    return Promise.all(Array.from({ length: each }, (_, j) =>
      post(s, { postId: p, userId: u, content: `client ${i} comment ${j}` })));
  }));
  const confirmed = acks.flat();
  const total = clients * each;
  assert.equal(new Set(ids(confirmed)).size, total, 'every comment confirmed, with an id of its own');

  await until(() => got.every((g) => g.length >= total), 60_000,
    () => `comment_added per client: ${got.map((g) => g.length).join(',')} of ${total}`);
  await quiet();

  const order = ids(got[0]);
  assert.equal(new Set(order).size, total, 'client 0: no duplicates');
  assert.deepEqual([...order].sort(), ids(confirmed).sort(), 'client 0 got exactly the confirmed comments');
  got.forEach((g, i) => {
    assert.equal(g.length, total, `client ${i}: ${g.length} comment_added, want ${total}`);
    assert.deepEqual(ids(g), order, `client ${i} saw the same order as client 0`);
  });
  // One client's comments were handled in the order it sent them.
  for (let i = 0; i < clients; i++) {
    const mine = got[0].filter((c) => c.content.startsWith(`client ${i} `)).map((c) => c.content);
    assert.deepEqual(mine, Array.from({ length: each }, (_, j) => `client ${i} comment ${j}`), `client ${i}'s comments in its order`);
  }

  // A late joiner's load_comments has the same order.
  const late = await join(await connect(t), p);
  assert.deepEqual(ids(late.loaded), order.slice(-late.loaded.length), 'history is in the broadcast order');
  sockets.forEach((s) => assertTransport(s));
});

test('script content comes back verbatim, as text', async (t) => {
  const p = postId();
  const [sender, member] = await connectN(t, 2);
  await join(member, p);
  const contents = [
    '<script>alert(1)</script>',
    '<img src=x onerror="alert(1)"> & &amp; \'quotes\' "double"',
    'line 1\nline 2\ttabbed \\ backslash — ünïcödé 👋 {"json":true}',
  ];
  for (const content of contents) {
    const got = waitFor(member, 'comment_added');
    const c = await post(sender, { postId: p, userId: userId(), content });
    assert.equal(c.content, content, 'ack: verbatim');
    assert.equal((await got).content, content, 'comment_added: verbatim');
  }
  const { loaded } = await join(await connect(t), p);
  assert.deepEqual(loaded.map((c) => c.content), contents, 'load_comments: verbatim');
});

test('acks: new_comment and join_post with a callback function', async (t) => {
  const s = await connect(t);
  const p = postId();
  const u = userId();
  const callback = (event, arg) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack of ${event} within ${WAIT_MS}ms`)), WAIT_MS);
    s.emit(event, arg, (res) => { clearTimeout(timer); resolve(res); });
  });

  const posted = await callback('new_comment', { postId: p, userId: u, content: 'acked' });
  assert.equal(posted.ok, true, JSON.stringify(posted));
  assertComment(posted.comment, { postId: p, userId: u, content: 'acked' });

  const joined = await callback('join_post', p);
  assert.equal(joined.ok, true, JSON.stringify(joined));
  assert.deepEqual(joined.comments, [posted.comment]);

  const rejected = await callback('new_comment', { postId: p, userId: u, content: ' ' });
  assert.deepEqual(rejected, { ok: false, error: { code: 'EMPTY_CONTENT', message: rejected.error?.message } });
});
