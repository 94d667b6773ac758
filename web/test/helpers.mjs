// Helpers of the contract suite: clients of the official socket.io-client
// against the commentd at COMMENTD_URL, on the transport COMMENTD_TRANSPORT,
// waits that always time out, and checks of the wire forms of DESIGN.md
// ("Wire contract").
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The socket.io-client package of this run: 'socket.io-client' (4.8, the
 * default), or an alias of package.json for an older one,
 * 'socket.io-client-40' or 'socket.io-client-45' (COMMENTD_SIO_CLIENT).
 */
export const CLIENT = process.env.COMMENTD_SIO_CLIENT || 'socket.io-client';
export const { io, Manager } = await import(CLIENT);

/** The commentd under test, e.g. http://127.0.0.1:8080. */
export const URL = required('COMMENTD_URL');

/**
 * The transport of this run: 'websocket' (the default), or 'polling' for
 * HTTP long-polling that is never upgraded. The Go test runs the suite once
 * with each.
 */
export const TRANSPORT = transport(process.env.COMMENTD_TRANSPORT || 'websocket');

/** A browser origin the server under test allows (cors.origins), if any. */
export const ALLOWED_ORIGIN = process.env.COMMENTD_ALLOWED_ORIGIN ?? '';

/** The test process's control server (POST /mongo/stop, ...), if any. */
export const CONTROL = process.env.COMMENTD_CONTROL ?? '';

/** Default limit of one wait, in ms: generous, the server may run under -race. */
export const WAIT_MS = 10_000;

/** How long "nothing arrives" is watched for, in ms. */
export const GRACE_MS = 500;

export const ID_RE = /^[0-9a-f]{24}$/;
export const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through go test ./cmd/commentd/ -run TestSocketIOClientContract`);
  return v;
}

function transport(name) {
  if (name !== 'websocket' && name !== 'polling') {
    throw new Error(`COMMENTD_TRANSPORT is ${JSON.stringify(name)}: websocket or polling`);
  }
  return name;
}

/** A post id of its own for one test: tests never share a room. */
export function postId(label = 'post') {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** A user id of its own. */
export function userId(label = 'user') {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/**
 * connect opens a new client (its own Manager, its own Engine.IO session) on
 * TRANSPORT only, waits for it to be connected and disconnects it when the
 * test t ends. No automatic reconnection: a connection the server drops
 * fails the test visibly. nsp is the namespace ('/chat'); before(socket)
 * runs before the connection starts, so that listeners it adds miss
 * nothing, not even what the server sends along with the CONNECT reply.
 */
export async function connect(t, opts = {}, { nsp = '/', before } = {}) {
  const socket = io(nsp === '/' ? URL : URL + nsp, {
    transports: [TRANSPORT],
    forceNew: true,
    reconnection: false,
    timeout: WAIT_MS,
    ...opts,
    autoConnect: false,
  });
  t.after(() => socket.disconnect());
  before?.(socket);
  socket.connect();
  await connected(socket);
  return socket;
}

/** connected resolves once socket is connected, or rejects on connect_error or after WAIT_MS. */
export function connected(socket) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no connection to ${URL} within ${WAIT_MS}ms`)); }, WAIT_MS);
    const onConnect = () => { off(); resolve(); };
    const onError = (err) => { off(); reject(new Error(`connect_error from ${URL}: ${err.message}`, { cause: err })); };
    const off = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

/** transportOf names the Engine.IO transport socket is on now: 'websocket' or 'polling'. */
export function transportOf(socket) {
  return socket.io.engine?.transport?.name;
}

/** assertTransport checks that socket is (still) on the transport want, TRANSPORT by default. */
export function assertTransport(socket, want = TRANSPORT) {
  assert.equal(transportOf(socket), want, `socket ${socket.id} is on ${transportOf(socket)}, want ${want}`);
}

/** connectN opens n clients at once. */
export function connectN(t, n, opts) {
  return Promise.all(Array.from({ length: n }, () => connect(t, opts)));
}

/**
 * waitFor resolves with the first argument of the next `event` on socket, or
 * rejects after ms. Call it before the emit that causes the event.
 */
export function waitFor(socket, event, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const onEvent = (arg) => { clearTimeout(timer); resolve(arg); };
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`no ${event} within ${ms}ms (socket ${socket.id ?? 'not connected'})`));
    }, ms);
    socket.once(event, onEvent);
  });
}

/** collect records every `event` on socket, from now on, in arrival order. */
export function collect(socket, event) {
  const got = [];
  socket.on(event, (arg) => got.push(arg));
  return got;
}

/** until polls cond every 10ms until it holds, or rejects after ms with what(). */
export async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`after ${ms}ms: ${what()}`);
    await sleep(10);
  }
}

/** quiet waits GRACE_MS: the window in which something must NOT arrive. */
export function quiet(ms = GRACE_MS) {
  return sleep(ms);
}

/** ack emits event with args and resolves with the server's acknowledgement. */
export function ack(socket, event, ...args) {
  return ackWithin(WAIT_MS, socket, event, ...args);
}

/**
 * ackWithin is ack with a limit of ms. It takes an ack callback, as every
 * socket.io-client 4.x does (emitWithAck came in 4.6, timeout() in 4.4).
 */
export function ackWithin(ms, socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack of ${event} within ${ms}ms (socket ${socket.id ?? 'not connected'})`)), ms);
    socket.emit(event, ...args, (res) => { clearTimeout(timer); resolve(res); });
  });
}

/**
 * join sends join_post with an ack and resolves with {loaded, acked}: the
 * load_comments array and the ack's comments. Once it resolves, the client
 * is in the room.
 */
export async function join(socket, arg) {
  const loaded = waitFor(socket, 'load_comments');
  const res = await ack(socket, 'join_post', arg);
  assert.equal(res?.ok, true, `join_post ${JSON.stringify(arg)} acked ${JSON.stringify(res)}`);
  const comments = await loaded;
  return { loaded: comments, acked: res.comments };
}

/** post sends new_comment with an ack, checks it succeeded and resolves with the comment. */
export async function post(socket, input) {
  const res = await ack(socket, 'new_comment', input);
  assert.equal(res?.ok, true, `new_comment ${JSON.stringify(input).slice(0, 200)} acked ${JSON.stringify(res)}`);
  assertComment(res.comment);
  return res.comment;
}

/** assertComment checks the wire form {_id, postId, userId, content, createdAt}. */
export function assertComment(c, want = {}) {
  assert.equal(typeof c, 'object', `comment is ${JSON.stringify(c)}`);
  assert.deepEqual(Object.keys(c).sort(), ['_id', 'content', 'createdAt', 'postId', 'userId'],
    `comment fields: ${JSON.stringify(c)}`);
  assert.match(c._id, ID_RE, '_id is a 24-hex ObjectId');
  assert.match(c.createdAt, TIME_RE, 'createdAt is RFC 3339 UTC with milliseconds');
  const ms = Date.parse(c.createdAt);
  assert.ok(Number.isFinite(ms), `createdAt ${c.createdAt} parses`);
  assert.equal(parseInt(c._id.slice(0, 8), 16), Math.floor(ms / 1000),
    `_id ${c._id} carries the seconds of createdAt ${c.createdAt}, as an ObjectId does`);
  assert.ok(Math.abs(Date.now() - ms) < 5 * 60_000, `createdAt ${c.createdAt} is about now`);
  for (const [k, v] of Object.entries(want)) assert.equal(c[k], v, `comment.${k}`);
}

/** ids returns the _ids of comments. */
export function ids(comments) {
  return comments.map((c) => c._id);
}

/** control POSTs to the test process's control server, e.g. control('/mongo/stop'). */
export async function control(path) {
  assert.ok(CONTROL, 'COMMENTD_CONTROL is not set');
  const res = await fetch(CONTROL + path, { method: 'POST', signal: AbortSignal.timeout(60_000) });
  const body = await res.text();
  assert.equal(res.status, 200, `POST ${path}: ${res.status} ${body}`);
}
