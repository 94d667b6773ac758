// Origin checks (cors.origins) on the handshake of COMMENTD_TRANSPORT: an
// allowed origin (COMMENTD_ALLOWED_ORIGIN), a refused one, the server's own
// origin, and no Origin at all; first as raw HTTP, then with the official
// socket.io-client sending the Origin header (extraHeaders), as a browser
// page of that origin would. A refused origin gets 403 and the Engine.IO
// error body {code: 4, message} naming the origin.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import {
  ALLOWED_ORIGIN, TRANSPORT, URL, WAIT_MS, assertTransport, connect, io, join, post, postId, userId, waitFor,
} from './helpers.mjs';

const REFUSED_ORIGIN = 'http://refused.example';
const SAME_ORIGIN = new globalThis.URL(URL).origin; // http://127.0.0.1:port: the server's own

/**
 * pollingHandshake GETs a new polling session with origin (none if empty)
 * and closes the session it opened, if any.
 */
async function pollingHandshake(origin) {
  const headers = origin ? { Origin: origin } : {};
  const res = await fetch(`${URL}/socket.io/?EIO=4&transport=polling`, { headers, signal: AbortSignal.timeout(WAIT_MS) });
  const body = await res.text();
  if (res.status === 200 && body.startsWith('0{')) {
    const { sid } = JSON.parse(body.slice(1));
    const closed = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST', headers, body: '1', signal: AbortSignal.timeout(WAIT_MS),
    });
    assert.equal(closed.status, 200, `POST close: ${closed.status} ${await closed.text()}`);
    if (origin) {
      assert.equal(closed.headers.get('access-control-allow-origin'), origin, 'the POST carries the CORS headers too');
      assert.equal(closed.headers.get('access-control-allow-credentials'), 'true');
    }
  }
  return { status: res.status, headers: res.headers, body };
}

/**
 * wsHandshake sends a WebSocket handshake with origin (none if empty) and
 * resolves with the answer: 101 and the upgrade (closed at once), or the
 * status and body of a refusal.
 */
function wsHandshake(origin) {
  return new Promise((resolve, reject) => {
    const headers = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    };
    if (origin) headers.Origin = origin;
    const req = http.request(`${URL}/socket.io/?EIO=4&transport=websocket`, { headers, signal: AbortSignal.timeout(WAIT_MS) });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers, body: '' });
    });
    req.on('response', async (res) => {
      let body = '';
      res.setEncoding('utf8');
      for await (const chunk of res) body += chunk;
      resolve({ status: res.statusCode, headers: res.headers, body });
    });
    req.on('error', reject);
    req.end();
  });
}

/** handshake runs the raw handshake of TRANSPORT. */
function handshake(origin) {
  return TRANSPORT === 'polling' ? pollingHandshake(origin) : wsHandshake(origin);
}

function assertAccepted(res, what) {
  if (TRANSPORT === 'polling') {
    assert.equal(res.status, 200, `${what}: ${res.status} ${res.body}`);
    assert.match(res.body, /^0\{"sid":/, `${what}: the open packet`);
  } else {
    assert.equal(res.status, 101, `${what}: ${res.status} ${res.body}`);
    assert.ok(res.headers['sec-websocket-accept'], `${what}: Sec-WebSocket-Accept`);
  }
}

function assertRefused(res, origin) {
  assert.equal(res.status, 403, `${origin}: ${res.status} ${res.body}`);
  assert.deepEqual(JSON.parse(res.body), { code: 4, message: `Forbidden: origin ${origin} is not allowed` });
}

function header(res, name) {
  return TRANSPORT === 'polling' ? res.headers.get(name) : res.headers[name];
}

test(`origin: a ${TRANSPORT} handshake without Origin is accepted`, async () => {
  const res = await handshake('');
  assertAccepted(res, 'no Origin');
  assert.equal(header(res, 'access-control-allow-origin') ?? undefined, undefined, 'no CORS headers without an Origin');
});

test(`origin: a ${TRANSPORT} handshake from an allowed origin is accepted${TRANSPORT === 'polling' ? ', with CORS headers and credentials' : ''}`, async () => {
  assert.ok(ALLOWED_ORIGIN, 'COMMENTD_ALLOWED_ORIGIN is set (client_test.go)');
  const res = await handshake(ALLOWED_ORIGIN);
  assertAccepted(res, ALLOWED_ORIGIN);
  if (TRANSPORT === 'polling') {
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('vary') ?? '', /Origin/, 'Vary: Origin, as the answer depends on it');

    // The preflight a browser sends before a POST with a custom header.
    const pre = await fetch(`${URL}/socket.io/?EIO=4&transport=polling`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
      signal: AbortSignal.timeout(WAIT_MS),
    });
    assert.equal(pre.status, 204, `OPTIONS: ${pre.status}`);
    assert.equal(pre.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/i);
  }
});

test(`origin: a ${TRANSPORT} handshake from the server's own origin is accepted`, async () => {
  assertAccepted(await handshake(SAME_ORIGIN), SAME_ORIGIN);
});

test(`origin: a ${TRANSPORT} handshake from another origin gets 403 naming it`, async () => {
  const res = await handshake(REFUSED_ORIGIN);
  assertRefused(res, REFUSED_ORIGIN);
  assert.equal(header(res, 'access-control-allow-origin') ?? undefined, undefined, 'no CORS headers for a refused origin');
  // Near misses of the allowed origin are other origins.
  for (const o of [ALLOWED_ORIGIN.replace('http:', 'https:'), `${ALLOWED_ORIGIN}:8080`, SAME_ORIGIN.replace(/:\d+$/, ':1')]) {
    assertRefused(await handshake(o), o);
  }
});

test(`origin: socket.io-client on ${TRANSPORT} from an allowed origin and from the same origin works`, async (t) => {
  for (const origin of [ALLOWED_ORIGIN, SAME_ORIGIN]) {
    const [writer, reader] = await Promise.all([
      connect(t, { extraHeaders: { Origin: origin } }),
      connect(t, { extraHeaders: { Origin: origin } }),
    ]);
    const p = postId();
    await join(reader, p);
    const got = waitFor(reader, 'comment_added');
    const c = await post(writer, { postId: p, userId: userId(), content: `from ${origin}` });
    assert.deepEqual(await got, c, origin);
    assertTransport(writer);
  }
});

test(`origin: socket.io-client on ${TRANSPORT} from a refused origin gets connect_error`, async (t) => {
  const socket = io(URL, {
    transports: [TRANSPORT], forceNew: true, reconnection: false, timeout: WAIT_MS, autoConnect: false,
    extraHeaders: { Origin: REFUSED_ORIGIN },
  });
  t.after(() => socket.disconnect());
  const failed = waitFor(socket, 'connect_error');
  let connected = false;
  socket.on('connect', () => { connected = true; });
  socket.connect();
  const err = await failed;
  assert.equal(connected, false);
  if (TRANSPORT === 'polling') {
    assert.equal(err.message, 'xhr poll error');
    assert.equal(err.description, 403, 'the HTTP status');
  } else {
    assert.equal(err.message, 'websocket error');
    assert.match(String(err.description?.message ?? err.description), /403/, 'ws reports the HTTP status');
  }
});

if (TRANSPORT === 'polling') {
  test('origin: an allowed origin upgrades from polling to WebSocket (the Origin goes on both)', async (t) => {
    const socket = await connect(t, { transports: ['polling', 'websocket'], extraHeaders: { Origin: ALLOWED_ORIGIN } });
    if (socket.io.engine.transport.name !== 'websocket') await waitFor(socket.io.engine, 'upgrade');
    assertTransport(socket, 'websocket');
    const p = postId();
    await join(socket, p);
    await post(socket, { postId: p, userId: userId(), content: 'upgraded' });
  });
}
