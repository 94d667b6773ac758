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
