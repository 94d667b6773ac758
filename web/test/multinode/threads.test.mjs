// Replies and reactions with the official socket.io-client on two nodes,
// over each transport: a reply reaches every reader with its parentId and
// raises its parent's replies; a reply across posts is NOT_FOUND; many
// users reacting at once end in exactly their distinct reactions, live and
// in MongoDB, with comment_reactions coalesced (reactions.push_rate, 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, connected, until, ack, join, post, control } from './lib.mjs';

const PUSH_RATE = 4; // reactions.push_rate's default

function sockets(t, urls, transport) {
  const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
  const out = urls.map((u) => io(u, opts));
  t.after(() => out.forEach((s) => s.disconnect()));
  return out;
}

/** record keeps every `event` a socket gets for post p. */
function record(socket, event, p) {
  const got = [];
  socket.on(event, (x) => { if (x?.postId === p) got.push({ at: Date.now(), x }); });
  return got;
}

for (const transport of ['websocket', 'polling']) {
  test(`replies on two nodes over ${transport}`, { timeout: 60_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const [a, b] = sockets(t, [nodes[0], nodes[1]], transport);
    await Promise.all([a, b].map(connected));
    const p = postId(`replies-${transport}`);
    await join(a, p);
    await join(b, p);
    const added = [a, b].map((s) => record(s, 'comment_added', p));
    const updated = [a, b].map((s) => record(s, 'comment_updated', p));

    const parent = await post(a, { postId: p, userId: 'alice', content: 'the parent' });
    const reply = await post(b, { postId: p, userId: 'bob', content: 'a reply', parentId: parent._id });
    assert.equal(reply.parentId, parent._id);
    for (const [i, got] of added.entries()) {
      await until(() => got.some((e) => e.x._id === reply._id), WAIT_MS, () => `reader ${i}: no reply among ${JSON.stringify(got)}`);
      assert.equal(got.find((e) => e.x._id === reply._id).x.parentId, parent._id);
    }
    for (const [i, got] of updated.entries()) {
      await until(() => got.some((e) => e.x._id === parent._id && e.x.replies === 1), WAIT_MS,
        () => `reader ${i}: parent's replies not raised: ${JSON.stringify(got)}`);
    }

    // load_replies pages a comment's replies; a later joiner sees the count.
    const page = await ack(a, 'load_replies', { postId: p, parentId: parent._id });
    assert.equal(page.ok, true, JSON.stringify(page));
    assert.deepEqual(page.comments.map((c) => c._id), [reply._id]);
    const [c] = sockets(t, [nodes[1]], transport);
    await connected(c);
    const loaded = await join(c, p);
    assert.equal(loaded.find((x) => x._id === parent._id)?.replies, 1, JSON.stringify(loaded));

    // REST pages the replies too.
    const rest = await (await fetch(`${nodes[1]}/api/posts/${p}/comments?parent=${parent._id}`)).json();
    assert.deepEqual(rest.comments.map((x) => x._id), [reply._id], JSON.stringify(rest));

    // The parent deleted stays as a tombstone while a reply shows: no
    // content, no author, its replies; a joiner sees it too.
    const del = await ack(a, 'delete_comment', { postId: p, commentId: parent._id, userId: 'alice' });
    assert.equal(del.ok, true, JSON.stringify(del));
    for (const [i, got] of updated.entries()) {
      await until(() => got.some((e) => e.x._id === parent._id && e.x.deleted && e.x.replies === 1 && e.x.content === '' && !e.x.userId),
        WAIT_MS, () => `reader ${i}: no tombstone: ${JSON.stringify(got)}`);
    }
    const [d] = sockets(t, [nodes[0]], transport);
    await connected(d);
    const after = await join(d, p);
    const tomb = after.find((x) => x._id === parent._id);
    assert.equal(tomb?.deleted, true, JSON.stringify(after));
    assert.equal(tomb.content, '');

    // A reply to a comment of another post is NOT_FOUND.
    const other = postId('other');
    const res = await ack(a, 'new_comment', { postId: other, userId: 'alice', content: 'elsewhere', parentId: parent._id });
    assert.equal(res.ok, false);
    assert.equal(res.error?.code, 'NOT_FOUND', JSON.stringify(res));
  });

  test(`post_info.count on two nodes over ${transport}`, { timeout: 60_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const [a, b] = sockets(t, [nodes[0], nodes[1]], transport);
    await Promise.all([a, b].map(connected));
    const p = postId(`count-${transport}`);
    const infos = [a, b].map((s) => record(s, 'post_info', p));
    await join(a, p);
    await until(() => infos[0].at(-1)?.x.count === 0, WAIT_MS, () => `post_info on join: ${JSON.stringify(infos[0])}`);
    const first = await post(a, { postId: p, userId: 'alice', content: 'one' });
    await post(a, { postId: p, userId: 'alice', content: 'two' });
    await join(b, p);
    for (const [i, got] of infos.entries()) {
      await until(() => got.at(-1)?.x.count === 2, 3 * WAIT_MS, () => `reader ${i}: ${JSON.stringify(got)}`);
    }
    await ack(b, 'delete_comment', { postId: p, commentId: first._id, userId: 'alice' });
    for (const [i, got] of infos.entries()) {
      await until(() => got.at(-1)?.x.count === 1, 3 * WAIT_MS, () => `reader ${i}: ${JSON.stringify(got)}`);
    }
    const counts = await (await fetch(`${nodes[1]}/api/counts?posts=${p}`)).json();
    assert.deepEqual(counts, { ok: true, counts: { [p]: 1 } });
  });

  test(`50 users react at once on two nodes over ${transport}`, { timeout: 90_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const p = postId(`reactions-${transport}`);
    const [author, reader0, reader1] = sockets(t, [nodes[0], nodes[0], nodes[1]], transport);
    await Promise.all([author, reader0, reader1].map(connected));
    for (const s of [author, reader0, reader1]) await join(s, p);
    const target = await post(author, { postId: p, userId: 'author', content: 'react to me' });
    const pushes = [reader0, reader1].map((s) => record(s, 'comment_reactions', p));

    const users = sockets(t, Array.from({ length: 50 }, (_, i) => nodes[i % 2]), transport);
    await Promise.all(users.map(connected));
    const start = Date.now();
    const acks = await Promise.all(users.map((s, i) =>
      ack(s, 'react', { postId: p, commentId: target._id, reaction: '👍', on: true, userId: `fan-${i}` })));
    for (const r of acks) assert.equal(r.ok, true, JSON.stringify(r));
    for (const [i, got] of pushes.entries()) {
      await until(() => got.at(-1)?.x.reactions?.['👍'] === 50, WAIT_MS,
        () => `reader ${i}: last comment_reactions ${JSON.stringify(got.at(-1))}`);
    }
    // Coalesced: over the time they took, at most push_rate a second (and
    // one more for the first, sent at once).
    const took = Math.max(...pushes.map((got) => got.at(-1).at)) - start;
    for (const got of pushes) {
      assert.ok(got.length <= Math.ceil(PUSH_RATE * (took / 1000 + 1)) + 1,
        `${got.length} comment_reactions in ${took}ms: more than ${PUSH_RATE}/s`);
    }

    // Reacting twice counts once; on:false takes it back.
    const again = await ack(users[0], 'react', { postId: p, commentId: target._id, reaction: '👍', on: true, userId: 'fan-0' });
    assert.equal(again.comment.reactions['👍'], 50);
    const off = await ack(users[1], 'react', { postId: p, commentId: target._id, reaction: '👍', on: false, userId: 'fan-1' });
    assert.equal(off.comment.reactions['👍'], 49);
    const heart = await ack(users[2], 'react', { postId: p, commentId: target._id, reaction: '❤️', userId: 'fan-2' });
    assert.deepEqual(heart.comment.reactions, { '👍': 49, '❤️': 1 });
    const bad = await ack(users[3], 'react', { postId: p, commentId: target._id, reaction: '💩', userId: 'fan-3' });
    assert.equal(bad.error?.code, 'INVALID_REACTION', JSON.stringify(bad));
    for (const [i, got] of pushes.entries()) {
      await until(() => got.at(-1)?.x.reactions?.['❤️'] === 1 && got.at(-1).x.reactions['👍'] === 49, WAIT_MS,
        () => `reader ${i}: last comment_reactions ${JSON.stringify(got.at(-1))}`);
    }

    // MongoDB holds the same counts, and exactly the distinct reactors.
    let stored;
    for (const deadline = Date.now() + 3 * WAIT_MS; ;) {
      stored = await control('GET', `/stored/${target._id}`);
      const r = stored.comment?.reactions;
      if (r?.['❤️'] === 1 && r['👍'] === 49) break;
      assert.ok(Date.now() < deadline, `MongoDB holds ${JSON.stringify(stored)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(stored.reactors, { '👍': 49, '❤️': 1 });
  });
}

// Guarantee 10 on the reactions' path: a reaction to a hidden comment (its
// author may still react) reaches its author and moderators, never another
// reader, on either node.
test('comment_reactions of a hidden comment only to those who may see it', { timeout: 60_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  const opts = { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS };
  const author = io(nodes[0], opts);
  const reader = io(nodes[1], opts);
  const mod = io(nodes[1], { ...opts, auth: { token: process.env.COMMENTD_ADMIN_TOKEN } });
  t.after(() => [author, reader, mod].forEach((s) => s.disconnect()));
  await Promise.all([author, reader, mod].map(connected));
  const p = postId('hidden-reactions');
  for (const s of [author, reader, mod]) await join(s, p);
  const c = await post(author, { postId: p, userId: 'author', content: 'to be hidden' });
  const hide = await ack(mod, 'moderate', { postId: p, commentId: c._id, action: 'hide' });
  assert.equal(hide.ok, true, JSON.stringify(hide));
  const seen = [reader, mod].map((s) => record(s, 'comment_reactions', p));
  const res = await ack(author, 'react', { postId: p, commentId: c._id, reaction: '👍', userId: 'author' });
  assert.equal(res.ok, true, JSON.stringify(res));
  await until(() => seen[1].length > 0, WAIT_MS, () => 'the moderator got no comment_reactions');
  // A comment after the reaction: once the reader has it, it would have
  // had the reaction's event too (the first one of a comment goes at once).
  const got = record(reader, 'comment_added', p);
  const marker = await post(author, { postId: p, userId: 'author', content: 'after the reaction' });
  await until(() => got.some((e) => e.x._id === marker._id), WAIT_MS, () => 'the reader got no later comment');
  assert.deepEqual(seen[0], [], `the reader got comment_reactions of a hidden comment: ${JSON.stringify(seen[0])}`);
  const bad = await ack(reader, 'react', { postId: p, commentId: c._id, reaction: '👍', userId: 'reader' });
  assert.equal(bad.error?.code, 'NOT_FOUND', JSON.stringify(bad));
});
