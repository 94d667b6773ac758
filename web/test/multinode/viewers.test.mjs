// Live viewers with the official socket.io-client on two nodes, over each
// transport: post_info.viewers counts the connections in a post's room on
// every node, and follows joins, leaves and disconnects (at most one
// post_info a second per post).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, connected, until, ack, join, control } from './lib.mjs';

/** viewers keeps the last post_info.viewers a socket got for post p. */
function viewers(socket, p) {
  const last = { n: undefined };
  socket.on('post_info', (info) => {
    if (info.postId === p && typeof info.viewers === 'number') last.n = info.viewers;
  });
  return last;
}

for (const transport of ['websocket', 'polling']) {
  test(`post_info.viewers on two nodes over ${transport}`, { timeout: 60_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
    const a = io(nodes[0], opts);
    const b = io(nodes[0], opts);
    const c = io(nodes[1], opts);
    t.after(() => [a, b, c].forEach((s) => s.disconnect()));
    await Promise.all([a, b, c].map(connected));
    const p = postId(`viewers-${transport}`);
    const seen = new Map([a, b, c].map((s) => [s, viewers(s, p)]));
    for (const s of [a, b, c]) await join(s, p);
    const all = (n) => () => [...seen.values()].every((v) => v.n === n);
    const what = () => `viewers seen: ${JSON.stringify([...seen.values()].map((v) => v.n))}`;
    await until(all(3), 3 * WAIT_MS, what);

    // c leaves on node 1: both nodes' readers see 2.
    const res = await ack(c, 'leave_post', p);
    assert.equal(res?.ok, true);
    seen.delete(c);
    await until(all(2), 3 * WAIT_MS, what);

    // b disconnects on node 0: a sees 1.
    b.disconnect();
    seen.delete(b);
    await until(all(1), 3 * WAIT_MS, what);
  });
}

// A node SIGKILLed says nothing: its share of a post's viewers drops out on
// the other nodes within its expiry (5 s), and it comes back.
test('post_info.viewers drops the share of a SIGKILLed node', { timeout: 90_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  const opts = { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS };
  const a = io(nodes[0], opts);
  const b = io(nodes[2], opts);
  const c = io(nodes[2], opts);
  t.after(() => [a, b, c].forEach((s) => s.disconnect()));
  await Promise.all([a, b, c].map(connected));
  const p = postId('viewers-kill');
  const seen = viewers(a, p);
  for (const s of [a, b, c]) await join(s, p);
  await until(() => seen.n === 3, 3 * WAIT_MS, () => `viewers seen by a: ${seen.n}`);
  const killedAt = Date.now();
  await control('POST', '/sigkill/2');
  t.after(() => control('POST', '/restart/2'));
  await until(() => seen.n === 1, 3 * WAIT_MS, () => `viewers seen by a after the kill: ${seen.n}`);
  const took = Date.now() - killedAt;
  assert.ok(took < 5_000 + 5_000, `the dead node's share dropped after ${took}ms (expiry 5s, ticks 1s; slack for a loaded machine)`);
});
