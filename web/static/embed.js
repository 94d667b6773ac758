// commentd embed: <commentd-thread post="…"> (a live comment section) and
// <commentd-count post="…"> (a post's comment count), each in a shadow root.
// Plain JS served as is. It carries its own small client of the wire
// protocol (Engine.IO v4 over WebSocket, or long-polling when WebSocket is
// blocked; Socket.IO v5 packets, acks, connection state recovery) instead of
// socket.io-client: see README "Embed it on your site" for the sizes.
// Everything the server sends is put in the page as text nodes or built
// elements, never through innerHTML.
(() => {
  "use strict";
  if (window.commentd && window.commentd.Thread) return; // loaded twice

  const script = document.currentScript;
  const defaultServer = script && script.src ? new URL(script.src).origin : location.origin;

  // ---- strings: one table per language ----
  const STRINGS = {
    en: {
      comments: "Comments", count: (n) => (+n === 1 ? "1 comment" : `${n} comments`),
      reading: (n) => `${n} reading`, name: "Your name", comment: "Your comment", post: "Post",
      reply: "Reply", replyTo: (n) => `Reply to ${n}`, edit: "Edit", del: "Delete", save: "Save", cancel: "Cancel",
      saved: "saved", pending: "awaiting approval", hidden: "hidden", edited: "edited", pinned: "pinned",
      deleted: "This comment was deleted.", newer: (n) => (+n === 1 ? "1 new comment" : `${n} new comments`),
      older: "Load older comments", replies: (n) => (+n === 1 ? "View 1 reply" : `View ${n} replies`),
      offline: "Connection lost. Reconnecting…", online: "Back online.",
      forbidden: (o) => `This site (${o}) may not load these comments: the comment server's cors.origins does not list it.`,
      unreachable: "Cannot reach the comment server. Retrying…", refused: (m) => `The comment server refused the connection: ${m}`,
      hide: "Hide", restore: "Restore", approve: "Approve", reject: "Reject", pin: "Pin", unpin: "Unpin",
      react: (r, n) => `React ${r} (${n})`, sort: "Order", oldest: "Oldest first", newest: "Newest first",
      locked: "Comments are closed.", empty: "No comments yet. Be the first.", loading: "Loading comments…",
      newFrom: (n) => `New comment from ${n}`, error: "Could not do that", guest: "guest", needName: "Enter your name first.",
    },
    ko: {
      comments: "댓글", count: (n) => `댓글 ${n}개`,
      reading: (n) => `${n}명이 보는 중`, name: "이름", comment: "댓글 내용", post: "등록",
      reply: "답글", replyTo: (n) => `${n}님에게 답글`, edit: "수정", del: "삭제", save: "저장", cancel: "취소",
      saved: "저장됨", pending: "승인 대기 중", hidden: "숨김", edited: "수정됨", pinned: "고정됨",
      deleted: "삭제된 댓글입니다.", newer: (n) => `새 댓글 ${n}개`,
      older: "이전 댓글 더 보기", replies: (n) => `답글 ${n}개 보기`,
      offline: "연결이 끊어졌습니다. 다시 연결하는 중…", online: "다시 연결되었습니다.",
      forbidden: (o) => `이 사이트(${o})는 댓글을 불러올 수 없습니다. 댓글 서버의 cors.origins에 등록되어 있지 않습니다.`,
      unreachable: "댓글 서버에 연결할 수 없습니다. 다시 시도하는 중…", refused: (m) => `댓글 서버가 연결을 거부했습니다: ${m}`,
      hide: "숨기기", restore: "복원", approve: "승인", reject: "거부", pin: "고정", unpin: "고정 해제",
      react: (r, n) => `${r} 반응 (${n})`, sort: "정렬", oldest: "오래된 순", newest: "최신 순",
      locked: "댓글이 닫혔습니다.", empty: "아직 댓글이 없습니다. 첫 댓글을 남겨 보세요.", loading: "댓글을 불러오는 중…",
      newFrom: (n) => `${n}님의 새 댓글`, error: "처리하지 못했습니다", guest: "guest", needName: "먼저 이름을 입력하세요.",
    },
    es: {
      comments: "Comentarios", count: (n) => (+n === 1 ? "1 comentario" : `${n} comentarios`),
      reading: (n) => `${n} leyendo`, name: "Tu nombre", comment: "Tu comentario", post: "Publicar",
      reply: "Responder", replyTo: (n) => `Responder a ${n}`, edit: "Editar", del: "Borrar", save: "Guardar", cancel: "Cancelar",
      saved: "guardado", pending: "pendiente de aprobación", hidden: "oculto", edited: "editado", pinned: "fijado",
      deleted: "Este comentario fue borrado.", newer: (n) => (+n === 1 ? "1 comentario nuevo" : `${n} comentarios nuevos`),
      older: "Cargar comentarios anteriores", replies: (n) => (+n === 1 ? "Ver 1 respuesta" : `Ver ${n} respuestas`),
      offline: "Conexión perdida. Reconectando…", online: "Conectado de nuevo.",
      forbidden: (o) => `Este sitio (${o}) no puede cargar estos comentarios: cors.origins del servidor no lo incluye.`,
      unreachable: "No se puede contactar con el servidor de comentarios. Reintentando…", refused: (m) => `El servidor rechazó la conexión: ${m}`,
      hide: "Ocultar", restore: "Restaurar", approve: "Aprobar", reject: "Rechazar", pin: "Fijar", unpin: "Desfijar",
      react: (r, n) => `Reaccionar ${r} (${n})`, sort: "Orden", oldest: "Más antiguos", newest: "Más recientes",
      locked: "Los comentarios están cerrados.", empty: "Aún no hay comentarios.", loading: "Cargando comentarios…",
      newFrom: (n) => `Nuevo comentario de ${n}`, error: "No se pudo hacer", guest: "guest", needName: "Primero escribe tu nombre.",
    },
  };
  function pickLang(el) {
    const want = (el.getAttribute("lang") || document.documentElement.lang || navigator.language || "en").toLowerCase();
    const base = want.split("-")[0];
    return STRINGS[base] ? base : "en";
  }

  // ---- the wire: Engine.IO v4 + Socket.IO v5, namespace "/" only ----
  const RS = "\x1e"; // polling payload separator

  /**
   * Client is one connection to a commentd server. on(event, fn) for server
   * events and for connect(recovered), disconnect(reason), failure({kind, message}).
   */
  class Client {
    constructor(server, auth) {
      this.server = server.replace(/\/+$/, "");
      this.auth = auth; // () => object or Promise of one
      this.handlers = {};
      this.acks = new Map();
      this.nextAck = 0;
      this.queue = []; // packets emitted while disconnected
      this.connected = false;
      this.pid = ""; // connection state recovery
      this.offset = "";
      this.tries = 0;
      this.wsBlocked = !window.WebSocket;
      this.stopped = true;
      this.name = ""; // transport in use
    }
    on(ev, fn) { (this.handlers[ev] ||= []).push(fn); return this; }
    fire(ev, ...args) { for (const fn of this.handlers[ev] || []) fn(...args); }

    start() {
      if (!this.stopped) return;
      this.stopped = false;
      this.open();
    }
    open() {
      clearTimeout(this.retry);
      this.t = this.wsBlocked ? new Polling(this) : new WS(this);
      this.name = this.t.name;
    }
    stop() {
      this.stopped = true;
      clearTimeout(this.retry);
      clearTimeout(this.beat);
      if (this.connected) this.send("41");
      this.t && this.t.close();
      this.t = null;
      this.connected = false;
    }
    /** drop closes the transport as a network failure would (tests, debugging). */
    drop() { this.lost("transport close"); }
    restart() { this.stop(); this.pid = ""; this.start(); }

    send(pkt) { this.t && this.t.send(pkt); }
    // onEngine handles one Engine.IO packet.
    onEngine(p) {
      this.heartbeat();
      switch (p[0]) {
        case "0": {
          const h = JSON.parse(p.slice(1));
          this.deadline = h.pingInterval + h.pingTimeout;
          this.heartbeat();
          Promise.resolve(this.auth()).then((a) => {
            const data = Object.assign({}, a);
            if (this.pid) Object.assign(data, { pid: this.pid, offset: this.offset });
            this.send("40" + JSON.stringify(data));
          }, (err) => this.fire("failure", { kind: "refused", message: String(err && err.message || err) }));
          break;
        }
        case "2": this.send("3"); break;
        case "1": this.lost("transport close"); break;
        case "4": this.onPacket(p.slice(1)); break;
      }
    }
    heartbeat() {
      clearTimeout(this.beat);
      if (this.deadline) this.beat = setTimeout(() => this.lost("ping timeout"), this.deadline + 1000);
    }
    // onPacket handles one Socket.IO packet of namespace "/".
    onPacket(s) {
      const type = s[0];
      let i = 1;
      if (s[i] === "/") return; // another namespace: not ours
      while (s[i] >= "0" && s[i] <= "9") i++;
      const id = i > 1 ? +s.slice(1, i) : null;
      const data = s.length > i ? JSON.parse(s.slice(i)) : null;
      if (type === "0") {
        const recovered = !!(data.pid && data.pid === this.pid);
        this.pid = data.pid || "";
        this.connected = true;
        this.tries = 0;
        this.fire("connect", recovered);
        const q = this.queue;
        this.queue = [];
        q.forEach((p) => this.send(p));
      } else if (type === "4") {
        this.stopped = true; // refused by the server (auth): no retry
        this.t && this.t.close();
        this.fire("failure", { kind: "refused", message: (data && data.message) || "refused" });
      } else if (type === "1") {
        this.lost("io server disconnect");
      } else if (type === "2" && Array.isArray(data)) {
        if (this.pid && data.length > 1 && typeof data[data.length - 1] === "string") this.offset = data.pop();
        this.fire(...data);
      } else if (type === "3" && id !== null) {
        const fn = this.acks.get(id);
        this.acks.delete(id);
        fn && fn(...(data || []));
      }
    }
    /** emit sends an event; a function as last argument gets the ack. */
    emit(ev, ...args) {
      let id = "";
      if (typeof args[args.length - 1] === "function") {
        id = this.nextAck++;
        this.acks.set(id, args.pop());
      }
      const pkt = "42" + id + JSON.stringify([ev, ...args]);
      this.connected ? this.send(pkt) : this.queue.push(pkt);
    }
    /** call emits with an ack and resolves with its first argument. */
    call(ev, data, ms = 10000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("timeout")), ms);
        this.emit(ev, data, (res) => { clearTimeout(timer); resolve(res); });
      });
    }
    // lost: the transport is gone; reconnect with backoff (0.5s … 5s).
    lost(reason) {
      clearTimeout(this.beat);
      const was = this.connected;
      this.connected = false;
      const t = this.t;
      this.t = null;
      t && t.close(); // a server's close packet leaves the transport open
      if (this.stopped) return;
      if (was) this.fire("disconnect", reason);
      const delay = Math.min(5000, 500 * 2 ** this.tries++) * (0.5 + Math.random() / 2);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.open(), delay);
    }
    url(transport) {
      return `${this.server}/socket.io/?EIO=4&transport=${transport}`;
    }
  }

  // WS is the WebSocket transport. A socket that closes before the server's
  // open packet counts as blocked: the client goes on with long-polling.
  class WS {
    constructor(c) {
      this.name = "websocket";
      this.c = c;
      const ws = (this.ws = new WebSocket(c.url("websocket").replace(/^http/, "ws")));
      let opened = false;
      ws.onmessage = (e) => {
        if (typeof e.data !== "string" || this.closed) return;
        opened = true;
        c.onEngine(e.data);
      };
      ws.onclose = () => {
        if (this.closed) return;
        this.closed = true;
        if (!opened) {
          c.wsBlocked = true;
          c.t = null;
          if (!c.stopped) c.open();
        } else c.lost("transport close");
      };
    }
    send(p) { if (this.ws.readyState === 1) this.ws.send(p); }
    close() { this.closed = true; try { this.ws.close(); } catch (e) { /* closing */ } }
  }

  // Polling is the Engine.IO long-polling transport: one GET at a time for
  // the server's packets, one POST at a time for ours.
  class Polling {
    constructor(c) {
      this.name = "polling";
      this.c = c;
      this.out = [];
      this.ctl = new AbortController();
      this.poll();
    }
    async poll() {
      const c = this.c;
      let res;
      try {
        res = await fetch(c.url("polling") + (this.sid ? "&sid=" + this.sid : "") + "&t=" + Date.now(), { signal: this.ctl.signal, cache: "no-store" });
      } catch (e) {
        if (this.ctl.signal.aborted) return;
        if (!this.sid) {
          // The browser hides why a cross-origin request failed. The server
          // sends no CORS headers to an origin it refuses: if it answers a
          // request that needs none, it is up, and this page's origin is
          // what it refused.
          const up = await fetch(c.server + "/healthz", { mode: "no-cors", cache: "no-store" }).then(() => true, () => false);
          if (this.ctl.signal.aborted) return;
          if (up && location.origin !== c.server) {
            c.stopped = true;
            c.fire("failure", { kind: "forbidden", message: "" });
          } else {
            c.fire("failure", { kind: "unreachable", message: String(e.message || e) });
          }
        }
        this.fail();
        return;
      }
      if (this.ctl.signal.aborted) return;
      if (!res.ok) {
        let err = {};
        try { err = await res.json(); } catch (e) { /* not JSON */ }
        // Engine.IO code 4: Forbidden, the page's origin is not allowed.
        if (res.status === 403 && err.code === 4) {
          c.stopped = true;
          c.fire("failure", { kind: "forbidden", message: err.message || "" });
        }
        this.fail();
        return;
      }
      const body = await res.text().catch(() => null);
      if (body === null || this.ctl.signal.aborted) return this.fail();
      for (const p of body.split(RS)) {
        if (!this.sid && p[0] === "0") this.sid = JSON.parse(p.slice(1)).sid;
        if (this.ctl.signal.aborted) return;
        c.onEngine(p);
      }
      if (!this.ctl.signal.aborted) this.poll();
    }
    send(p) {
      this.out.push(p);
      this.flush();
    }
    async flush() {
      if (this.posting || !this.out.length || !this.sid) return;
      const body = this.out.join(RS);
      this.out = [];
      this.posting = true;
      try {
        const res = await fetch(this.c.url("polling") + "&sid=" + this.sid, { method: "POST", body, signal: this.ctl.signal, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
        if (!res.ok) throw new Error("HTTP " + res.status);
      } catch (e) {
        return this.fail();
      } finally {
        this.posting = false;
      }
      this.flush();
    }
    fail() {
      if (this.ctl.signal.aborted) return;
      this.close();
      this.c.lost("transport error");
    }
    close() { this.ctl.abort(); }
  }

  // ---- text: links and a small Markdown subset, built as DOM nodes ----
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  const INLINE = /`([^`\n]+)`|\*\*(?=\S)([^*\n]+?)\*\*|\*(?=[^\s*])([^*\n]+?)\*|(https?:\/\/[^\s<>"'`]+)/g;
  function inline(text, depth = 0) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] != null) out.push(el("code", null, m[1]));
      else if (m[2] != null || m[3] != null) {
        const e = el(m[2] != null ? "strong" : "em");
        const inner = m[2] != null ? m[2] : m[3];
        depth < 2 ? e.append(...inline(inner, depth + 1)) : e.append(inner);
        out.push(e);
      } else {
        let raw = m[4];
        const trail = /[.,;:!?)\]]+$/.exec(raw);
        if (trail) { raw = raw.slice(0, -trail[0].length); last -= trail[0].length; }
        out.push(link(raw));
      }
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
  function link(raw) {
    let u;
    try { u = new URL(raw); } catch (e) { return raw; }
    if (u.protocol !== "http:" && u.protocol !== "https:") return raw;
    const a = el("a", null, raw);
    a.href = u.href;
    a.rel = "nofollow ugc noopener";
    a.target = "_blank";
    return a;
  }
  const LIST = /^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+/;
  // markdown renders text: paragraphs, ``` code blocks, > quotes, lists.
  function markdown(text, depth = 0) {
    const frag = document.createDocumentFragment();
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    for (let i = 0; i < lines.length;) {
      const l = lines[i];
      if (/^```/.test(l)) {
        const buf = [];
        for (i++; i < lines.length && !/^```/.test(lines[i]); i++) buf.push(lines[i]);
        i++;
        const pre = el("pre");
        pre.append(el("code", null, buf.join("\n")));
        frag.append(pre);
      } else if (/^>/.test(l) && depth < 3) {
        const buf = [];
        for (; i < lines.length && /^>/.test(lines[i]); i++) buf.push(lines[i].replace(/^> ?/, ""));
        const q = el("blockquote");
        q.append(markdown(buf.join("\n"), depth + 1));
        frag.append(q);
      } else if (LIST.test(l)) {
        const ordered = /^\s*\d/.test(l);
        const list = el(ordered ? "ol" : "ul");
        for (; i < lines.length && LIST.test(lines[i]) && /^\s*\d/.test(lines[i]) === ordered; i++) {
          const li = el("li");
          li.append(...inline(lines[i].replace(LIST, "")));
          list.append(li);
        }
        frag.append(list);
      } else if (!l.trim()) {
        i++;
      } else {
        const p = el("p");
        for (let first = true; i < lines.length && lines[i].trim() && !/^```/.test(lines[i]) && !(/^>/.test(lines[i]) && depth < 3) && !LIST.test(lines[i]); i++, first = false) {
          if (!first) p.append(el("br"));
          p.append(...inline(lines[i]));
        }
        frag.append(p);
      }
    }
    return frag;
  }

  // ---- looks: light and dark, contrast at least 4.5:1 (WCAG AA) ----
  const CSS = `
:host{all:initial;display:block;contain:content;font:15px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK KR",sans-serif;
--bg:#fff;--fg:#1b1b1f;--muted:#57575f;--line:#d4d4da;--soft:#f3f4f6;--accent:#0b57d0;--on-accent:#fff;--warn:#8a4b00;--ok:#1e6b34;--err:#a3161a;--err-bg:#fdecec;--mark:#fff7d6}
:host([hidden]){display:none}
:host([theme=dark]){--bg:#16181d;--fg:#e9eaee;--muted:#a9adb8;--line:#3a3e48;--soft:#22252c;--accent:#8ab4f8;--on-accent:#0b1a33;--warn:#f3b664;--ok:#7fd19a;--err:#ffb4ab;--err-bg:#3b1a1a;--mark:#3a3520}
@media (prefers-color-scheme:dark){:host(:not([theme=light])){--bg:#16181d;--fg:#e9eaee;--muted:#a9adb8;--line:#3a3e48;--soft:#22252c;--accent:#8ab4f8;--on-accent:#0b1a33;--warn:#f3b664;--ok:#7fd19a;--err:#ffb4ab;--err-bg:#3b1a1a;--mark:#3a3520}}
*{box-sizing:border-box}
[hidden]{display:none!important}
.root{display:block;background:var(--bg);color:var(--fg);padding:1rem;border-radius:8px}
header{display:flex;gap:.75rem;align-items:baseline;flex-wrap:wrap}
h2{font-size:1.15rem;margin:0}
.meta,.info,.muted{color:var(--muted);font-size:.85rem}
.meta{overflow-wrap:anywhere}
.info{margin-left:auto;display:flex;gap:.75rem;align-items:center}
select,input,textarea,button{font:inherit;color:inherit}
select,input,textarea{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.35rem .5rem}
textarea{width:100%;min-height:4.5rem;resize:vertical;display:block}
label{display:block;font-size:.85rem;color:var(--muted);margin:.5rem 0 .2rem}
button{cursor:pointer;border-radius:6px;border:1px solid var(--line);background:var(--soft);padding:.25rem .6rem}
button.primary{background:var(--accent);color:var(--on-accent);border-color:var(--accent);font-weight:600;padding:.4rem 1rem}
button.link{border:0;background:none;color:var(--accent);padding:.1rem .3rem;font-size:.85rem}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.row{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin-top:.5rem}
.banner{margin:.5rem 0;padding:.5rem .75rem;border-radius:6px;background:var(--soft);border:1px solid var(--line)}
.banner.bad{background:var(--err-bg);color:var(--err);border-color:var(--err)}
.err{color:var(--err);font-size:.9rem;margin:.3rem 0}
.list{list-style:none;margin:.75rem 0 0;padding:0;max-height:var(--commentd-max-height,40rem);overflow-y:auto}
.replies{list-style:none;margin:.25rem 0 0 .4rem;padding:0 0 0 .9rem;border-left:2px solid var(--line)}
.c{padding:.6rem 0;border-top:1px solid var(--line)}
.replies .c{border-top:0;padding:.4rem 0}
.c.new>.body{background:var(--mark);transition:background 2s}
.c.pending>.body,.c.hidden>.body{border-left:3px solid var(--warn);padding-left:.5rem}
.who{font-weight:600;color:var(--fg);unicode-bidi:isolate}
.avatar{display:inline-grid;place-items:center;width:1.6rem;height:1.6rem;border-radius:50%;background:var(--soft);border:1px solid var(--line);color:var(--fg);font-size:.8rem;margin-right:.4rem;vertical-align:middle}
.status{color:var(--warn)}
.ok{color:var(--ok)}
.text{overflow-wrap:anywhere;unicode-bidi:isolate}
.text p{margin:.25rem 0}
.text pre{background:var(--soft);padding:.5rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap}
.text code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:var(--soft);padding:0 .2rem;border-radius:3px}
.text blockquote{margin:.3rem 0;padding-left:.7rem;border-left:3px solid var(--line);color:var(--muted)}
.text ul,.text ol{margin:.25rem 0;padding-left:1.4rem}
.text a{color:var(--accent);unicode-bidi:isolate}
.deleted{font-style:italic;color:var(--muted)}
.actions{display:flex;gap:.2rem;flex-wrap:wrap;align-items:center;margin-top:.2rem}
.react{font-size:.85rem;padding:.05rem .45rem;border-radius:999px}
.emoji{font-family:"Apple Color Emoji","Segoe UI Emoji","Noto Color Emoji",sans-serif}
.react[aria-pressed=true]{border-color:var(--accent);color:var(--fg);background:var(--bg);box-shadow:inset 0 0 0 1px var(--accent)}
.pill{position:sticky;top:0;display:block;margin:.5rem auto;z-index:1}
.pill.primary{padding:.25rem .9rem}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.compose{margin-top:.5rem}
`;

  // ---- identity: what the widget can tell from the token (the server checks) ----
  function claims(token) {
    const part = token && token.split(".")[1];
    if (!part) return null;
    try {
      const json = decodeURIComponent(escape(atob(part.replace(/-/g, "+").replace(/_/g, "/"))));
      return JSON.parse(json);
    } catch (e) { return null; }
  }

  // adopt gives a shadow root its styles: a constructed sheet (allowed by a
  // strict style-src CSP of the host page), else a <style>.
  const sheets = new Map();
  function adopt(root, css) {
    try {
      let sh = sheets.get(css);
      if (!sh) {
        sh = new CSSStyleSheet();
        sh.replaceSync(css);
        sheets.set(css, sh);
      }
      root.adoptedStyleSheets = [sh];
      return [];
    } catch (e) {
      return [el("style", null, css)];
    }
  }

  let globalToken = null; // commentd.setToken
  const threads = new Set();
  // storage: localStorage, or sessionStorage (session: true); either may
  // throw (sandboxed frames, blocked storage): then nothing is kept.
  const storage = (session) => ({
    get: (k) => { try { return (session ? sessionStorage : localStorage).getItem("commentd:" + k); } catch (e) { return null; } },
    set: (k, v) => { try { (session ? sessionStorage : localStorage).setItem("commentd:" + k, v); } catch (e) { /* not kept */ } },
  });
  const store = storage(false);
  const session = storage(true);

  const REACTIONS = ["👍", "❤️", "😂", "😮", "😢"];
  const MOD = ["moderator", "admin"];

  /** Thread is <commentd-thread>: one post's live comment section. */
  class Thread extends HTMLElement {
    static get observedAttributes() { return ["post", "lang", "token", "sort", "server"]; }
    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.items = new Map(); // comment id → {c, li}
      this.orphans = new Map(); // parent id → replies seen before their parent
      this.mine = new Set(JSON.parse(session.get("mine") || "[]"));
      this.reacted = new Set(JSON.parse(store.get("reacted") || "[]"));
      this.unseen = 0;
      this.more = null; // are there older comments: null not known yet
    }
    get server() { return (this.getAttribute("server") || defaultServer).replace(/\/+$/, ""); }
    get post() { return this.getAttribute("post") || ""; }
    get order() { return this.getAttribute("sort") === "newest" ? "newest" : "oldest"; }
    get token() {
      if (globalToken != null) return globalToken;
      return this.getAttribute("token") || "";
    }
    /** transport is the Engine.IO transport in use ("websocket", "polling", ""). */
    get transport() { return this.client && this.client.connected ? this.client.name : ""; }

    connectedCallback() {
      threads.add(this);
      if (!this.root) this.build();
      this.connect();
    }
    disconnectedCallback() {
      threads.delete(this);
      this.client && this.client.stop();
      this.client = null;
    }
    attributeChangedCallback(name, old, val) {
      if (!this.root || old === val) return;
      if (name === "sort") return this.resort();
      if (name === "lang") { this.build(); this.redraw(); return; }
      this.reset();
    }
    /** reset reconnects from scratch: another post, server or token. */
    reset() {
      if (!this.isConnected) return;
      this.client && this.client.stop();
      this.client = null;
      this.clear();
      this.connect();
    }
    clear() {
      this.items.clear();
      this.orphans.clear();
      this.lastId = "";
      this.more = null;
      this.loaded = false;
      this.list.replaceChildren();
      this.count = null;
      this.updateHeader();
    }

    async authPayload() {
      let token = this.token;
      const fn = this.getAttribute("token-fn");
      if (!token && fn && typeof window[fn] === "function") token = (await window[fn]()) || "";
      this.claims = claims(token);
      this.tokenKind = token ? (this.claims ? "jwt" : "opaque") : "";
      this.updateForm();
      return token ? { token } : {};
    }
    me() {
      if (this.claims && this.claims.sub) return [this.claims.sub];
      const n = this.nameInput.value.trim();
      return n ? ["guest:" + n, n] : [];
    }
    isMine(c) { return this.mine.has(c._id) || (!!c.userId && this.me().includes(c.userId)); }
    isModerator() {
      if (this.tokenKind === "opaque") return true; // the admin token (the server checks)
      const r = this.claims && this.claims.roles;
      return Array.isArray(r) ? r.some((x) => MOD.includes(x)) : MOD.includes(r);
    }

    connect() {
      if (!this.post) return;
      const c = (this.client = new Client(this.server, () => this.authPayload()));
      c.on("connect", (recovered) => {
        this.recovered = recovered; // the server kept this socket's rooms and replays what it missed
        this.banner("", false);
        if (this.wasDown) this.flash(this.s.online);
        this.wasDown = false;
        this.form.hidden = false;
        // batch: a busy post's comments come a window at a time (comments_added).
        if (!recovered) c.emit("join_post", this.lastId ? { postId: this.post, since: this.lastId, batch: true } : { postId: this.post, batch: true });
        this.dataset.state = "connected";
      });
      c.on("disconnect", () => {
        this.wasDown = true;
        this.dataset.state = "offline";
        this.banner(this.s.offline, false);
      });
      c.on("failure", ({ kind, message }) => {
        this.dataset.state = kind;
        if (kind === "forbidden") {
          this.banner(this.s.forbidden(location.origin), true);
          this.form.hidden = true;
          this.list.replaceChildren();
        } else if (kind === "refused") this.banner(this.s.refused(message), true);
        else this.banner(this.s.unreachable, true);
      });
      c.on("load_comments", (cs) => {
        const first = !this.items.size;
        cs.forEach((x) => this.add(x, { quiet: true }));
        if (first && this.more === null && cs.length) this.probeOlder();
        this.loaded = true;
        this.updateHeader();
        if (first) this.toEdge();
      });
      c.on("comment_added", (x) => x.postId === this.post && this.add(x));
      c.on("comments_added", (xs) => xs.forEach((x) => x.postId === this.post && this.add(x)));
      c.on("moderation_queue", (x) => x.postId === this.post && this.add(x));
      c.on("comment_updated", (x) => x.postId === this.post && this.add(x));
      c.on("comment_removed", (r) => r.postId === this.post && this.removeComment(r.commentId));
      const reactions = (r) => {
        const it = r.postId === this.post && this.items.get(r.commentId);
        if (it) { it.c.reactions = r.reactions; this.draw(it); }
      };
      c.on("comment_reactions", reactions);
      c.on("comments_reactions", (rs) => rs.forEach(reactions));
      c.on("comment_persisted", ({ ids }) => ids.forEach((id) => {
        const it = this.items.get(id);
        if (it && !it.saved) { it.saved = true; this.draw(it); }
      }));
      c.on("post_info", (info) => {
        if (info.postId !== this.post) return;
        this.info = Object.assign(this.info || {}, info);
        if (typeof info.count === "number") this.count = info.count;
        this.updateHeader();
        this.updateForm();
      });
      c.start();
    }

    // ---- the frame ----
    build() {
      this.s = STRINGS[pickLang(this)];
      const lang = pickLang(this);
      const s = this.s;
      this.dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
      this.nums = new Intl.NumberFormat(lang);
      const style = adopt(this.shadowRoot, CSS);
      const root = (this.root = el("section", "root"));
      root.lang = lang;
      root.setAttribute("part", "thread");
      const head = el("header");
      this.heading = el("h2", null, s.comments);
      const id = "o" + Math.random().toString(36).slice(2);
      const sortLabel = el("label", "sr", s.sort);
      sortLabel.htmlFor = id + "s";
      this.sortSel = el("select");
      this.sortSel.id = id + "s";
      for (const v of ["oldest", "newest"]) {
        const o = el("option", null, s[v]);
        o.value = v;
        this.sortSel.append(o);
      }
      this.sortSel.value = this.order;
      this.sortSel.addEventListener("change", () => this.setAttribute("sort", this.sortSel.value));
      this.infoEl = el("span", "muted");
      const info = el("div", "info");
      info.append(this.infoEl, sortLabel, this.sortSel);
      head.append(this.heading, info);
      this.bannerEl = el("div", "banner");
      this.bannerEl.setAttribute("role", "status");
      this.bannerEl.hidden = true;
      this.live = el("div", "sr");
      this.live.setAttribute("aria-live", "polite");
      this.pill = el("button", "pill primary");
      this.pill.type = "button";
      this.pill.hidden = true;
      this.pill.addEventListener("click", () => this.toEdge(true));
      this.olderBtn = el("button", "link older", s.older);
      this.olderBtn.type = "button";
      this.olderBtn.hidden = true;
      this.olderBtn.addEventListener("click", () => this.loadOlder());
      const list = el("ol", "list");
      list.setAttribute("aria-label", s.comments);
      list.addEventListener("scroll", () => { if (this.atEdge()) this.seen(); });
      if (this.list) list.append(...this.list.children);
      this.list = list;
      this.form = this.composer(null);
      this.form.hidden = true;
      root.append(head, this.bannerEl, this.form, this.pill, list, this.live);
      this.placeOlder();
      this.shadowRoot.replaceChildren(...style, root);
      this.updateHeader();
    }
    // composer is the form for a new comment, or a reply to parent.
    composer(parent) {
      const s = this.s;
      const form = el("form", "compose");
      const id = "f" + Math.random().toString(36).slice(2);
      const nameRow = el("div", "name-row");
      const nl = el("label", null, s.name);
      nl.htmlFor = id + "n";
      const name = el("input", "name");
      name.id = id + "n";
      name.maxLength = 64;
      name.autocomplete = "nickname";
      name.value = store.get("name") || "";
      name.addEventListener("change", () => store.set("name", name.value.trim()));
      nameRow.append(nl, name);
      const tl = el("label", null, parent ? s.replyTo(this.nameOf(parent)) : s.comment);
      tl.htmlFor = id + "t";
      const area = el("textarea", "content");
      area.id = id + "t";
      area.maxLength = 2000;
      area.required = true;
      area.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
      const send = el("button", "primary send", parent ? s.reply : s.post);
      send.type = "submit";
      const err = el("p", "err");
      err.setAttribute("role", "alert");
      err.hidden = true;
      const row = el("div", "row");
      row.append(send);
      if (parent) {
        const cancel = el("button", null, s.cancel);
        cancel.type = "button";
        cancel.addEventListener("click", () => form.remove());
        row.append(cancel);
      }
      form.append(nameRow, tl, area, row, err);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.postFrom(form, area, name, err, parent);
      });
      if (!parent) this.nameInput = name;
      this.updateForm(form);
      return form;
    }
    updateForm(form) {
      const forms = form ? [form] : [...this.shadowRoot.querySelectorAll("form.compose")];
      for (const f of forms) {
        const nameRow = f.querySelector(".name-row");
        if (nameRow) nameRow.hidden = !!this.tokenKind;
        const locked = this.info && this.info.locked && !this.isModerator();
        for (const x of f.querySelectorAll("textarea,button.send")) x.disabled = !!locked;
        f.querySelector("textarea").placeholder = locked ? this.s.locked : "";
      }
    }
    async postFrom(form, area, name, err, parent) {
      const content = area.value;
      if (!content.trim()) return;
      const msg = { postId: this.post, content, clientId: "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8) };
      if (parent) msg.parentId = parent._id;
      if (!this.tokenKind) {
        const n = (this.nameInput.value || name.value).trim() || this.s.guest;
        store.set("name", n);
        msg.userId = "guest:" + n;
        msg.userName = n;
      }
      const send = form.querySelector("button.send");
      send.disabled = true;
      try {
        const res = await this.client.call("new_comment", msg, 15000);
        if (res && res.ok) {
          area.value = "";
          err.hidden = true;
          this.mine.add(res.comment._id);
          session.set("mine", JSON.stringify([...this.mine].slice(-200)));
          this.add(res.comment, { own: true });
          if (parent) form.remove();
          this.dispatchEvent(new CustomEvent("posted", { detail: res.comment, bubbles: true, composed: true }));
        } else this.showError(err, res);
      } catch (e) {
        this.showError(err, { error: { message: e.message } });
      } finally {
        send.disabled = false;
      }
    }
    showError(errEl, res) {
      const e = (res && res.error) || {};
      errEl.textContent = `${this.s.error}: ${e.message || ""}${e.code ? ` (${e.code})` : ""}`;
      errEl.hidden = false;
    }
    banner(text, bad) {
      this.bannerEl.textContent = text;
      this.bannerEl.hidden = !text;
      this.bannerEl.classList.toggle("bad", !!bad);
      this.bannerEl.setAttribute("role", bad ? "alert" : "status");
    }
    flash(text) {
      this.banner(text, false);
      clearTimeout(this.flashT);
      this.flashT = setTimeout(() => { if (this.client && this.client.connected) this.banner("", false); }, 2500);
    }
    updateHeader() {
      if (!this.heading) return;
      // The server's count (post_info) comes at most once a second; the
      // comments shown are never more than there are.
      const shown = [...this.items.values()].filter((x) => !x.c.deleted && !x.c.status).length;
      const n = Math.max(this.count || 0, shown);
      this.heading.textContent = this.loaded ? this.s.count(this.nums.format(n)) : this.s.loading;
      const v = this.info && this.info.viewers;
      this.infoEl.textContent = v ? this.s.reading(this.nums.format(v)) : "";
      this.olderBtn.hidden = !this.more;
      if (this.loaded && this.lastCount !== n) {
        this.lastCount = n;
        const detail = { postId: this.post, count: n };
        this.dispatchEvent(new CustomEvent("count", { detail, bubbles: true, composed: true }));
      }
    }

    // ---- comments ----
    nameOf(c) { return c.userName || (c.userId || "").replace(/^guest:/, "") || "?"; }
    add(c, { quiet = false, own = false } = {}) {
      if (!c || !c._id) return;
      const it = this.items.get(c._id);
      if (it) {
        if ((c.v || 1) < (it.c.v || 1)) return; // older than shown
        it.c = Object.assign({}, c, c.replies == null && it.c.replies ? { replies: it.c.replies } : {});
        this.draw(it);
        return;
      }
      const li = el("li", "c");
      li.dataset.id = c._id;
      li.setAttribute("part", "comment");
      const item = { c, li, body: el("div", "body"), kids: el("ol", "replies") };
      item.kids.hidden = true;
      li.append(item.body, item.kids);
      this.items.set(c._id, item);
      if (c._id > (this.lastId || "")) this.lastId = c._id;
      this.draw(item);
      const parent = c.parentId && this.items.get(c.parentId);
      if (c.parentId && !parent) {
        // A reply whose parent is not shown yet: kept until it is.
        const o = this.orphans.get(c.parentId) || [];
        o.push(item);
        this.orphans.set(c.parentId, o);
      } else if (parent) {
        this.insert(parent.kids, li, c._id, "oldest");
        parent.kids.hidden = false;
        this.draw(parent); // its "View N replies" counts the ones shown
      } else {
        const edge = this.atEdge();
        this.insert(this.list, li, c._id, this.order);
        if (!quiet) {
          if (own || edge) this.toEdge();
          else { this.unseen++; this.showPill(); }
        }
      }
      for (const r of this.orphans.get(c._id) || []) {
        this.insert(item.kids, r.li, r.c._id, "oldest");
        item.kids.hidden = false;
      }
      this.orphans.delete(c._id);
      if (!quiet) {
        li.classList.add("new");
        setTimeout(() => li.classList.remove("new"), 2000);
        if (!own) this.live.textContent = this.s.newFrom(this.nameOf(c));
      }
      this.updateHeader();
    }
    insert(list, li, id, order) {
      const after = [...list.children].find((x) => (order === "oldest" ? x.dataset.id > id : x.dataset.id < id));
      list.insertBefore(li, after || null);
    }
    removeComment(id) {
      const it = this.items.get(id);
      if (!it) return;
      it.li.remove();
      this.items.delete(id);
      this.updateHeader();
    }
    // placeOlder puts "Load older" where older comments go: above the list
    // when oldest come first, below it when newest do.
    placeOlder() {
      this.order === "oldest" ? this.list.before(this.olderBtn) : this.list.after(this.olderBtn);
    }
    resort() {
      this.sortSel.value = this.order;
      this.placeOlder();
      const top = [...this.list.children].sort((a, b) => (a.dataset.id < b.dataset.id) === (this.order === "oldest") ? -1 : 1);
      this.list.append(...top);
      this.toEdge();
    }
    redraw() { for (const it of this.items.values()) this.draw(it); }
    atEdge() {
      const l = this.list;
      if (!l) return true;
      return this.order === "oldest" ? l.scrollHeight - l.scrollTop - l.clientHeight < 40 : l.scrollTop < 40;
    }
    toEdge(focus) {
      const l = this.list;
      l.scrollTop = this.order === "oldest" ? l.scrollHeight : 0;
      this.seen();
      if (focus) l.focus && l.focus();
    }
    seen() { this.unseen = 0; this.pill.hidden = true; }
    showPill() {
      this.pill.textContent = this.s.newer(this.nums.format(this.unseen));
      this.pill.hidden = false;
    }

    // draw (re)builds one comment's body from its state.
    draw(it) {
      const { c } = it;
      const s = this.s;
      const meta = el("div", "meta");
      const avatar = el("span", "avatar", this.nameOf(c).slice(0, 1).toUpperCase());
      avatar.setAttribute("aria-hidden", "true");
      const who = el("bdi", "who", c.deleted ? "—" : this.nameOf(c));
      const when = el("time", "when", this.dates.format(new Date(c.createdAt)));
      when.dateTime = c.createdAt;
      meta.append(avatar, who, " · ", when);
      const mine = this.isMine(c);
      const flag = (text, cls) => meta.append(" · ", el("span", cls, text));
      if (c.editedAt) flag(s.edited, "edited");
      if (c.pinned) flag(s.pinned, "pinned");
      if (c.status) flag(c.status === "pending" ? s.pending : s.hidden, "status");
      if (it.saved && mine) flag("✓ " + s.saved, "ok saved");
      it.li.classList.toggle("pending", c.status === "pending");
      it.li.classList.toggle("hidden", c.status === "hidden");
      let text;
      if (c.deleted) text = el("p", "text deleted", s.deleted);
      else {
        text = el("div", "text");
        text.append(markdown(c.content || ""));
      }
      const actions = el("div", "actions");
      const act = (label, fn, cls = "link") => {
        const b = el("button", cls, label);
        b.type = "button";
        b.addEventListener("click", fn);
        actions.append(b);
        return b;
      };
      if (!c.deleted && c.status !== "pending") {
        const reactions = Object.assign(Object.fromEntries(REACTIONS.slice(0, 1).map((r) => [r, 0])), c.reactions || {});
        const allowed = (this.getAttribute("reactions") || "").split(",").map((x) => x.trim()).filter(Boolean);
        for (const r of allowed.length ? allowed : REACTIONS) if (!(r in reactions)) reactions[r] = 0;
        for (const [r, n] of Object.entries(reactions)) {
          const on = this.reacted.has(c._id + r);
          const b = act("", () => this.react(c, r, !on), "react");
          b.append(el("span", "emoji", r), n ? " " + this.nums.format(n) : "");
          b.setAttribute("aria-pressed", String(on));
          b.setAttribute("aria-label", s.react(r, this.nums.format(n)));
          b.dataset.reaction = r;
        }
        act(s.reply, () => this.replyTo(it));
      }
      if (!c.deleted && mine) act(s.edit, () => this.edit(it, text, actions));
      const mod = this.isModerator();
      if (!c.deleted && (mine || mod)) act(s.del, () => this.change("delete_comment", { commentId: c._id }));
      if (mod && !c.deleted) {
        if (c.status === "pending") {
          act(s.approve, () => this.moderate(c, "approve"));
          act(s.reject, () => this.moderate(c, "reject"));
        } else {
          act(c.status === "hidden" ? s.restore : s.hide, () => this.moderate(c, c.status === "hidden" ? "restore" : "hide"));
          act(c.pinned ? s.unpin : s.pin, () => this.moderate(c, c.pinned ? "unpin" : "pin"));
        }
      }
      const shown = it.kids.children.length;
      if (c.replies > shown && !c.repliesLoaded) act(s.replies(this.nums.format(c.replies)), () => this.loadReplies(it), "link more-replies");
      it.body.replaceChildren(meta, text, actions);
    }
    // change sends a change of a comment; a guest (no token) names itself
    // as it posted, guest:<name>. It resolves with the ack, or null.
    async change(event, payload) {
      const msg = Object.assign({ postId: this.post }, payload);
      if (!this.tokenKind && this.me().length) msg.userId = this.me()[0];
      try {
        const res = await this.client.call(event, msg);
        if (res && !res.ok) this.flashError(res);
        return res && res.ok ? res : null;
      } catch (e) {
        this.flashError({ error: { message: e.message } });
        return null;
      }
    }
    flashError(res) {
      const e = (res && res.error) || {};
      this.banner(`${this.s.error}: ${e.message || ""}${e.code ? ` (${e.code})` : ""}`, true);
      clearTimeout(this.flashT);
      this.flashT = setTimeout(() => this.banner("", false), 5000);
    }
    moderate(c, action) { this.change("moderate", { commentId: c._id, action }); }
    react(c, reaction, on) {
      if (!this.tokenKind && !this.me().length) return this.needName();
      const mark = (yes) => {
        yes ? this.reacted.add(c._id + reaction) : this.reacted.delete(c._id + reaction);
        store.set("reacted", JSON.stringify([...this.reacted].slice(-500)));
        const it = this.items.get(c._id);
        it && this.draw(it);
      };
      mark(on);
      this.change("react", { commentId: c._id, reaction, on }).then((res) => {
        if (!res) mark(!on);
        else if (res.comment) this.add(res.comment); // the counts now, before the room hears
      });
    }
    // needName asks a guest for the name it acts under.
    needName() {
      const err = this.form.querySelector(".err");
      err.textContent = this.s.needName;
      err.hidden = false;
      this.nameInput.focus();
    }
    replyTo(it) {
      const open = it.body.querySelector("form.compose");
      if (open) return open.querySelector("textarea").focus();
      const form = this.composer(it.c);
      it.body.append(form);
      form.querySelector("textarea").focus();
    }
    edit(it, text, actions) {
      const form = el("form", "edit");
      const area = el("textarea", "edit-content");
      area.value = it.c.content;
      area.maxLength = 2000;
      area.setAttribute("aria-label", this.s.edit);
      const row = el("div", "row");
      const save = el("button", "primary", this.s.save);
      save.type = "submit";
      const cancel = el("button", null, this.s.cancel);
      cancel.type = "button";
      cancel.addEventListener("click", () => this.draw(it));
      row.append(save, cancel);
      form.append(area, row);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.change("edit_comment", { commentId: it.c._id, content: area.value, v: it.c.v });
      });
      text.replaceWith(form);
      actions.replaceChildren();
      area.focus();
    }
    async loadOlder() {
      const oldest = [...this.items.values()].filter((x) => !x.c.parentId).map((x) => x.c._id).sort()[0];
      if (!oldest) return;
      this.olderBtn.disabled = true;
      try {
        const res = await this.client.call("load_more", { postId: this.post, before: oldest, limit: 50 });
        if (res && res.ok) {
          const l = this.list;
          const fromBottom = l.scrollHeight - l.scrollTop;
          res.comments.forEach((x) => this.add(x, { quiet: true }));
          if (this.order === "oldest") l.scrollTop = l.scrollHeight - fromBottom; // keep the reader's place
          this.more = !!res.next || res.comments.length >= 50;
          this.updateHeader();
        } else this.flashError(res);
      } catch (e) { this.flashError({ error: { message: e.message } }); }
      this.olderBtn.disabled = false;
    }
    // probeOlder asks for one comment before the oldest shown, to offer
    // "Load older" only when there is something to load.
    async probeOlder() {
      const oldest = [...this.items.values()].filter((x) => !x.c.parentId).map((x) => x.c._id).sort()[0];
      if (!oldest) return;
      const res = await this.client.call("load_more", { postId: this.post, before: oldest, limit: 1 }).catch(() => null);
      this.more = !!(res && res.ok && res.comments.length);
      this.updateHeader();
    }
    async loadReplies(it) {
      try {
        const res = await this.client.call("load_replies", { postId: this.post, parentId: it.c._id, limit: 100 });
        if (res && res.ok) {
          res.comments.forEach((x) => this.add(x, { quiet: true }));
          if (!res.next) it.c.repliesLoaded = true;
          this.draw(it);
        } else this.flashError(res);
      } catch (e) { this.flashError({ error: { message: e.message } }); }
    }
  }

  // ---- <commentd-count>: all counts on a page in one request per server ----
  const countQueue = new Map(); // server → Set of elements
  const liveClients = new Map(); // server → Client (live counts)

  /** Count is <commentd-count post="…">: the post's number of comments. */
  class Count extends HTMLElement {
    static get observedAttributes() { return ["post"]; }
    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.out = el("span", "n");
      this.out.setAttribute("part", "count");
      this.shadowRoot.append(...adopt(this.shadowRoot, ":host{display:inline}"), this.out);
    }
    get server() { return (this.getAttribute("server") || defaultServer).replace(/\/+$/, ""); }
    get post() { return this.getAttribute("post") || ""; }
    connectedCallback() {
      const s = STRINGS[pickLang(this)];
      this.s = s;
      this.nums = new Intl.NumberFormat(pickLang(this));
      this.onCount = (e) => { if (e.detail && e.detail.postId === this.post && e.target !== this) this.set(e.detail.count); };
      document.addEventListener("count", this.onCount);
      let q = countQueue.get(this.server);
      if (!q) {
        q = new Set();
        countQueue.set(this.server, q);
        setTimeout(() => fetchCounts(this.server), 0);
      }
      q.add(this);
      if (this.hasAttribute("live")) liveCount(this);
    }
    disconnectedCallback() { document.removeEventListener("count", this.onCount); }
    attributeChangedCallback(name, old) { if (old != null && this.isConnected) { this.disconnectedCallback(); this.connectedCallback(); } }
    set(n) {
      if (this.value === n) return;
      this.value = n;
      this.out.textContent = this.hasAttribute("number") ? this.nums.format(n) : this.s.count(this.nums.format(n));
      this.dispatchEvent(new CustomEvent("count", { detail: { postId: this.post, count: n }, bubbles: true, composed: true }));
    }
  }
  async function fetchCounts(server) {
    const els = [...(countQueue.get(server) || [])];
    countQueue.delete(server);
    const posts = [...new Set(els.map((e) => e.post).filter(Boolean))];
    if (!posts.length) return;
    try {
      const counts = {};
      for (let i = 0; i < posts.length; i += 100) { // the server answers up to 100 posts a request
        const res = await fetch(`${server}/api/counts?posts=${posts.slice(i, i + 100).map(encodeURIComponent).join(",")}`, { cache: "no-store" });
        const body = await res.json();
        if (!body.ok) throw new Error((body.error && body.error.message) || "HTTP " + res.status);
        Object.assign(counts, body.counts);
      }
      for (const e of els) e.set(counts[e.post] || 0);
    } catch (err) {
      for (const e of els) { e.out.textContent = "–"; e.title = String(err.message || err); }
    }
  }
  // liveCount keeps a count current from post_info on a shared connection.
  function liveCount(e) {
    let c = liveClients.get(e.server);
    if (!c) {
      c = new Client(e.server, () => ({}));
      c.posts = new Set();
      c.on("connect", () => c.posts.forEach((p) => c.emit("join_post", { postId: p, batch: true })));
      c.on("post_info", (info) => {
        if (typeof info.count !== "number") return;
        for (const x of document.querySelectorAll("commentd-count[live]")) if (x.post === info.postId) x.set(info.count);
      });
      liveClients.set(e.server, c);
      c.start();
    }
    if (!c.posts.has(e.post)) {
      c.posts.add(e.post);
      if (c.connected) c.emit("join_post", { postId: e.post, batch: true });
    }
  }

  window.commentd = {
    Thread, Count, Client, markdown,
    /** strings are the tables by language; a site may add or change one before the elements connect. */
    strings: STRINGS,
    /** setToken gives every thread on the page a token (null: back to attributes) and reconnects them. */
    setToken(token) {
      globalToken = token;
      for (const t of threads) t.reset();
    },
  };
  customElements.define("commentd-thread", Thread);
  customElements.define("commentd-count", Count);
})();
