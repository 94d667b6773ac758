// Helpers of the multi-node suite: the official socket.io-client against a
// round-robin proxy over three commentd nodes (COMMENTD_URL), and the Go
// test's control server (COMMENTD_CONTROL): /sticky/N, /drop, /kill/N,
// /nodes, /stats. Run by go test ./cmd/commentd/ -run TestMultinodeSocketIOClient.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through go test ./cmd/commentd/ -run TestMultinodeSocketIOClient`);
  return v;
}

/** The proxy in front of the nodes. */
export const URL = required('COMMENTD_URL');

/** The Go test's control server. */
export const CONTROL = required('COMMENTD_CONTROL');

/** Limit of one wait, in ms: the nodes run under -race. */
export const WAIT_MS = 10_000;

/** A post id of its own. */
export function postId(label = 'post') {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** once resolves with the arguments of the next `event` on socket, or rejects after ms. */
export function once(socket, event, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const on = (...args) => { clearTimeout(timer); resolve(args); };
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${ms}ms (socket ${socket.id ?? 'not connected'})`));
    }, ms);
    socket.once(event, on);
  });
}

/** connected resolves once socket is connected; rejects on connect_error or after WAIT_MS. */
export function connected(socket) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no connection to ${URL} within ${WAIT_MS}ms`)); }, WAIT_MS);
    const onConnect = () => { off(); resolve(); };
    const onError = (err) => { off(); reject(new Error(`connect_error: ${err.message}`, { cause: err })); };
    const off = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

/** until polls cond every 10ms until it holds, or rejects after ms with what(). */
export async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`after ${ms}ms: ${what()}`);
    await sleep(10);
  }
}

/** ack emits event and resolves with the server's acknowledgement. */
export function ack(socket, event, ...args) {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args);
}

/** post sends new_comment with an ack, checks it succeeded and resolves with the comment. */
export async function post(socket, input) {
  const res = await ack(socket, 'new_comment', input);
  assert.equal(res?.ok, true, `new_comment ${JSON.stringify(input)} acked ${JSON.stringify(res)}`);
  return res.comment;
}

/** join joins a post's room and resolves with its load_comments. */
export async function join(socket, p) {
  const loaded = once(socket, 'load_comments');
  const res = await ack(socket, 'join_post', p);
  assert.equal(res?.ok, true, `join_post acked ${JSON.stringify(res)}`);
  return (await loaded)[0];
}

/** control calls the Go test's control server: control('POST', '/drop'). */
export async function control(method, path) {
  const res = await fetch(CONTROL + path, { method, signal: AbortSignal.timeout(60_000) });
  const body = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${res.status} ${body}`);
  return JSON.parse(body);
}
