// The upgrade from long-polling to WebSocket (2probe / 3probe / 5) while
// comments flow both ways: clients of the official socket.io-client start
// on polling and post from the moment they are connected until well after
// their upgrade, while a writer on COMMENTD_TRANSPORT keeps the room busy.
// Nothing may be lost, doubled or reordered, in either direction.
//
// With the default transports the client probes WebSocket at once, so
// what it sends from its connect event on waits in its buffer during the
// upgrade and goes out on WebSocket. Half the clients therefore open their
// WebSocket later (a slow network), so that the server has broadcasts and
// acks queued for polling, and the client POSTs, when the probe starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeWebSocket, NodeXHR } from 'socket.io-client';
import {
  TRANSPORT, WAIT_MS, assertTransport, collect, connect, ids, join, postId, quiet, transportOf, until, userId,
} from './helpers.mjs';

/** How many comments an upgrading client still sends once upgraded. */
const AFTER_UPGRADE = 20;

/** Pause between two comments of one client, in ms. */
const PACE_MS = 3;

/** How long a slow client's WebSocket waits before it opens, in ms. */
const SLOW_WS_MS = 500;

/** SlowWebSocket is the WebSocket transport opening SLOW_WS_MS late. */
class SlowWebSocket extends NodeWebSocket {
  doOpen() {
    setTimeout(() => { if (this.readyState === 'opening') super.doOpen(); }, SLOW_WS_MS);
  }
}

test('upgrade to WebSocket while posting and receiving: every comment confirmed once, delivered once, in order', { timeout: 120_000 }, async (t) => {
  const p = postId();
  const reader = await connect(t); // on TRANSPORT throughout
  await join(reader, p);
  const all = collect(reader, 'comment_added');

  // A writer on TRANSPORT that keeps the room busy, so that broadcasts
  // reach the upgrading clients before, during and after their upgrade.
  const background = await connect(t);
  const bgSent = [];
  const bgAcked = [];
  let bgStop = false;
  const bgDone = (async () => {
    const u = userId('bg');
    for (let i = 0; !bgStop; i++) {
      const content = `bg ${i}`;
      bgSent.push(content);
      background.emit('new_comment', { postId: p, userId: u, content }, (res) => bgAcked.push(res));
      await sleep(PACE_MS * 2);
    }
  })();

  const upgraders = await Promise.all(Array.from({ length: 4 }, (_, i) => upgrader(t, p, i, i % 2 === 1)));
  await Promise.all(upgraders.map((u) => u.done));
  bgStop = true;
  await bgDone;

  // Every comment acked and confirmed: then all of them are in the buffer.
  await until(() => bgAcked.length === bgSent.length && upgraders.every((u) => u.confirmedAll()), WAIT_MS,
    () => `acks: background ${bgAcked.length}/${bgSent.length}, upgraders ${upgraders.map((u) => u.progress())}`);
  const confirmed = [...bgAcked, ...upgraders.flatMap((u) => u.acks.map((a) => a.res))];
  for (const res of confirmed) assert.equal(res?.ok, true, `ack ${JSON.stringify(res)}`);
  const want = new Set(confirmed.map((res) => res.comment._id));
  assert.equal(want.size, confirmed.length, 'every comment has an id of its own');

  await until(() => all.length >= want.size, WAIT_MS, () => `the reader got ${all.length} of ${want.size}`);
  await until(() => upgraders.every((u) => u.got.length > 0 && ids(u.got).at(-1) === ids(all).at(-1)), WAIT_MS,
    () => `upgraders got ${upgraders.map((u) => u.got.length)} comment_added, the reader ${all.length}`);
  await quiet();

  // The reader that never changed transport: everything, once, in each sender's order.
  const order = ids(all);
  assert.equal(new Set(order).size, order.length, 'the reader got no duplicates');
  assert.deepEqual([...order].sort(), [...want].sort(), 'the reader got exactly the confirmed comments');
  const contents = all.map((c) => c.content);
  assert.deepEqual(contents.filter((c) => c.startsWith('bg ')), bgSent, 'the background writer\'s comments in its order');
  for (const u of upgraders) {
    assert.deepEqual(contents.filter((c) => c.startsWith(`${u.name} `)), u.sent, `${u.name}'s comments in its order`);
  }

  // Each upgrading client, a reader too from its join on: a contiguous run
  // of the room's order up to its end, its own comments included, though
  // the transport changed under it.
  for (const u of upgraders) {
    const got = ids(u.got);
    assert.equal(new Set(got).size, got.length, `${u.name}: no duplicates`);
    const from = order.indexOf(got[0]);
    assert.ok(from >= 0, `${u.name}: its first comment_added is one the reader got`);
    assert.deepEqual(got, order.slice(from), `${u.name}: the room's order from its join on, nothing lost or doubled`);
    for (const content of u.sent) {
      assert.ok(u.got.some((c) => c.content === content), `${u.name}: got its own "${content}" back`);
    }
  }

  for (const u of upgraders) {
    // Confirmed exactly once: one ack per comment, and one comment_confirmed.
    // (Their order is not part of the contract; the broadcast's is, above.)
    const sorted = (xs) => [...xs].sort();
    assert.deepEqual(sorted(u.acks.map((a) => a.content)), sorted(u.sent), `${u.name}: one ack per comment`);
    assert.deepEqual(sorted(u.confirmations.map((c) => c.comment.content)), sorted(u.sent), `${u.name}: one comment_confirmed per comment`);
    assert.deepEqual(sorted(u.confirmations.map((c) => c.comment._id)), sorted(u.acks.map((a) => a.res.comment._id)),
      `${u.name}: the acks and comment_confirmed name the same comments`);
    assert.equal(u.startedOn, 'polling', `${u.name}: the session started on polling`);
    if (u.slow) {
      // (Not asked of a fast client: socket.io-client emits connect a tick
      // after the CONNECT reply arrived, and the GET that carried it may
      // have been the last one before the upgrade, which completes first.)
      assert.ok(u.sentBefore > 0, `${u.name}: sent ${u.sentBefore} comments before the upgrade completed`);
      assert.ok(u.gotOn.polling > 0 && u.gotOn.websocket > 0,
        `${u.name}: comment_added on polling: ${u.gotOn.polling}, on WebSocket: ${u.gotOn.websocket}; want both`);
    }
    assert.ok(u.sent.length - u.sentBefore >= AFTER_UPGRADE, `${u.name}: kept sending after the upgrade`);
    assertTransport(u.socket, 'websocket');
  }
  assertTransport(reader, TRANSPORT);
  t.diagnostic(`${want.size} comments; per upgrader: sent before+after the upgrade, received on polling+WebSocket: ${
    upgraders.map((u) => `${u.name}${u.slow ? ' (slow)' : ''} ${u.sentBefore}+${u.sent.length - u.sentBefore}, ${u.gotOn.polling}+${u.gotOn.websocket}`).join('; ')}`);
});

/**
 * upgrader connects a client with the default transports (polling, then
 * the upgrade to WebSocket; slow: a WebSocket that opens SLOW_WS_MS late).
 * From its connect event on, it joins the room and posts a comment every
 * PACE_MS, until AFTER_UPGRADE comments after the engine's upgrade event;
 * done resolves then.
 */
async function upgrader(t, p, i, slow) {
  const name = `up${i}`;
  const transports = slow ? [NodeXHR, SlowWebSocket] : ['polling', 'websocket'];
  const u = {
    name, slow, sent: [], sentBefore: 0, acks: [], confirmations: [], got: [], gotOn: { polling: 0, websocket: 0 },
    startedOn: undefined, upgraded: false, socket: undefined, done: undefined,
    confirmedAll: () => u.acks.length === u.sent.length && u.confirmations.length === u.sent.length,
    progress: () => `${name} ${u.acks.length}+${u.confirmations.length}/${u.sent.length}`,
  };
  let started;
  const running = new Promise((resolve) => { started = resolve; });
  u.socket = await connect(t, { transports }, {
    before: (s) => {
      s.io.once('open', () => {
        u.startedOn = transportOf(s);
        s.io.engine.once('upgrade', () => { u.upgraded = true; });
      });
      s.on('comment_confirmed', (c) => u.confirmations.push(c));
      s.on('comment_added', (c) => {
        u.got.push(c);
        u.gotOn[transportOf(s)]++;
      });
      s.once('connect', () => started(run(s)));
    },
  });
  u.done = running;
  return u;

  async function run(s) {
    // Handled in order: the join before any of its comments.
    s.emit('join_post', p);
    const uid = userId(name);
    const deadline = Date.now() + 60_000;
    for (let j = 0, after = 0; after < AFTER_UPGRADE; j++) {
      if (Date.now() > deadline) throw new Error(`${name}: no upgrade within 60s (transport ${transportOf(s)})`);
      const content = `${name} ${j}`;
      if (u.upgraded) after++;
      else u.sentBefore++;
      u.sent.push(content);
      s.emit('new_comment', { postId: p, userId: uid, content }, (res) => u.acks.push({ content, res }));
      await sleep(PACE_MS);
    }
  }
}
