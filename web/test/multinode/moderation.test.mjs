// Pre-moderation with the official socket.io-client on two nodes, over
// each transport. The nodes run with moderation.mode guests: comments of
// guest:<name> users are held. A held comment reaches its author and the
// moderators (in the post's room, and moderation_queue on either node),
// never a reader, live or in a join; approve broadcasts it to the room
// once; reject removes it for its author and tells readers nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, connected, until, ack, post, join, control } from './lib.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

/** record keeps every comment event of a socket, in arrival order. */
function record(socket) {
  const log = [];
  socket.on('comment_added', (c) => log.push(['added', c._id, c.status ?? '']));
  socket.on('comment_updated', (c) => log.push(['updated', c._id, c.status ?? '']));
  socket.on('comment_removed', (r) => log.push(['removed', r.commentId]));
  socket.on('moderation_queue', (c) => log.push(['queue', c._id, c.deleted ? 'deleted' : c.status ?? '']));
  return log;
}

for (const transport of ['websocket', 'polling']) {
  test(`pre-moderation on two nodes over ${transport}`, { timeout: 60_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
    // A guest and a reader on node 0, a reader and a moderator in the room
    // on node 1, a moderator watching every post on node 0.
    const guest = io(nodes[0], opts);
    const r0 = io(nodes[0], opts);
    const r1 = io(nodes[1], opts);
    const mod = io(nodes[1], { ...opts, auth: { token: ADMIN } });
    const watcher = io(nodes[0], { ...opts, auth: { token: ADMIN } });
    const all = [guest, r0, r1, mod, watcher];
    t.after(() => all.forEach((s) => s.disconnect()));
    await Promise.all(all.map(connected));
    const p = postId(`mod-${transport}`);
    for (const s of [guest, r0, r1, mod]) await join(s, p);
    const watched = await ack(watcher, 'watch_moderation');
    assert.equal(watched?.ok, true, JSON.stringify(watched));
    const denied = await ack(r0, 'watch_moderation');
    assert.equal(denied?.error?.code, 'FORBIDDEN');
    const logs = new Map(all.map((s) => [s, record(s)]));

    // Held: acked pending; the moderators hear of it on both nodes.
    const held = await post(guest, { postId: p, userId: 'guest:ann', content: 'may I?' });
    assert.equal(held.status, 'pending');
    await until(() => logs.get(mod).length >= 2 && logs.get(watcher).length >= 1, WAIT_MS,
      () => `moderators got ${JSON.stringify([logs.get(mod), logs.get(watcher)])}`);
    assert.deepEqual(logs.get(watcher), [['queue', held._id, 'pending']]);
    assert.deepEqual(logs.get(mod).sort(), [['added', held._id, 'pending'], ['queue', held._id, 'pending']]);
    // A user who is not a guest is not held.
    const plain = await post(r1, { postId: p, userId: 'reg', content: 'hello' });
    assert.equal(plain.status, undefined);
    await until(() => logs.get(r0).length >= 1, WAIT_MS, () => 'r0 got nothing');
    await sleep(300);
    for (const r of [r0, r1]) assert.deepEqual(logs.get(r), [['added', plain._id, '']], 'readers see only the visible one');
    // Nor in a join.
    const late = io(nodes[1], opts);
    t.after(() => late.disconnect());
    await connected(late);
    assert.deepEqual((await join(late, p)).map((c) => c._id), [plain._id]);
    assert.deepEqual((await join(mod, p)).map((c) => c._id).sort(), [held._id, plain._id].sort(), 'a moderator sees it');

    // Approve on node 1: the readers get it once, as new.
    for (const [, log] of logs) log.length = 0;
    let res = await ack(r1, 'moderate', { postId: p, commentId: held._id, action: 'approve', userId: 'reg' });
    assert.equal(res?.error?.code, 'NOT_FOUND', 'a reader does not know of it');
    res = await ack(mod, 'moderate', { postId: p, commentId: held._id, action: 'approve' });
    assert.equal(res?.ok, true, JSON.stringify(res));
    assert.equal(res.comment.status, undefined);
    for (const r of [r0, r1]) await until(() => logs.get(r).length >= 1, WAIT_MS, () => 'no approval');
    await sleep(300);
    for (const r of [r0, r1]) assert.deepEqual(logs.get(r), [['added', held._id, '']]);
    assert.deepEqual(logs.get(guest), [['updated', held._id, '']], 'its author had it: an update');
    assert.deepEqual(logs.get(watcher), [['queue', held._id, '']], 'it left the queue');

    // Reject another: its author is told to remove it, readers nothing.
    const spam = await post(guest, { postId: p, userId: 'guest:ann', content: 'buy now' });
    assert.equal(spam.status, 'pending');
    await until(() => logs.get(watcher).length >= 2, WAIT_MS, () => 'not queued');
    await until(() => logs.get(guest).some(([e, id]) => e === 'added' && id === spam._id), WAIT_MS,
      () => `its author did not get it: ${JSON.stringify(logs.get(guest))}`);
    for (const [, log] of logs) log.length = 0;
    res = await ack(watcher, 'moderate', { postId: p, commentId: spam._id, action: 'reject' });
    assert.equal(res?.ok, true, JSON.stringify(res));
    await until(() => logs.get(guest).length >= 1, WAIT_MS, () => 'the author was not told');
    await sleep(300);
    assert.deepEqual(logs.get(guest), [['removed', spam._id]]);
    for (const r of [r0, r1]) assert.deepEqual(logs.get(r), [], 'readers never knew of it');
    assert.deepEqual(logs.get(watcher), [['queue', spam._id, 'deleted']]);
  });
}
