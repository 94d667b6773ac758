// Connection state recovery with the official socket.io-client: a client
// whose connection drops comes back with socket.recovered === true, its
// rooms, and every comment_added it missed, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';

const URL = process.env.COMMENTD_URL;
const TRANSPORTS = process.env.COMMENTD_TRANSPORT === 'polling' ? ['polling'] : ['websocket'];

function once(socket, event, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms}ms`)), ms);
    socket.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

test('a dropped client is recovered with what it missed', { timeout: 60_000 }, async (t) => {
  const post = 'recovery-' + Math.random().toString(36).slice(2);
  const opts = { transports: TRANSPORTS, forceNew: true, reconnectionDelay: 300, reconnectionDelayMax: 300 };
  const reader = io(URL, opts);
  const writer = io(URL, { ...opts, reconnection: false });
  t.after(() => { reader.disconnect(); writer.disconnect(); });
  await Promise.all([once(reader, 'connect'), once(writer, 'connect')]);
  const firstId = reader.id;
  assert.equal(reader.recovered, false);

  await reader.timeout(10_000).emitWithAck('join_post', post);
  const added = [];
  reader.on('comment_added', (c) => added.push(c._id));
  const post1 = await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: 'before' });
  assert.equal(post1.ok, true);
  while (!added.includes(post1.comment._id)) await new Promise((r) => setTimeout(r, 20));

  // The network drops; the client reconnects by itself after 300ms.
  const reconnected = once(reader, 'connect', 20_000);
  reader.io.engine.close();
  const missed = [];
  for (let i = 0; i < 3; i++) {
    const res = await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: `missed ${i}` });
    assert.equal(res.ok, true);
    missed.push(res.comment._id);
  }
  await reconnected;
  assert.equal(reader.recovered, true, 'socket.recovered');
  assert.equal(reader.id, firstId, 'the same socket id');
  while (added.length < 4) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(added, [post1.comment._id, ...missed], 'every missed comment, once, in order');

  // Still in the room.
  const live = await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: 'live' });
  while (!added.includes(live.comment._id)) await new Promise((r) => setTimeout(r, 20));
  assert.equal(added.length, 5);
});

test('a recovered client gets the changes it missed: an edit, a delete', { timeout: 60_000 }, async (t) => {
  const post = 'recovery-chg-' + Math.random().toString(36).slice(2);
  const opts = { transports: TRANSPORTS, forceNew: true, reconnectionDelay: 300, reconnectionDelayMax: 300 };
  const reader = io(URL, opts);
  const writer = io(URL, { ...opts, reconnection: false });
  t.after(() => { reader.disconnect(); writer.disconnect(); });
  await Promise.all([once(reader, 'connect'), once(writer, 'connect')]);
  await reader.timeout(10_000).emitWithAck('join_post', post);
  const log = [];
  reader.on('comment_added', (c) => log.push(['added', c._id]));
  reader.on('comment_updated', (c) => log.push(['updated', c._id, c.v, c.content]));
  reader.on('comment_removed', (r) => log.push(['removed', r.commentId]));
  const a = (await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: 'a' })).comment;
  const b = (await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: 'b' })).comment;
  while (log.length < 2) await new Promise((r) => setTimeout(r, 20));

  // While the reader is away: a is edited, b deleted, c posted.
  const reconnected = once(reader, 'connect', 20_000);
  reader.io.engine.close();
  let res = await writer.timeout(10_000).emitWithAck('edit_comment', { postId: post, commentId: a._id, userId: 'w', content: 'a, edited' });
  assert.equal(res.ok, true, JSON.stringify(res));
  res = await writer.timeout(10_000).emitWithAck('delete_comment', { postId: post, commentId: b._id, userId: 'w' });
  assert.equal(res.ok, true, JSON.stringify(res));
  const c = (await writer.timeout(10_000).emitWithAck('new_comment', { postId: post, userId: 'w', content: 'c' })).comment;
  await reconnected;
  assert.equal(reader.recovered, true, 'socket.recovered');
  while (log.length < 5) await new Promise((r) => setTimeout(r, 20));
  const missed = log.slice(2);
  assert.deepEqual(missed.filter((e) => e[0] !== 'added'),
    [['updated', a._id, 2, 'a, edited'], ['removed', b._id]], 'the edit and the delete');
  assert.deepEqual(missed.filter((e) => e[0] === 'added'), [['added', c._id]], 'and the new comment');
});
