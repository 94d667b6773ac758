// XSS corpus: each payload posted as a comment and as a user name (the
// token's name claim; a guest's name is limited to letters, digits and
// -_.:@ by auth.guests) is shown as text on a host page, live and from
// history, and nothing runs: the page records dialogs and a global canary.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserTest, unique, waitPage } from '../browser/browser.mjs';
import { OUT, client, host, post, send, shown, thread, token } from './widget.mjs';

const RUN = 'window.__canary=1;alert(1)';
// Plain payloads: shown exactly as typed.
const PLAIN = [
  `<script>${RUN}</script>`,
  `<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
  `<img src=x onerror="${RUN}">`,
  `<img src="javascript:${RUN}">`,
  `<svg onload=${RUN}>`,
  `<svg><script>${RUN}</script></svg>`,
  `<svg><a xlink:href="javascript:${RUN}"><text x="20" y="20">click</text></a></svg>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=${RUN}>`,
  `<iframe src="javascript:${RUN}"></iframe>`,
  `<iframe srcdoc="<script>parent.__canary=1</script>"></iframe>`,
  `<object data="javascript:${RUN}"></object>`,
  `<embed src="data:text/html,<script>${RUN}</script>">`,
  `<body onload=${RUN}>`,
  `<details open ontoggle=${RUN}>`,
  `<video><source onerror="${RUN}"></video>`,
  `<audio src=x onerror=${RUN}>`,
  `<input autofocus onfocus=${RUN}>`,
  `<marquee onstart=${RUN}>x</marquee>`,
  `<a href="javascript:${RUN}">click me</a>`,
  `<a href="JaVaScRiPt:${RUN}">x</a>`,
  `<a href="&#106;avascript:${RUN}">x</a>`,
  `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
  `<form action="javascript:${RUN}"><button>go</button></form>`,
  `<style>@import 'http://evil.example/x.css';</style>`,
  `<div style="background:url(javascript:${RUN})">x</div>`,
  `<div style="width:expression(${RUN})">x</div>`,
  `<link rel=stylesheet href=http://evil.example/x.css>`,
  `<meta http-equiv="refresh" content="0;url=javascript:${RUN}">`,
  `<base href="javascript:${RUN}//">`,
  `"><script>${RUN}</script>`,
  `'><img src=x onerror=${RUN}>`,
  `</textarea><script>${RUN}</script>`,
  `</style></template><script>${RUN}</script>`,
  `<!--<script>${RUN}</script>-->`,
  `<![CDATA[<script>${RUN}</script>]]>`,
  `{{constructor.constructor('${RUN}')()}}`,
  `\${${RUN}}`,
  `javascript:${RUN}`,
  `data:text/html,<script>${RUN}</script>`,
  `vbscript:msgbox(1)`,
  `&lt;script&gt;${RUN}&lt;/script&gt;`,
  `%3Cscript%3E${RUN}%3C/script%3E`,
  `\u202Egnp.exe\u202C <img src=x onerror=${RUN}>`,
  `safe\u200B<scr\u200Bipt>${RUN}</scr\u200Bipt>`,
  `\u2066<b>isolate</b>\u2069 \u200F<i>rtl mark</i>`,
  `\uFEFF<svg/onload=${RUN}>`,
  `<a href="https://example.com" onclick="${RUN}">looks fine</a>`,
  `https://example.com/"><script>${RUN}</script>`,
  `[click](javascript:${RUN})`,
  `![img](x" onerror="${RUN})`,
  `[x](data:text/html,<script>${RUN}</script>)`,
  `<noscript><p title="</noscript><img src=x onerror=${RUN}>">`,
  `<template><script>${RUN}</script></template>`,
];
// Markdown tricks: the subset applies, its elements hold text only.
const MARKDOWN = [
  [`**<img src=x onerror=${RUN}>**`, `<img src=x onerror=${RUN}>`],
  [`*<script>${RUN}</script>*`, `<script>${RUN}</script>`],
  ['`<script>' + RUN + '</script>`', `<script>${RUN}</script>`],
  ['```\n<svg onload=' + RUN + '>\n```', `<svg onload=${RUN}>`],
  [`> <iframe src="javascript:${RUN}">`, `<iframe src="javascript:${RUN}">`],
  [`- <img src=x onerror=${RUN}>\n- two`, `<img src=x onerror=${RUN}>two`],
  [`1. <a href="javascript:${RUN}">x</a>`, `<a href="javascript:${RUN}">x</a>`],
  [`**[x](javascript:${RUN})**`, `[x](javascript:${RUN})`],
  [`see https://example.com/<script>${RUN}</script>`, `see https://example.com/<script>${RUN}</script>`],
];

const ALLOWED = new Set(['P', 'BR', 'STRONG', 'EM', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A']);

/** nameOf is what the server keeps of a name (comment.CleanName). */
function nameOf(s) {
  const trim = (x) => x.replace(/^[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+|[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]+$/gu, ''); // Go's unicode.IsSpace
  return trim([...trim(s.replace(/\p{Cc}|\u2028|\u2029/gu, ''))].slice(0, 64).join(''));
}

browserTest(`an XSS corpus of ${PLAIN.length + MARKDOWN.length} payloads as comments and names: shown as text, nothing runs`, async () => {
  assert.ok(PLAIN.length + MARKDOWN.length >= 50);
  const postId = unique('xss');
  const live = await host('live', { post: postId });
  const cases = [...PLAIN.map((p) => [p, p]), ...MARKDOWN];
  const want = new Map(); // id → {text, name}
  for (const [i, [payload, text]] of cases.entries()) {
    const s = await client(token({ sub: `xss-${i}-${postId}`, name: payload }));
    const c = await send(s, { postId, content: payload });
    s.close();
    want.set(c._id, { text, name: nameOf(payload), payload });
  }
  // Three typed into the widget's own form, as a guest.
  for (const p of PLAIN.slice(0, 3)) {
    const typed = `${p} ${unique('typed')}`;
    want.set(await post(live, typed, 'typist'), { text: typed, name: 'typist', payload: typed });
  }
  const late = await host('history', { post: postId });
  // History sends the latest 20 (history.limit): the rest by "Load older",
  // once the widget found there are older ones.
  await waitPage(late, 'older comments known', () => document.querySelector('commentd-thread').more !== null);
  for (let i = 0; i < 5 && await thread(late, 'button.older').isVisible(); i++) {
    const n = await thread(late, '.list > li.c').count();
    await thread(late, 'button.older').click();
    await waitPage(late, 'older comments', (k) => document.querySelector('commentd-thread').shadowRoot.querySelectorAll('.list > li.c').length > k, n);
  }

  for (const p of [live, late]) {
    const last = [...want.values()].at(-1);
    await shown(p, last.text);
    const got = await p.page.evaluate(() => {
      const root = document.querySelector('commentd-thread').shadowRoot;
      return [...root.querySelectorAll('li.c')].map((li) => {
        const text = li.querySelector(':scope > .body > .text');
        return {
          id: li.dataset.id,
          text: text.textContent,
          name: li.querySelector(':scope > .body .who').textContent,
          tags: [...text.querySelectorAll('*')].map((e) => e.tagName),
          attrs: [...text.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => `${e.tagName} ${a.name}=${a.value}`)),
          hrefs: [...text.querySelectorAll('a')].map((a) => a.href),
        };
      });
    });
    const byId = new Map(got.map((g) => [g.id, g]));
    for (const [id, w] of want) {
      const g = byId.get(id);
      assert.ok(g, `${p.name}: comment ${JSON.stringify(w.payload)} is shown`);
      assert.equal(g.text, w.text, `${p.name}: ${JSON.stringify(w.payload)} shows as text`);
      assert.equal(g.name, w.name, `${p.name}: the name ${JSON.stringify(w.payload)} shows as text`);
      for (const t of g.tags) assert.ok(ALLOWED.has(t), `${p.name}: ${JSON.stringify(w.payload)} made a <${t}>`);
      for (const a of g.attrs) assert.match(a, /^(A (href|rel|target)|[A-Z]+ class)=/, `${p.name}: attribute ${a}`);
      for (const h of g.hrefs) assert.match(h, /^https?:\/\//, `${p.name}: link ${h}`);
      for (const a of g.attrs.filter((x) => x.startsWith('A rel='))) assert.equal(a, 'A rel=nofollow ugc noopener');
    }
    const root = await p.page.evaluate(() => document.querySelector('commentd-thread').shadowRoot
      .querySelectorAll('script, img, svg, iframe, object, embed, style, link, meta, base, video, audio, math, template, input:not(.name)').length);
    assert.equal(root, 0, `${p.name}: no active element anywhere in the widget`);
    assert.equal(await p.page.evaluate(() => window.__canary), 0, `${p.name}: the canary is untouched`);
    assert.deepEqual(p.dialogs, [], `${p.name}: no dialog opened`);
  }
  // Clicking every link in the history page opens only http(s) pages.
  writeFileSync(join(OUT, 'xss-corpus.txt'), cases.map(([p]) => JSON.stringify(p)).join('\n') + '\n');
  await late.page.locator('commentd-thread').screenshot({ path: join(OUT, 'xss-history.png') });
});
