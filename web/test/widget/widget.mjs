// Helpers of the widget suite: host pages on other origins than commentd
// (served by TestWidget, cmd/commentd/widget_test.go), tokens, posting from
// node with the official socket.io-client, reading the widget's shadow DOM,
// and a check of what the server supports (replies, reactions, counts are
// being built beside the widget: tests of what is missing are skipped).
import { createHmac } from 'node:crypto';
import { afterEach } from 'node:test';
import { io } from 'socket.io-client';
import { newPage, URL, WAIT_MS, waitPage } from '../browser/browser.mjs';

export { URL, WAIT_MS };

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through go test ./cmd/commentd/ -run TestWidget`);
  return v;
}

/** HOST is an origin in cors.origins, FOREIGN one that is not. */
export const HOST = required('HOST_URL');
export const FOREIGN = required('FOREIGN_URL');
/** OUT is where screenshots and sizes go. */
export const OUT = required('WIDGET_OUT');
const SECRET = required('JWT_SECRET');

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** token mints an HS256 JWT for the server's auth.jwt_secret. */
export function token(claims) {
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/**
 * host opens a host page (origin HOST unless told) embedding the widget with
 * params (post, lang, theme, sort, token, css, maxh, counts) and waits until
 * the thread is in state wait ('connected', 'forbidden'; '' for no wait).
 * Dialogs are recorded in p.dialogs and dismissed.
 */
export async function host(name, params, { origin = HOST, setup, wait = 'connected' } = {}) {
  const p = await newPage(name, setup);
  p.dialogs = [];
  p.page.on('dialog', (d) => { p.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const q = new URLSearchParams({ server: URL, ...params });
  await p.page.goto(`${origin}/?${q}`);
  if (wait) {
    await waitPage(p, `the widget ${wait}`, (w) => {
      const t = document.querySelector('commentd-thread');
      return t && t.dataset.state === w && (w !== 'connected' || t.loaded);
    }, wait);
  }
  return p;
}

/** thread is a locator inside the page's widget (CSS pierces its shadow root). */
export const thread = (p, css) => p.page.locator(`commentd-thread ${css}`);

/** item is the widget's list item of comment id. */
export const item = (p, id) => thread(p, `li.c[data-id="${id}"]`);

/** post types text (as name, if given) into the widget's form, sends it and returns its id. */
export async function post(p, text, name) {
  if (name) await thread(p, '.root > form.compose input.name').fill(name);
  await thread(p, '.root > form.compose textarea.content').fill(text);
  await thread(p, '.root > form.compose button.send').click();
  return shown(p, text);
}

/** shown waits until the widget shows a comment whose text is text, and returns its id. */
export function shown(p, text, ms = WAIT_MS) {
  return waitPage(p, `comment ${JSON.stringify(text)}`, (t) => {
    const r = document.querySelector('commentd-thread').shadowRoot;
    const li = [...r.querySelectorAll('li.c')].find((x) => x.querySelector(':scope > .body > .text')?.textContent === t);
    return li ? li.dataset.id : false;
  }, text, ms);
}

/** gone waits until the widget shows no comment id. */
export function gone(p, id) {
  return waitPage(p, `comment ${id} gone`, (i) => !document.querySelector('commentd-thread').shadowRoot.querySelector(`li.c[data-id="${i}"]`), id);
}

const sockets = new Set(); // closed after each test: an open one keeps node running

afterEach(() => {
  for (const s of sockets) s.close();
  sockets.clear();
});

/** client connects the official socket.io-client with tok (or none). */
export async function client(tok) {
  const s = io(URL, { auth: tok ? { token: tok } : {}, transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.add(s);
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}

/** send posts a comment from socket s and returns the ack's comment. */
export async function send(s, msg) {
  const res = await s.timeout(WAIT_MS).emitWithAck('new_comment', msg);
  if (!res?.ok) throw new Error(`new_comment ${JSON.stringify(msg).slice(0, 200)}: ${JSON.stringify(res)}`);
  return res.comment;
}

/** features reports what the server supports of replies, reactions and counts. */
async function features() {
  const s = await client(token({ sub: 'feature-check', name: 'feature check' }));
  const postId = `features-${Date.now()}`;
  try {
    const top = await send(s, { postId, content: 'top' });
    const reply = await send(s, { postId, content: 'reply', parentId: top._id });
    const react = await s.timeout(3000).emitWithAck('react', { postId, commentId: top._id, reaction: '👍', on: true }).catch(() => null);
    const counts = await fetch(`${URL}/api/counts?posts=${postId}`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    return {
      replies: reply.parentId === top._id,
      reactions: !!react?.ok,
      counts: !!counts?.ok,
    };
  } finally {
    s.close();
  }
}

/** FEATURES: what the server has of the contract the widget is built for. */
export const FEATURES = await features();
console.log(`server features: ${JSON.stringify(FEATURES)}`);

/** skipUnless returns a skip reason for node:test when the server lacks feature. */
export function skipUnless(feature) {
  return FEATURES[feature] ? false : `the server does not support ${feature} yet (feature check in widget.mjs)`;
}
