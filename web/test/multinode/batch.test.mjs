// Coalesced delivery (join_post {postId, batch: true}) with the official
// socket.io-client on several nodes: batching readers get comments_added
// frames holding the comments of a window, in the post's order (the order a
// plain reader sees), with every change after its comment, nothing lost
// across windows, a dropped connection (recovery on another node) and a
// move to another node (join with since); a reader who did not ask never
// gets comments_added (hot.threshold is unset in this suite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { URL, WAIT_MS, postId, once, connected, until, ack, post, control } from './lib.mjs';

/** reader records what a socket is told of a post, in arrival order. */
function reader(socket) {
  const r = { added: [], frames: 0, biggest: 0, events: [], wrong: [], log: [] };
  socket.onAny((ev, ...args) => r.log.push(`${ev} ${Array.isArray(args[0]) ? args[0].map((c) => c.content).join(',') : ''} ${JSON.stringify(args.slice(1))}`));
  socket.on('comments_added', (list, ...rest) => {
    assert.ok(Array.isArray(list), `comments_added carries an array: ${JSON.stringify(list)}`);
    r.frames++;
    r.biggest = Math.max(r.biggest, list.length);
    for (const c of list) {
      r.added.push(c._id);
      r.events.push(['added', c._id]);
    }
    if (rest.length > 0) assert.equal(rest.at(-1), list.at(-1)._id, 'the offset is the last comment id');
  });
  socket.on('comment_added', (c) => {
    r.wrong.push(`comment_added ${c._id}`);
    r.added.push(c._id);
    r.events.push(['added', c._id]);
  });
  socket.on('comment_updated', (c) => r.events.push(['updated', c._id]));
  socket.on('comments_reactions', (list) => {
    for (const x of list) r.events.push(['reactions', x.commentId]);
  });
  socket.on('comment_reactions', (x) => r.events.push(['reactions', x.commentId]));
  return r;
}

/** plainReader records comment_added only, and any batch event it should not get. */
function plainReader(socket) {
  const r = { added: [], wrong: [] };
  socket.on('comment_added', (c) => r.added.push(c._id));
  socket.on('comments_added', (list) => r.wrong.push(`comments_added of ${list.length}`));
  socket.on('comments_reactions', (list) => r.wrong.push(`comments_reactions of ${list.length}`));
  return r;
}

/** ordered checks that every change and reaction of a comment comes after the comment. */
function ordered(events, label) {
  const seen = new Set();
  for (const [kind, id] of events) {
    if (kind === 'added') seen.add(id);
    else assert.ok(seen.has(id), `${label}: ${kind} of ${id} before the comment itself`);
  }
}

/** postMany posts n comments, `inFlight` at a time, and resolves with their ids. */
async function postMany(writer, p, n, inFlight, label) {
  const ids = [];
  for (let i = 0; i < n; i += inFlight) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + inFlight); j++) {
      batch.push(post(writer, { postId: p, userId: 'w', content: `${label} ${j}` }));
    }
    for (const c of await Promise.all(batch)) ids.push(c._id);
  }
  return ids;
}

const transports = [['websocket'], ['polling']];

test('batching readers on two nodes get every comment in order, in frames of a window', { timeout: 90_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  const writer = io(nodes[2], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  const batched = [0, 1].map((n) => io(nodes[n], { transports: transports[n], forceNew: true, reconnection: false, timeout: WAIT_MS }));
  const plain = io(nodes[0], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  t.after(() => { for (const s of [writer, plain, ...batched]) s.disconnect(); });
  await Promise.all([writer, plain, ...batched].map(connected));

  const p = postId('batch');
  const rs = batched.map(reader);
  const pr = plainReader(plain);
  for (const s of batched) assert.equal((await ack(s, 'join_post', { postId: p, batch: true }))?.ok, true);
  assert.equal((await ack(plain, 'join_post', p))?.ok, true);

  // 200 comments, 20 in flight: many windows, several comments in most.
  // Every 20th is edited and reacted to as soon as it is confirmed: its
  // change must come after it, even when it is still in a window.
  const ids = [];
  for (let i = 0; i < 200; i += 20) {
    const burst = await postMany(writer, p, 20, 20, `c${i}`);
    ids.push(...burst);
    const first = burst[0];
    const edited = await ack(writer, 'edit_comment', { postId: p, commentId: first, userId: 'w', content: `c${i} edited` });
    assert.equal(edited?.ok, true, `edit acked ${JSON.stringify(edited)}`);
    const reacted = await ack(writer, 'react', { postId: p, commentId: burst.at(-1), userId: 'w', reaction: '👍' });
    assert.equal(reacted?.ok, true, `react acked ${JSON.stringify(reacted)}`);
  }
  await until(() => pr.added.length >= ids.length && rs.every((r) => r.added.length >= ids.length), WAIT_MS,
    () => `plain ${pr.added.length}, batched ${rs.map((r) => r.added.length)} of ${ids.length}`);
  await until(() => rs.every((r) => r.events.filter(([k]) => k === 'reactions').length >= 10), WAIT_MS,
    () => `reactions ${rs.map((r) => r.events.filter(([k]) => k === 'reactions').length)} of 10`);

  assert.deepEqual(new Set(pr.added), new Set(ids), 'the plain reader got every comment');
  assert.equal(pr.added.length, ids.length, 'the plain reader got each once');
  assert.deepEqual(pr.wrong, [], 'a reader who did not ask gets no batch events');
  for (const [n, r] of rs.entries()) {
    const label = `batched reader on node ${n} (${transports[n]})`;
    assert.deepEqual(r.wrong, [], `${label}: no comment_added`);
    assert.deepEqual(r.added, pr.added, `${label}: every comment once, in the post's order`);
    ordered(r.events, label);
    assert.ok(r.frames < ids.length, `${label}: ${r.frames} frames for ${ids.length} comments`);
    assert.ok(r.biggest > 1, `${label}: a frame held ${r.biggest} comments at most`);
    assert.equal(r.events.filter(([k]) => k === 'updated').length, 10, `${label}: the ten edits`);
  }
});

test('a batching reader recovers on another node with what it missed, as comments_added', { timeout: 90_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  const writer = io(nodes[2], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  await control('POST', '/sticky/0');
  const s = io(URL, {
    transports: ['websocket'], forceNew: true, timeout: WAIT_MS,
    reconnectionDelay: 1000, reconnectionDelayMax: 1000, randomizationFactor: 0,
  });
  t.after(async () => { s.disconnect(); writer.disconnect(); await control('POST', '/sticky/-1'); });
  await Promise.all([connected(s), connected(writer)]);
  const p = postId('batchrec');
  const r = reader(s);
  assert.equal((await ack(s, 'join_post', { postId: p, batch: true }))?.ok, true);
  const want = await postMany(writer, p, 30, 1, 'before');
  await until(() => r.added.length >= want.length, WAIT_MS, () => `added ${r.added.length} of ${want.length}`);

  await control('POST', '/sticky/1');
  const down = once(s, 'disconnect');
  const back = once(s, 'connect', 20_000);
  await control('POST', '/drop');
  await down;
  want.push(...await postMany(writer, p, 30, 1, 'missed'));
  await back;
  assert.equal(s.recovered, true, 'socket.recovered after the drop');
  want.push(...await postMany(writer, p, 30, 1, 'after'));
  await until(() => r.added.length >= want.length, WAIT_MS, () => `added ${r.added.length} of ${want.length}`);
  assert.deepEqual(r.wrong, [], 'still batched after recovery: no comment_added');
  if (JSON.stringify(r.added) !== JSON.stringify(want)) console.log(r.log.join('\n'));
  assert.deepEqual(r.added, want, 'every comment once, in order, across the drop');
});

test('a batching reader that moves to another node joins with since and loses nothing', { timeout: 90_000 }, async (t) => {
  const { nodes } = await control('GET', '/nodes');
  const writer = io(nodes[2], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  const first = io(nodes[0], { transports: ['websocket'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  t.after(() => { first.disconnect(); writer.disconnect(); });
  await Promise.all([connected(first), connected(writer)]);
  const p = postId('batchmove');
  const r = reader(first);
  assert.equal((await ack(first, 'join_post', { postId: p, batch: true }))?.ok, true);
  const want = await postMany(writer, p, 25, 1, 'one');
  await until(() => r.added.length >= want.length, WAIT_MS, () => `added ${r.added.length} of ${want.length}`);

  // Posting goes on while the reader moves: some comments reach it in the
  // join's history, the rest live.
  first.disconnect();
  const posting = postMany(writer, p, 40, 1, 'two');
  const second = io(nodes[1], { transports: ['polling'], forceNew: true, reconnection: false, timeout: WAIT_MS });
  t.after(() => second.disconnect());
  await connected(second);
  const r2 = reader(second);
  const res = await ack(second, 'join_post', { postId: p, since: r.added.at(-1), batch: true });
  assert.equal(res?.ok, true);
  const got = [...r.added];
  const seen = new Set(got);
  const take = (id) => { if (!seen.has(id)) { seen.add(id); got.push(id); } };
  for (const c of res.comments) take(c._id);
  want.push(...await posting);
  await until(() => { for (const id of r2.added) take(id); return seen.size >= want.length; }, WAIT_MS,
    () => `have ${seen.size} of ${want.length}`);
  assert.deepEqual(r2.wrong, [], 'no comment_added on the new node');
  assert.deepEqual(got, want, 'every comment once, in order, across the move');
});
