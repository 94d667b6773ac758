// A polling-only socket.io-client behind a round-robin proxy over three
// nodes, no sticky sessions: every request of a session goes to the next
// node, which forwards it to the session's owner. Events, acks and
// broadcasts all work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { URL, WAIT_MS, postId, once, connected, until, ack, post, control } from './lib.mjs';

test('long-polling through a round-robin proxy: join, post, ack, confirm, broadcast', { timeout: 60_000 }, async (t) => {
  await control('POST', '/sticky/-1');
  const opts = { transports: ['polling'], forceNew: true, reconnection: false, timeout: WAIT_MS };
  const a = io(URL, opts);
  const b = io(URL, opts);
  t.after(() => { a.disconnect(); b.disconnect(); });
  await Promise.all([connected(a), connected(b)]);
  const p = postId('rr');

  // join_post: load_comments and the ack.
  for (const s of [a, b]) {
    const loaded = once(s, 'load_comments');
    const res = await ack(s, 'join_post', p);
    assert.equal(res?.ok, true, `join_post acked ${JSON.stringify(res)}`);
    assert.deepEqual((await loaded)[0], []);
  }
  const addedA = [];
  const addedB = [];
  a.on('comment_added', (c) => addedA.push(c._id));
  b.on('comment_added', (c) => addedB.push(c._id));

  // Each posts a few comments; each gets its ack and comment_confirmed, and
  // both get every comment_added, in one order.
  const sent = [];
  for (let i = 0; i < 4; i++) {
    for (const [name, s] of [['a', a], ['b', b]]) {
      const confirmed = once(s, 'comment_confirmed');
      const c = await post(s, { postId: p, userId: name, content: `${name} ${i}` });
      const [conf] = await confirmed;
      assert.equal(conf.comment._id, c._id, 'comment_confirmed carries the acked comment');
      assert.equal(typeof conf.message, 'string');
      sent.push(c._id);
    }
  }
  await until(() => addedA.length >= sent.length && addedB.length >= sent.length, WAIT_MS,
    () => `a got ${addedA.length}, b got ${addedB.length} of ${sent.length}`);
  assert.deepEqual(addedA, sent, 'a got every comment once, in order');
  assert.deepEqual(addedB, sent, 'b got every comment once, in order');

  // A rejected comment: the error ack and comment_error.
  const errored = once(a, 'comment_error');
  const bad = await ack(a, 'new_comment', { postId: p, userId: 'a', content: '   ' });
  assert.equal(bad?.ok, false);
  assert.equal(bad.error.code, 'EMPTY_CONTENT');
  assert.equal((await errored)[0].code, 'EMPTY_CONTENT');

  // Both stayed on polling, and their requests were spread over the three nodes.
  for (const s of [a, b]) assert.equal(s.io.engine.transport.name, 'polling');
  const stats = await control('GET', '/stats');
  for (const [name, s] of [['a', a], ['b', b]]) {
    const seq = stats.bySid[s.io.engine.id] ?? [];
    assert.ok(seq.length >= 6, `${name}: ${seq.length} requests through the proxy`);
    assert.deepEqual([...new Set(seq)].sort(), [0, 1, 2], `${name}'s requests reached every node: ${seq}`);
  }
  assert.ok(a.connected && b.connected, 'still connected');
});
