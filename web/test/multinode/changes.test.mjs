// Changes through the buffer with the official socket.io-client, on two
// nodes, over each transport: edit, delete, hide and restore reach every
// reader once, in the post's order relative to new comments; the codes
// FORBIDDEN, EDIT_WINDOW_CLOSED, CONFLICT and NOT_FOUND. The nodes run with
// comment.edit_window 5s and admin.token COMMENTD_ADMIN_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, once, connected, until, ack, post, join, control } from './lib.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

/** events records every comment event of a socket, in arrival order. */
function record(socket) {
  const log = [];
  socket.on('comment_added', (c) => log.push(['added', c._id, c.v ?? 1, c.content]));
  socket.on('comment_updated', (c) => log.push(['updated', c._id, c.v, c.content, c.status ?? '']));
  socket.on('comment_removed', (r) => log.push(['removed', r.commentId]));
  return log;
}

for (const transport of ['websocket', 'polling']) {
  test(`changes on two nodes over ${transport}`, { timeout: 90_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
    // alice and a reader on node 0; bob, a reader and a moderator on node 1.
    const alice = io(nodes[0], opts);
    const r0 = io(nodes[0], opts);
    const bob = io(nodes[1], opts);
    const r1 = io(nodes[1], opts);
    const mod = io(nodes[1], { ...opts, auth: { token: ADMIN } });
    const all = [alice, r0, bob, r1, mod];
    t.after(() => all.forEach((s) => s.disconnect()));
    await Promise.all(all.map(connected));
    const p = postId(`chg-${transport}`);
    for (const s of all) await join(s, p);
    const logs = new Map(all.map((s) => [s, record(s)]));

    // A new comment, an edit of it, another new comment: every reader on
    // both nodes gets each event once, in this order.
    const c1 = await post(alice, { postId: p, userId: 'alice', content: 'frist' });
    const edited = await ack(alice, 'edit_comment', { postId: p, commentId: c1._id, userId: 'alice', content: 'first' });
    assert.equal(edited?.ok, true, JSON.stringify(edited));
    assert.equal(edited.comment.content, 'first');
    assert.equal(edited.comment.v, 2);
    assert.ok(edited.comment.editedAt, 'an edit sets editedAt');
    const c2 = await post(bob, { postId: p, userId: 'bob', content: 'second' });
    const want = [['added', c1._id, 1, 'frist'], ['updated', c1._id, 2, 'first', ''], ['added', c2._id, 1, 'second']];
    for (const [s, log] of logs) {
      await until(() => log.length >= 3, WAIT_MS, () => `${s.id} got ${JSON.stringify(log)}`);
    }
    await sleep(200); // a duplicate would show now
    for (const [, log] of logs) assert.deepEqual(log, want);

    // Another user's edit or delete: FORBIDDEN; nothing is broadcast.
    const errored = once(bob, 'comment_error');
    let res = await ack(bob, 'edit_comment', { postId: p, commentId: c1._id, userId: 'bob', content: 'mine now' });
    assert.equal(res?.ok, false);
    assert.equal(res.error.code, 'FORBIDDEN');
    assert.equal((await errored)[0].code, 'FORBIDDEN');
    res = await ack(bob, 'delete_comment', { postId: p, commentId: c1._id, userId: 'bob' });
    assert.equal(res.error.code, 'FORBIDDEN');
    // Not a moderator: FORBIDDEN for moderate.
    res = await ack(bob, 'moderate', { postId: p, commentId: c1._id, action: 'hide', userId: 'bob' });
    assert.equal(res.error.code, 'FORBIDDEN');

    // An edit based on an old version: CONFLICT.
    res = await ack(alice, 'edit_comment', { postId: p, commentId: c1._id, userId: 'alice', content: 'x', v: 1 });
    assert.equal(res.error.code, 'CONFLICT');
    // A comment of another post, or none: NOT_FOUND.
    res = await ack(alice, 'edit_comment', { postId: `${p}-other`, commentId: c1._id, userId: 'alice', content: 'x' });
    assert.equal(res.error.code, 'NOT_FOUND');

    // The moderator hides c2: readers are told to remove it; bob (its
    // author) and the moderator get it with status hidden.
    for (const [, log] of logs) log.length = 0;
    res = await ack(mod, 'moderate', { postId: p, commentId: c2._id, action: 'hide' });
    assert.equal(res?.ok, true, JSON.stringify(res));
    assert.equal(res.comment.status, 'hidden');
    for (const [s, log] of logs) await until(() => log.length >= 1, WAIT_MS, () => `${s.id} got nothing`);
    for (const s of [alice, r0, r1]) assert.deepEqual(logs.get(s), [['removed', c2._id]]);
    for (const s of [bob, mod]) assert.deepEqual(logs.get(s), [['updated', c2._id, 2, 'second', 'hidden']]);
    // A reader joining now does not see it; its author does.
    const late = io(nodes[1], opts);
    t.after(() => late.disconnect());
    await connected(late);
    assert.deepEqual((await join(late, p)).map((c) => c._id), [c1._id]);
    const history = await ack(late, 'load_more', { postId: p, limit: 50 });
    assert.deepEqual(history.comments.map((c) => c._id), [c1._id], 'load_more hides it too');

    // Restore: everyone gets it back.
    for (const [, log] of logs) log.length = 0;
    res = await ack(mod, 'moderate', { postId: p, commentId: c2._id, action: 'restore' });
    assert.equal(res?.ok, true);
    for (const [s, log] of logs) {
      await until(() => log.length >= 1, WAIT_MS, () => `${s.id} got nothing`);
      assert.deepEqual(log, [['updated', c2._id, 3, 'second', '']]);
    }

    // alice deletes her comment: comment_removed everywhere; a reader
    // joining afterwards, before and after the flush, does not see it.
    for (const [, log] of logs) log.length = 0;
    res = await ack(alice, 'delete_comment', { postId: p, commentId: c1._id, userId: 'alice' });
    assert.equal(res?.ok, true, JSON.stringify(res));
    for (const [s, log] of logs) {
      await until(() => log.length >= 1, WAIT_MS, () => `${s.id} got nothing`);
      assert.deepEqual(log, [['removed', c1._id]]);
    }
    const seen = async () => {
      const s = io(nodes[0], opts);
      try {
        await connected(s);
        return (await join(s, p)).map((c) => c._id);
      } finally {
        s.disconnect();
      }
    };
    assert.deepEqual(await seen(), [c2._id], 'before the flush');
    await sleep(1500); // flush.interval is 100ms
    assert.deepEqual(await seen(), [c2._id], 'after the flush');

    // After comment.edit_window (5s), its author can no longer edit.
    const old = await post(alice, { postId: p, userId: 'alice', content: 'old' });
    await sleep(5500);
    res = await ack(alice, 'edit_comment', { postId: p, commentId: old._id, userId: 'alice', content: 'too late' });
    assert.equal(res.error.code, 'EDIT_WINDOW_CLOSED');
    // A moderator still deletes it.
    res = await ack(mod, 'delete_comment', { postId: p, commentId: old._id });
    assert.equal(res?.ok, true, JSON.stringify(res));
  });
}
