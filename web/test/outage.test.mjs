// The contract while a backend is down: MongoDB (guarantee 4: joins show
// comments not yet flushed) and Redis (UNAVAILABLE, then recovery). The
// backends are stopped through COMMENTD_CONTROL, the Go test's control
// server; this file runs after contract.test.mjs, never beside it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  WAIT_MS, ack, collect, connect, connectN, control, ids, join, post, postId, until, userId, waitFor,
} from './helpers.mjs';

test('with MongoDB stopped, join_post shows comments not yet flushed', { timeout: 120_000 }, async (t) => {
  const p = postId();
  const u = userId();
  const [writer, member] = await connectN(t, 2);
  await join(member, p);
  const live = collect(member, 'comment_added');

  await control('/mongo/stop');
  try {
    const sent = [];
    for (const content of ['while down 1', 'while down 2', 'while down 3']) {
      sent.push(await post(writer, { postId: p, userId: u, content }));
    }
    await until(() => live.length === 3, WAIT_MS, () => `member got ${live.length} comment_added`);
    assert.deepEqual(live, sent, 'broadcast while MongoDB is down');

    const { loaded, acked } = await join(await connect(t), p);
    assert.deepEqual(loaded, sent, 'load_comments holds the unflushed comments, oldest first');
    assert.deepEqual(acked, sent);

    const since = await join(await connect(t), { postId: p, since: sent[0]._id });
    assert.deepEqual(ids(since.loaded), ids(sent.slice(1)), 'since works from the buffer too');
  } finally {
    await control('/mongo/start');
  }

  // Once MongoDB is back, joins still show them (flushed by now or not).
  const { loaded } = await join(await connect(t), p);
  assert.deepEqual(loaded.map((c) => c.content), ['while down 1', 'while down 2', 'while down 3']);
});

test('with Redis stopped, new_comment gets UNAVAILABLE; once it is back, comments flow again', { timeout: 120_000 }, async (t) => {
  const p = postId();
  const u = userId();
  const [writer, member] = await connectN(t, 2);
  await join(member, p);
  const live = collect(member, 'comment_added');
  const before = await post(writer, { postId: p, userId: u, content: 'before the outage' });
  await until(() => live.length === 1, WAIT_MS, () => `member got ${live.length} comment_added`);

  await control('/redis/stop');
  try {
    const errEvent = waitFor(writer, 'comment_error', 30_000);
    const res = await writer.timeout(30_000).emitWithAck('new_comment', { postId: p, userId: u, content: 'during the outage' });
    assert.deepEqual(res, { ok: false, error: { code: 'UNAVAILABLE', message: res.error?.message } }, `ack ${JSON.stringify(res)}`);
    assert.equal(typeof res.error.message, 'string');
    const ev = await errEvent;
    assert.equal(ev.code, 'UNAVAILABLE');
    assert.equal(ev.error, res.error.message);
    assert.ok(writer.connected && member.connected, 'clients stay connected through the outage');
  } finally {
    await control('/redis/start');
  }

  // Redis is back: posting works and the room gets it, on the same
  // connections. The server's Redis client reconnects on its own schedule:
  // retry while the answer is UNAVAILABLE.
  let after;
  for (const deadline = Date.now() + 30_000; ;) {
    const res = await ack(writer, 'new_comment', { postId: p, userId: u, content: 'after the outage' });
    if (res.ok) {
      after = res.comment;
      break;
    }
    assert.equal(res.error?.code, 'UNAVAILABLE', `ack ${JSON.stringify(res)}`);
    assert.ok(Date.now() < deadline, 'no comment accepted 30s after Redis came back');
    await new Promise((r) => setTimeout(r, 200));
  }
  await until(() => live.some((c) => c._id === after._id), 15_000,
    () => `member got ${JSON.stringify(ids(live))}, not ${after._id}: the room's feed did not recover`);
  assert.deepEqual(ids(live), [before._id, after._id], 'nothing phantom from the outage, and the new one');

  const { loaded } = await join(await connect(t), p);
  assert.deepEqual(ids(loaded), [before._id, after._id], 'history after the outage');
});
