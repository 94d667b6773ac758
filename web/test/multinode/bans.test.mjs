// Bans and post locks (issue 14) with the official socket.io-client, on two
// nodes, over each transport: a user banned by a moderator on one node gets
// BANNED on both nodes, and posts again once unbanned; a locked post
// refuses comments with POST_LOCKED on both nodes, its readers get
// post_info, and unlocked it takes comments again; a reader who is not a
// moderator gets FORBIDDEN. The nodes run with admin.token
// COMMENTD_ADMIN_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { WAIT_MS, postId, once, connected, ack, post, control } from './lib.mjs';

const ADMIN = process.env.COMMENTD_ADMIN_TOKEN;

/** refusedWith posts until the ack's error code is code, within WAIT_MS, and resolves with the ack. */
async function refusedWith(socket, input, code) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const res = await ack(socket, 'new_comment', input);
    if (res?.ok === false && res.error.code === code) return res;
    if (Date.now() > deadline) assert.fail(`new_comment still acked ${JSON.stringify(res)} after ${WAIT_MS}ms, want ${code}`);
    await sleep(2);
  }
}

/** acceptedAgain posts until the comment is accepted, within WAIT_MS. */
async function acceptedAgain(socket, input) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const res = await ack(socket, 'new_comment', input);
    if (res?.ok) return res.comment;
    if (Date.now() > deadline) assert.fail(`new_comment still acked ${JSON.stringify(res)} after ${WAIT_MS}ms`);
    await sleep(2);
  }
}

for (const transport of ['websocket', 'polling']) {
  test(`bans and locks on two nodes over ${transport}`, { timeout: 60_000 }, async (t) => {
    const { nodes } = await control('GET', '/nodes');
    const opts = { transports: [transport], forceNew: true, reconnection: false, timeout: WAIT_MS };
    const mod = io(nodes[0], { ...opts, auth: { token: ADMIN } });
    const u0 = io(nodes[0], opts);
    const u1 = io(nodes[1], opts);
    const reader = io(nodes[1], opts);
    const all = [mod, u0, u1, reader];
    t.after(() => all.forEach((s) => s.disconnect()));
    await Promise.all(all.map(connected));
    const p = postId(`ban-${transport}`);
    const user = `u-${transport}`;

    await post(u1, { postId: p, userId: user, content: 'before the ban' });

    // Not a moderator: FORBIDDEN for each event.
    for (const [event, arg] of [['ban_user', { userId: user, duration: 0, reason: 'x' }],
      ['unban_user', { userId: user }], ['lock_post', { postId: p, locked: true }]]) {
      const res = await ack(reader, event, arg);
      assert.equal(res?.ok, false, `${event}: ${JSON.stringify(res)}`);
      assert.equal(res.error.code, 'FORBIDDEN', event);
    }

    // Banned on node 0: refused on both nodes.
    let res = await ack(mod, 'ban_user', { userId: user, duration: 0, reason: 'spam' });
    assert.equal(res?.ok, true, JSON.stringify(res));
    assert.deepEqual({ ...res.ban, at: undefined }, { userId: user, reason: 'spam', by: 'admin', at: undefined, until: null });
    const errored = once(u1, 'comment_error');
    const started = Date.now();
    res = await refusedWith(u1, { postId: p, userId: user, content: 'banned?' }, 'BANNED');
    console.log(`# ${transport}: BANNED on the other node ${Date.now() - started}ms after the ban's ack`);
    assert.match(res.error.message, /until a moderator lifts the ban/);
    assert.equal((await errored)[0].code, 'BANNED');
    res = await ack(u0, 'new_comment', { postId: p, userId: user, content: 'on the banning node' });
    assert.equal(res.error.code, 'BANNED', 'the node that banned refuses at once');
    await post(reader, { postId: p, userId: `other-${transport}`, content: 'others still post' });

    // Unbanned on node 1: accepted again on both nodes.
    res = await ack(reader, 'unban_user', { userId: user });
    assert.equal(res.error.code, 'FORBIDDEN');
    const mod1 = io(nodes[1], { ...opts, auth: { token: ADMIN } });
    all.push(mod1);
    await connected(mod1);
    res = await ack(mod1, 'unban_user', { userId: user });
    assert.equal(res?.ok, true, JSON.stringify(res));
    assert.equal(res.ban.userId, user);
    await post(u1, { postId: p, userId: user, content: 'back on node 1' });
    await acceptedAgain(u0, { postId: p, userId: user, content: 'back on node 0' });

    // Locked on node 0: readers on both nodes get post_info; comments are
    // refused on both nodes as soon as the lock is acknowledged.
    const l = postId(`lock-${transport}`);
    for (const s of [u0, reader]) {
      const info = waitInfo(s, (m) => m.postId === l);
      const joined = await ack(s, 'join_post', l);
      assert.equal(joined?.ok, true);
      const got = await info;
      assert.equal(typeof got.viewers, 'number', 'post_info on join');
      assert.equal(got.locked, false, 'post_info on join');
    }
    const infos = [waitInfo(u0, (m) => m.locked), waitInfo(reader, (m) => m.locked)];
    res = await ack(mod, 'lock_post', { postId: l, locked: true });
    assert.deepEqual(res, { ok: true, postId: l, locked: true });
    for (const s of [u0, u1]) {
      res = await ack(s, 'new_comment', { postId: l, userId: user, content: 'locked?' });
      assert.equal(res?.ok, false, JSON.stringify(res));
      assert.equal(res.error.code, 'POST_LOCKED');
    }
    for (const info of infos) assert.equal((await info).postId, l);

    // Unlocked: accepted again, and readers are told.
    const unlocked = [waitInfo(u0, (m) => !m.locked), waitInfo(reader, (m) => !m.locked)];
    res = await ack(mod1, 'lock_post', { postId: l, locked: false });
    assert.deepEqual(res, { ok: true, postId: l, locked: false });
    for (const info of unlocked) assert.equal((await info).postId, l);
    await post(u1, { postId: l, userId: user, content: 'open again' });
  });
}

// waitInfo resolves with the first post_info of s that match accepts:
// changes of the viewers come as post_info too.
function waitInfo(s, match) {
  return new Promise((resolve) => {
    const on = (info) => {
      if (match(info)) {
        s.off('post_info', on);
        resolve(info);
      }
    };
    s.on('post_info', on);
  });
}
