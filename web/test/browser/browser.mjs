// Helpers of the browser suite: Debian's chromium driven by playwright-core
// (never a downloaded browser), pages of the demo at COMMENTD_URL, waits that
// always time out, and screenshots of every open page when a test fails.
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { chromium } from 'playwright-core';

/** The commentd under test, e.g. http://127.0.0.1:8080. */
export const URL = required('COMMENTD_URL');

/** Debian's chromium; playwright-core is only the driver. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * How chromium must start on a closed machine (no network, as root):
 * without the background-networking flags it keeps trying Google's hosts,
 * which the closed network refuses. Playwright adds --headless and a fresh
 * temporary --user-data-dir itself (it refuses one in args).
 */
export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Default limit of one wait, in ms: generous, the server may run under -race. */
export const WAIT_MS = 10_000;

/** Limit of one test, in ms: far above its waits, so that a wait fails first. */
export const TEST_MS = 60_000;

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through go test ./cmd/commentd/ -run TestBrowser`);
  return v;
}

/** An id of its own for one test (post ids, user ids, chat texts). */
export function unique(label) {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

let browser;
let opened = []; // pages of the running test: {name, page, context}

before(async () => {
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30_000 });
  } catch (err) {
    err.message = `chromium (${CHROMIUM}) did not start: ${err.message}`;
    throw err;
  }
});

afterEach(async () => {
  const done = opened;
  opened = [];
  await Promise.all(done.map((p) => p.context.close().catch(() => {})));
});

after(async () => {
  await browser?.close();
});

/**
 * browserTest is node:test's test with a time limit, and on failure a
 * full-page screenshot of each page the test opened (its folder is printed
 * and added to the error) along with what those pages logged. opts go to
 * node:test (skip).
 */
export function browserTest(name, fn, opts = {}) {
  test(name, { timeout: TEST_MS, ...opts }, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const notes = await evidence(name);
      if (err && typeof err === 'object' && notes) err.message = `${err.message}\n${notes}`;
      throw err;
    }
  });
}

let shotDir = process.env.COMMENTD_SCREENSHOTS || '';

async function evidence(testName) {
  if (!opened.length) return '';
  if (!shotDir) shotDir = mkdtempSync(join(tmpdir(), 'commentd-browser-'));
  const slug = testName.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  const lines = [];
  for (const p of opened) {
    const path = join(shotDir, `${slug}-${p.name}.png`);
    try {
      await p.page.screenshot({ path, fullPage: true, timeout: 5_000 });
      lines.push(`screenshot of page ${p.name}: ${path}`);
    } catch (e) {
      lines.push(`no screenshot of page ${p.name}: ${e.message.split('\n')[0]}`);
    }
    const state = await p.page.locator('#state').textContent({ timeout: 1_000 }).catch(() => '?');
    const error = await p.page.locator('#error').textContent({ timeout: 1_000 }).catch(() => '?');
    lines.push(`  #state: ${state}; #error: ${error || '(none)'}`);
    for (const l of p.log.slice(-20)) lines.push(`  ${p.name} ${l}`);
  }
  const text = lines.join('\n');
  console.error(text);
  return text;
}

/**
 * open loads the protocol demo (/protocol.html) on post in a browser context of its own (its own
 * cookies and connection) and waits until it is connected. ws chooses how
 * the page may use WebSocket:
 *   'on'      as the browser likes (long-polling first, then the upgrade);
 *   'absent'  window.WebSocket removed before any script runs, as in a
 *             browser without WebSocket: socket.io-client stays on polling;
 *   'refused' every WebSocket to /socket.io/ is closed by the network
 *             (playwright's routeWebSocket), as behind a proxy that blocks
 *             them: the upgrade probe fails and the page stays on polling.
 * The returned page records its WebSockets, its polling POST bodies, and
 * what it logged.
 */
export async function open(name, post, { ws = 'on', user = unique(name) } = {}) {
  const p = await newPage(name, async (context, rec) => {
    await context.addInitScript(exposeSockets);
    if (ws === 'absent') {
      await context.addInitScript(() => { window.WebSocket = undefined; });
    } else if (ws === 'refused') {
      await context.routeWebSocket((u) => u.pathname.startsWith('/socket.io/'), (route) => {
        rec.refused.push(route.url());
        route.close({ code: 1008, reason: 'blocked by the test' });
      });
    } else if (ws !== 'on') {
      throw new Error(`ws: 'on', 'absent' or 'refused', not ${ws}`);
    }
  });
  await p.page.goto(`${URL}/protocol.html?post=${encodeURIComponent(post)}`);
  await p.page.locator('#state[data-state="connected"]').waitFor({ timeout: WAIT_MS });
  await p.page.locator('#user-id').fill(user);
  return p;
}

/**
 * openPath loads another page of the server (path, e.g. '/admin/') in a
 * browser context of its own, recorded like open's pages.
 */
export async function openPath(name, path) {
  const p = await newPage(name);
  await p.page.goto(`${URL}${path}`);
  return p;
}

/**
 * newPage opens a page in a browser context of its own, after
 * setup(context, record) (init scripts, routes), and records what it does;
 * the test's end closes it.
 */
export async function newPage(name, setup = async () => {}) {
  const context = await browser.newContext();
  const p = {
    name, context, page: null, log: [],
    sockets: [], // URLs of the WebSockets the page opened
    refused: [], // URLs of the WebSockets refused ('refused' only)
    posts: [], // bodies of the polling POSTs
  };
  opened.push(p);
  await setup(context, p);
  const page = await context.newPage();
  p.page = page;
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(2 * WAIT_MS); // the first page of a cold browser
  page.on('pageerror', (e) => p.log.push(`pageerror: ${e.message}`));
  page.on('console', (m) => p.log.push(`console.${m.type()}: ${m.text()}`));
  page.on('websocket', (w) => p.sockets.push(w.url()));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('transport=polling')) p.posts.push(r.postData() ?? '');
  });
  return p;
}

/**
 * exposeSockets runs in the page before its scripts: it wraps the global io
 * that vendor/socket.io.min.js defines, so that the sockets the page's
 * scripts make are at window.__sockets (app.js's first, then chat.js's /chat,
 * on one Manager). The page itself is not changed.
 */
function exposeSockets() {
  const sockets = [];
  let wrapped;
  Object.defineProperty(window, '__sockets', { value: sockets });
  Object.defineProperty(window, 'io', {
    configurable: true,
    get: () => wrapped,
    set: (io) => {
      wrapped = Object.assign((...args) => {
        const s = io(...args);
        sockets.push(s);
        return s;
      }, io);
    },
  });
}

/** transport is the Engine.IO transport the page's connection uses now. */
export function transport(p) {
  return p.page.evaluate(() => window.__sockets[0]?.io.engine?.transport?.name ?? 'none');
}

/** waitPage waits until fn(arg), run in the page, is truthy and returns it. */
export async function waitPage(p, what, fn, arg, ms = WAIT_MS) {
  try {
    const h = await p.page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    return await h.jsonValue();
  } catch (err) {
    throw new Error(`page ${p.name}: timed out after ${ms}ms waiting for ${what} (${err.message.split('\n')[0]})`);
  }
}

/** until waits for cond() (synchronous, in the test) to hold. */
export async function until(cond, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** moderateWith gives page p the moderator token in its Moderate form and waits until it reconnects. */
export async function moderateWith(p, token) {
  await p.page.locator('#moderation summary').click();
  await p.page.locator('#mod-token').fill(token);
  await p.page.locator('#mod-apply').click();
  await p.page.locator('#mod-state').getByText('moderating').waitFor();
  await p.page.locator('#state[data-state="connected"]').waitFor();
}

/** postComment types content into the page's form and sends it. */
export async function postComment(p, content) {
  await p.page.locator('#content').fill(content);
  await p.page.locator('#send').click();
}

/**
 * waitComment waits until the page shows a comment whose text is exactly
 * content, and returns its data-id.
 */
export async function waitComment(p, content, ms = WAIT_MS) {
  try {
    const h = await p.page.waitForFunction((c) => {
      const li = [...document.querySelectorAll('#comments li.comment')]
        .find((e) => e.querySelector('.content')?.textContent === c);
      return li ? li.dataset.id : false;
    }, content, { timeout: ms, polling: 50 });
    return await h.jsonValue();
  } catch (err) {
    throw new Error(`page ${p.name}: comment ${JSON.stringify(content)} not shown within ${ms}ms (${err.message.split('\n')[0]})`);
  }
}

/** comments returns the comments the page shows, in order: [{id, content}]. */
export function comments(p) {
  return p.page.locator('#comments li.comment').evaluateAll((lis) =>
    lis.map((li) => ({ id: li.dataset.id, content: li.querySelector('.content')?.textContent })));
}

/** waitConfirmed waits until the sender's form was cleared by comment_confirmed. */
export async function waitConfirmed(p) {
  await p.page.waitForFunction(() => document.getElementById('content').value === '', null,
    { timeout: WAIT_MS, polling: 50 });
}

/** errorText is the page's #error text, '' when hidden. */
export async function errorText(p) {
  const e = p.page.locator('#error');
  return (await e.isHidden()) ? '' : (await e.textContent());
}

/** chatId waits for the page's /chat socket id (getID) and returns it. */
export async function chatId(p) {
  const h = await p.page.waitForFunction(() => {
    const t = document.getElementById('chat-id').textContent;
    return t && t !== '…' ? t : false;
  }, null, { timeout: WAIT_MS, polling: 50 });
  return h.jsonValue();
}

/** waitChat waits until the page's chat log holds a line exactly text. */
export async function waitChat(p, text, ms = WAIT_MS) {
  try {
    await p.page.waitForFunction((t) =>
      [...document.querySelectorAll('#chat-log li')].some((li) => li.textContent === t),
    text, { timeout: ms, polling: 50 });
  } catch (err) {
    throw new Error(`page ${p.name}: chat line ${JSON.stringify(text)} not shown within ${ms}ms; log: ${JSON.stringify(await chatLines(p))}`);
  }
}

/** chatLines returns the page's chat log, in order. */
export function chatLines(p) {
  return p.page.locator('#chat-log li').allTextContents();
}

/** chat types text and presses one of the chat buttons. */
export async function chat(p, button, text, target = '') {
  if (target) await p.page.locator('#chat-target').fill(target);
  await p.page.locator('#chat-input').fill(text);
  await p.page.locator(button).click();
}
