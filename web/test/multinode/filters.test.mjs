// Filters and the moderation hook (issue 14) with the official
// socket.io-client on two nodes, over each transport: a poster on node 0,
// a reader and a moderator (watch_moderation) on node 1. What the nodes
// run with comes from the Go test:
//
//   COMMENTD_FILTER_WORD   the word of moderation.words
//   COMMENTD_FILTER_WORDS  its moderation.words_action: hold
//                          (TestMultinodeSocketIOClient) or reject
//                          (TestFiltersSocketIOClient); unset: no words
//   COMMENTD_FILTER_HOOK   moderation.hook_failure of a hook on loopback
//                          (TestFiltersSocketIOClient): hold or allow;
//                          unset: no hook. The hook answers by the marker
//                          in a comment: [allow], [hold], [reject], and
//                          [slow] only after moderation.hook_timeout.
//
// A held comment is acked pending, reaches the moderator as
// moderation_queue and never the reader; a refused one is acked REJECTED
// and reaches no one; an allowed one reaches the reader on the other node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, connected, until, ack, join, control } from './lib.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;
const WORD = process.env.COMMENTD_FILTER_WORD;
const WORDS = process.env.COMMENTD_FILTER_WORDS ?? '';
const HOOK = process.env.COMMENTD_FILTER_HOOK ?? '';

/** twoNodes connects the poster, the reader and the moderator, and records what the latter two get of a new post. */
async function twoNodes(t, transport, label) {
  const { nodes } = await control('GET', '/nodes');
  const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
  const poster = io(nodes[0], opts);
  const reader = io(nodes[1], opts);
  const mod = io(nodes[1], { ...opts, auth: { token: ADMIN } });
  const all = [poster, reader, mod];
  t.after(() => all.forEach((s) => s.disconnect()));
  await Promise.all(all.map(connected));
  const p = postId(`${label}-${transport}`);
  await join(poster, p);
  await join(reader, p);
  const watched = await ack(mod, 'watch_moderation');
  assert.equal(watched?.ok, true, JSON.stringify(watched));
  const ctx = { poster, p, user: `u-${transport}`, seen: [], queued: [], visible: [], held: [] };
  reader.on('comment_added', (c) => { if (c.postId === p) ctx.seen.push([c._id, c.status ?? '']); });
  mod.on('moderation_queue', (c) => { if (c.postId === p) ctx.queued.push([c._id, c.status ?? '']); });
  return ctx;
}

/** judged posts content and checks it is visible (the reader gets it), held (the moderator gets it) or rejected. */
async function judged(ctx, content, want) {
  const res = await ack(ctx.poster, 'new_comment', { postId: ctx.p, userId: ctx.user, content });
  const what = `${JSON.stringify(content)} acked ${JSON.stringify(res)}, want ${want}`;
  if (want === 'rejected') {
    assert.equal(res?.ok, false, what);
    assert.equal(res.error.code, 'REJECTED', what);
    return res;
  }
  assert.equal(res?.ok, true, what);
  const id = res.comment._id;
  if (want === 'visible') {
    assert.equal(res.comment.status, undefined, what);
    ctx.visible.push(id);
    await until(() => ctx.seen.some(([got]) => got === id), WAIT_MS,
      () => `the reader on the other node did not get ${what}: ${JSON.stringify(ctx.seen)}`);
  } else {
    assert.equal(res.comment.status, 'pending', what);
    ctx.held.push(id);
    await until(() => ctx.queued.some(([got]) => got === id), WAIT_MS,
      () => `the moderator on the other node did not get ${what}: ${JSON.stringify(ctx.queued)}`);
  }
  return res;
}

/** settled checks, after a last visible comment, that the reader got only the visible ones and the moderator only the held ones. */
async function settled(ctx) {
  await judged(ctx, 'the last one', 'visible');
  await sleep(300);
  assert.deepEqual(ctx.seen, ctx.visible.map((id) => [id, '']), 'the reader gets the visible comments only');
  assert.deepEqual(ctx.queued, ctx.held.map((id) => [id, 'pending']), 'the moderator gets the held ones only');
}

for (const transport of ['websocket', 'polling']) {
  test(`moderation.words (words_action ${WORDS || 'unset'}) on two nodes over ${transport}`,
    { timeout: 60_000, skip: !WORDS && 'the nodes run without moderation.words' }, async (t) => {
      assert.ok(WORD, 'COMMENTD_FILTER_WORD is set');
      const ctx = await twoNodes(t, transport, 'words');
      const want = WORDS === 'hold' ? 'held' : 'rejected';
      for (const content of [`I say ${WORD} here`, `${WORD.toUpperCase()}!`]) {
        const res = await judged(ctx, content, want);
        if (want === 'rejected') {
          assert.ok(!res.error.message.toLowerCase().includes(WORD), `the message names no word: ${res.error.message}`);
        }
      }
      await judged(ctx, `${WORD}s is another word`, 'visible');
      await settled(ctx);
    });

  test(`moderation hook (hook_failure ${HOOK || 'unset'}) on two nodes over ${transport}`,
    { timeout: 60_000, skip: !HOOK && 'the nodes run without moderation.hook_url' }, async (t) => {
      const ctx = await twoNodes(t, transport, 'hook');
      await judged(ctx, '[allow] a fine comment', 'visible');
      await judged(ctx, '[hold] look at this first', 'held');
      await judged(ctx, '[reject] not this one', 'rejected');
      // No answer within moderation.hook_timeout: hook_failure decides.
      await judged(ctx, '[slow] take your time', HOOK === 'hold' ? 'held' : 'visible');
      await settled(ctx);
    });
}
