// Connection state recovery across nodes with the official socket.io-client
// behind the proxy: a WebSocket client on node 0 whose connection drops
// reconnects to node 1 and reports recovered with every comment it missed;
// then node 1 is stopped (SIGTERM) and the client recovers on a survivor;
// then node 1 is restarted and the client recovers on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { URL, WAIT_MS, postId, once, connected, until, ack, post, control } from './lib.mjs';

test('a WebSocket client recovers on another node after a drop and after its node stops', { timeout: 90_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  // The writer talks to node 2 directly: never dropped, never stopped.
  const writer = io(nodes[2], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  await control('POST', '/sticky/0');
  const reader = io(URL, {
    transports: ['websocket'], forceNew: true, timeout: WAIT_MS,
    reconnectionDelay: 1000, reconnectionDelayMax: 1000, randomizationFactor: 0,
  });
  t.after(() => { reader.disconnect(); writer.disconnect(); });
  await Promise.all([connected(reader), connected(writer)]);
  let stats = await control('GET', '/stats');
  assert.equal(stats.ws.at(-1), 0, `the reader's WebSocket went to node 0: ${stats.ws}`);
  assert.equal(reader.recovered, false);
  const sid = reader.id;

  const p = postId('recover');
  const res = await ack(reader, 'join_post', p);
  assert.equal(res?.ok, true);
  const added = [];
  reader.on('comment_added', (c) => added.push(c._id));
  const want = [(await post(writer, { postId: p, userId: 'w', content: 'before' }))._id];
  await until(() => added.length === 1, WAIT_MS, () => `added ${added}`);

  // Phase 1: the network drops; the reconnection goes to node 1.
  await control('POST', '/sticky/1');
  const down1 = once(reader, 'disconnect');
  const back1 = once(reader, 'connect', 20_000);
  await control('POST', '/drop');
  await down1;
  for (let i = 0; i < 3; i++) want.push((await post(writer, { postId: p, userId: 'w', content: `missed ${i}` }))._id);
  await back1;
  stats = await control('GET', '/stats');
  assert.equal(stats.ws.at(-1), 1, `the reader reconnected to node 1: ${stats.ws}`);
  assert.equal(reader.recovered, true, 'socket.recovered after the drop');
  assert.equal(reader.id, sid, 'the same socket id');
  await until(() => added.length >= want.length, WAIT_MS, () => `added ${added.length} of ${want.length}`);
  assert.deepEqual(added, want, 'every missed comment, once, in order');
  want.push((await post(writer, { postId: p, userId: 'w', content: 'live on node 1' }))._id);
  await until(() => added.length >= want.length, WAIT_MS, () => `added ${added.length} of ${want.length}`);
  assert.deepEqual(added, want, 'still in the room on node 1');

  // Phase 2: node 1 stops (SIGTERM); round robin over the survivors.
  await control('POST', '/sticky/-1');
  const down2 = once(reader, 'disconnect', 30_000);
  const back2 = once(reader, 'connect', 40_000);
  const killed = control('POST', '/kill/1');
  await down2;
  for (let i = 0; i < 3; i++) want.push((await post(writer, { postId: p, userId: 'w', content: `missed while node 1 stops ${i}` }))._id);
  await back2;
  await killed;
  stats = await control('GET', '/stats');
  assert.ok([0, 2].includes(stats.ws.at(-1)), `the reader reconnected to a survivor: ${stats.ws}`);
  assert.equal(reader.recovered, true, 'socket.recovered after its node stopped');
  assert.equal(reader.id, sid, 'the same socket id');
  await until(() => added.length >= want.length, WAIT_MS, () => `added ${added.length} of ${want.length}`);
  assert.deepEqual(added, want, 'every comment missed while the node stopped, once, in order');
  want.push((await post(writer, { postId: p, userId: 'w', content: 'live on a survivor' }))._id);
  await until(() => added.length >= want.length, WAIT_MS, () => `added ${added.length} of ${want.length}`);
  assert.deepEqual(added, want, 'still in the room');

  // Phase 3: node 1 is restarted (a new process); the next reconnection
  // goes to it, and the state kept in Redis still recovers the client.
  await control('POST', '/restart/1');
  await control('POST', '/sticky/1');
  const down3 = once(reader, 'disconnect');
  const back3 = once(reader, 'connect', 20_000);
  await control('POST', '/drop');
  await down3;
  for (let i = 0; i < 3; i++) want.push((await post(writer, { postId: p, userId: 'w', content: `missed before the restarted node ${i}` }))._id);
  await back3;
  stats = await control('GET', '/stats');
  assert.equal(stats.ws.at(-1), 1, `the reader reconnected to the restarted node 1: ${stats.ws}`);
  assert.equal(reader.recovered, true, 'socket.recovered on the restarted node');
  assert.equal(reader.id, sid, 'the same socket id');
  await until(() => added.length >= want.length, WAIT_MS, () => `added ${added.length} of ${want.length}`);
  assert.deepEqual(added, want, 'every comment missed, once, in order, via the restarted node');
});
