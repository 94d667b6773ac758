// Client retries never duplicate (guarantee 1 with DESIGN's clientId): a
// socket.io-client with `retries` and `ackTimeout` whose acks are late
// (Redis stalled) sends new_comment several times; with a clientId the
// comment is stored and broadcast once, and every attempt gets it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, connectN, join, collect, until, quiet, control, postId, userId, ids, WAIT_MS } from './helpers.mjs';

test('retries with a clientId post once', { timeout: 60_000 }, async (t) => {
  const p = postId('retry');
  const u = userId('retry');
  const [reader] = await connectN(t, 1);
  await join(reader, p);
  const added = collect(reader, 'comment_added');
  const writer = await connect(t, { retries: 4, ackTimeout: 250 });
  const sent = [];
  writer.io.engine.on('packetCreate', (pk) => {
    if (pk.type === 'message' && String(pk.data).includes('new_comment')) sent.push(pk.data);
  });

  await control('/redis/pause');
  let res;
  try {
    res = writer.emitWithAck('new_comment', { postId: p, userId: u, content: 'once, however often sent', clientId: 'click-1' });
    await until(() => sent.length >= 3, WAIT_MS, () => `attempts sent: ${sent.length}`);
  } finally {
    await control('/redis/resume');
  }
  const ack = await res;
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await until(() => added.length >= 1, WAIT_MS, () => 'no comment_added');
  await quiet();
  assert.deepEqual(ids(added), [ack.comment._id], `one comment_added for ${sent.length} attempts`);
  const { loaded } = await join(await connect(t), p);
  assert.deepEqual(ids(loaded), [ack.comment._id], 'kept once');
});
