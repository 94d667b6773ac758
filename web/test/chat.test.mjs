// The /chat namespace (api/chat.go): the tutorial chat room of the system
// commentd replaces, with the official socket.io-client on COMMENTD_TRANSPORT.
// The room is shared by every client of the server, so each check counts
// only what names this test's own sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Manager, TRANSPORT, URL, WAIT_MS, ack, assertTransport, connect, connected, quiet, until,
} from './helpers.mjs';

const EVENTS = ['message', 'msg', 'getID', 'chat_error'];

/**
 * chatter connects a client to /chat that records every chat event from
 * before its CONNECT: the server greets everyone, the newcomer included,
 * right after the CONNECT reply.
 */
async function chatter(t) {
  const got = Object.fromEntries(EVENTS.map((e) => [e, []]));
  const socket = await connect(t, {}, {
    nsp: '/chat',
    before: (s) => EVENTS.forEach((e) => s.on(e, (arg) => got[e].push(arg))),
  });
  return { socket, id: socket.id, got };
}

function chatters(t, n) {
  return Promise.all(Array.from({ length: n }, () => chatter(t)));
}

/** count returns how many of list deep-equal want. */
function count(list, want) {
  return list.filter((v) => JSON.stringify(v) === JSON.stringify(want)).length;
}

/** arrived waits until every client in cs got `want` as `event`. */
function arrived(cs, event, want) {
  return until(() => cs.every((c) => count(c.got[event], want) >= 1), WAIT_MS,
    () => `${event} ${JSON.stringify(want)} per client: ${cs.map((c) => count(c.got[event], want))}`);
}

/**
 * settled waits GRACE_MS, for duplicates or strays to show, then checks
 * each expectation [clients, event, want, times]: every client in clients
 * got `want` as `event` exactly `times` times.
 */
async function settled(...expectations) {
  await quiet();
  for (const [cs, event, want, times] of expectations) {
    cs.forEach((c) => assert.equal(count(c.got[event], want), times,
      `${c.id} got ${event} ${JSON.stringify(want)} ${count(c.got[event], want)} times, want ${times}`));
  }
}

test('/chat: on connect everyone, the newcomer included, gets message "<id> connected"', async (t) => {
  const a = await chatter(t);
  const b = await chatter(t); // after a: a sees b arrive
  assert.match(a.id, /^\S+$/, 'a socket id');
  assert.notEqual(a.id, b.id);
  const c = await chatter(t);
  await arrived([a], 'message', `${a.id} connected`);
  await arrived([a, b], 'message', `${b.id} connected`);
  await arrived([a, b, c], 'message', `${c.id} connected`);
  await settled(
    [[a], 'message', `${a.id} connected`, 1],
    [[a, b], 'message', `${b.id} connected`, 1],
    [[a, b, c], 'message', `${c.id} connected`, 1],
  );
});

test('/chat: message text reaches everyone as "<id>: <text>"', async (t) => {
  const cs = await chatters(t, 3);
  const [a] = cs;
  a.socket.emit('message', 'hello, room');
  await arrived(cs, 'message', `${a.id}: hello, room`);
  await settled([cs, 'message', `${a.id}: hello, room`, 1]);
  assert.deepEqual(cs.map((c) => c.got.chat_error), [[], [], []]);
});

test('/chat: event1 answers getID with the caller\'s socket id, to the caller only', async (t) => {
  const [a, b] = await chatters(t, 2);
  // With an ack: getID and the ack both carry socket.id of the client.
  const acked = await ack(a.socket, 'event1');
  assert.equal(acked, a.socket.id, 'the ack carries the caller\'s socket id');
  // Without an ack callback, as the tutorial's page calls it.
  b.socket.emit('event1');
  await arrived([a], 'getID', a.socket.id);
  await arrived([b], 'getID', b.socket.id);
  await quiet();
  assert.deepEqual(a.got.getID, [a.socket.id], 'a got its own id, once, and nothing else');
  assert.deepEqual(b.got.getID, [b.socket.id], 'b got its own id, once, and nothing else');
});

test('/chat: input reaches everyone as msg {id, message}', async (t) => {
  const cs = await chatters(t, 3);
  const [, b] = cs;
  b.socket.emit('input', 'to all');
  await arrived(cs, 'msg', { id: b.id, message: 'to all' });
  await settled([cs, 'msg', { id: b.id, message: 'to all' }, 1]);
});

test('/chat: inputWM reaches everyone but the sender', async (t) => {
  const [a, b, c] = await chatters(t, 3);
  const want = { id: a.id, message: 'not to me' };
  a.socket.emit('inputWM', 'not to me');
  await arrived([b, c], 'msg', want);
  await settled([[b, c], 'msg', want, 1], [[a], 'msg', want, 0]);
});

test('/chat: private reaches the one socket named, and no one else', async (t) => {
  const [a, b, c] = await chatters(t, 3);
  const there = { id: a.id, message: 'psst' };
  const back = { id: b.id, message: 'psst back' };
  const res = await ack(a.socket, 'private', b.id, 'psst');
  assert.deepEqual(res, { ok: true });
  // Without an ack callback too, and back the other way.
  b.socket.emit('private', a.id, 'psst back');
  await arrived([b], 'msg', there);
  await arrived([a], 'msg', back);
  await settled([[b], 'msg', there, 1], [[a, c], 'msg', there, 0], [[a], 'msg', back, 1], [[b, c], 'msg', back, 0]);
});

test('/chat: private to an unknown socket is an error to the sender, and reaches no one', async (t) => {
  const cs = await chatters(t, 2);
  const [a] = cs;
  const res = await ack(a.socket, 'private', 'no-such-socket', 'lost');
  assert.equal(res.ok, false, JSON.stringify(res));
  assert.match(res.error, /no-such-socket/, 'the error names the socket id');
  await until(() => a.got.chat_error.length === 1, WAIT_MS, () => `chat_error: ${JSON.stringify(a.got.chat_error)}`);
  assert.equal(a.got.chat_error[0].message, res.error);
  await settled([cs, 'msg', { id: a.id, message: 'lost' }, 0]);
});

test('/chat: an empty message is refused with chat_error and not broadcast', async (t) => {
  const cs = await chatters(t, 2);
  const [a] = cs;
  for (const bad of ['', '   ', 42]) {
    const res = await ack(a.socket, 'message', bad);
    assert.equal(res.ok, false, `message ${JSON.stringify(bad)} acked ${JSON.stringify(res)}`);
    assert.equal(typeof res.error, 'string');
  }
  await until(() => a.got.chat_error.length === 3, WAIT_MS, () => `chat_error: ${JSON.stringify(a.got.chat_error)}`);
  await quiet();
  for (const c of cs) {
    assert.deepEqual(c.got.message.filter((m) => m.startsWith(`${a.id}:`)), [], 'nothing broadcast');
  }
  assert.ok(a.socket.connected, 'a refused message does not cost the connection');
});

test('/chat: on disconnect the others get message "<id> disconnected"', async (t) => {
  const [a, b, c] = await chatters(t, 3);
  const id = c.id;
  c.socket.disconnect();
  await arrived([a, b], 'message', `${id} disconnected`);
  await settled([[a, b], 'message', `${id} disconnected`, 1]);
});

test('/chat and / on one connection (one Manager): each namespace gets its own events', async (t) => {
  const manager = new Manager(URL, { transports: [TRANSPORT], reconnection: false, timeout: WAIT_MS, autoConnect: false });
  const main = manager.socket('/');
  const chat = manager.socket('/chat');
  t.after(() => { main.disconnect(); chat.disconnect(); });
  const mainGot = [];
  const chatGot = [];
  main.on('message', (m) => mainGot.push(m));
  chat.on('message', (m) => chatGot.push(m));
  main.connect();
  chat.connect();
  await Promise.all([connected(main), connected(chat)]);
  assert.equal(main.io.engine, chat.io.engine, 'one Engine.IO session carries both namespaces');
  assert.notEqual(main.id, chat.id, 'a socket id per namespace');

  await until(() => chatGot.includes(`${chat.id} connected`), WAIT_MS, () => `chat got ${JSON.stringify(chatGot)}`);
  chat.emit('message', 'multiplexed');
  await until(() => chatGot.includes(`${chat.id}: multiplexed`), WAIT_MS, () => `chat got ${JSON.stringify(chatGot)}`);
  assert.equal(await ack(chat, 'event1'), chat.id);
  const joined = await ack(main, 'join_post', 'chat-mux');
  assert.equal(joined.ok, true, JSON.stringify(joined));
  await quiet();
  assert.deepEqual(mainGot, [], 'the chat\'s messages stay on /chat');
  assertTransport(chat);
});
