// The commentd admin page: the live moderation queue (approve, reject),
// the comments of watched posts (hide, restore, delete, ban the author),
// banned users (ban, unban), the audit log, and live figures.
//
// It asks for a moderator token (admin.token, or a JWT with the moderator
// role), kept in sessionStorage, checks it over REST, then connects with
// socket.io (auth: {token}). Everything the server sends is rendered with
// textContent and DOM nodes, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KEY = "commentd-admin-token";
  const STATS_EVERY_MS = 2000;
  const MAX_RECENT = 200;

  let token = "";
  let socket = null;
  let statsTimer = 0;
  let auditNext = null;
  const watched = new Set(); // post ids
  const recent = new Map(); // comment id → comment, of watched posts
  const queue = new Map(); // comment id → pending comment

  function setState(state, text) {
    $("state").dataset.state = state;
    $("state").textContent = text;
  }

  function showError(msg) {
    $("error").textContent = msg;
    $("error").hidden = !msg;
  }

  function notice(msg) {
    $("notice").textContent = msg;
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(label, onClick, className) {
    const b = el("button", className || "action", label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function when(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString();
  }

  const reason = () => $("reason").value.trim();

  // refused leaves the admin view for the sign-in form with why.
  function refused(msg) {
    sessionStorage.removeItem(KEY);
    stop();
    showError(msg);
    setState("refused", "refused");
    $("login").hidden = false;
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("token").focus();
  }

  function stop() {
    token = "";
    clearInterval(statsTimer);
    statsTimer = 0;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
      socket = null;
    }
  }

  // api makes a REST request with the token; a 401 or 403 signs out.
  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new Error("the server cannot be reached: " + e.message);
    }
    const data = await res.json().catch(() => ({}));
    if (res.status === 401 || res.status === 403) {
      const why = data.error ? data.error.message + " (" + data.error.code + ")" : "HTTP " + res.status;
      refused("The token was refused: " + why);
      throw new Error("refused");
    }
    if (!data.ok) {
      const why = data.error ? data.error.message + " (" + data.error.code + ")" : "HTTP " + res.status;
      throw new Error(why);
    }
    return data;
  }

  // emit sends a socket event; the ack's error shows as a notice.
  function emit(event, payload, what) {
    return new Promise((resolve) => {
      if (!socket) return resolve(null);
      socket.timeout(10000).emit(event, payload, (err, res) => {
        if (err) {
          notice(what + " failed: no answer");
          return resolve(null);
        }
        if (!res || !res.ok) {
          const e = res && res.error ? res.error.message + " (" + res.error.code + ")" : "unknown error";
          notice(what + " failed: " + e);
          return resolve(null);
        }
        notice(what + ": done");
        loadAudit();
        resolve(res);
      });
    });
  }

  // --- sign in ---

  async function signIn(t) {
    token = t;
    showError("");
    setState("connecting", "checking the token…");
    let first;
    try {
      first = await api("GET", "/api/moderation/stats");
    } catch (e) {
      if (e.message !== "refused") refused("Cannot sign in: " + e.message);
      return;
    }
    sessionStorage.setItem(KEY, t);
    $("login").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    showStats(first);
    statsTimer = setInterval(pollStats, STATS_EVERY_MS);
    connect();
    loadBans();
    loadAudit();
  }

  function connect() {
    socket = io({ auth: { token } });
    socket.on("connect", () => {
      setState("connected", "connected");
      showError("");
      socket.emit("watch_moderation", (res) => {
        if (!res || !res.ok) {
          refused("The token was refused: " + (res && res.error ? res.error.message + " (" + res.error.code + ")" : "no answer"));
          return;
        }
        queue.clear();
        res.comments.forEach((c) => queue.set(c._id, c));
        drawQueue();
      });
      watched.forEach((p) => socket.emit("join_post", p));
    });
    socket.on("disconnect", (r) => setState("disconnected", "disconnected: " + r + ", reconnecting…"));
    socket.on("connect_error", (err) => {
      // The server refused the handshake (a bad token with auth.mode jwt),
      // or cannot be reached: socket.io retries the latter by itself.
      if (err && err.data && err.data.code) {
        refused("The token was refused: " + err.message + " (" + err.data.code + ")");
      } else {
        setState("disconnected", "cannot connect: " + (err ? err.message : "?"));
      }
    });
    socket.on("moderation_queue", (c) => {
      if (c.status === "pending") queue.set(c._id, c);
      else queue.delete(c._id);
      drawQueue();
      if (recent.has(c._id) || watched.has(c.postId)) upsert(c);
    });
    socket.on("load_comments", (cs) => cs.forEach(upsert));
    socket.on("comment_added", upsert);
    socket.on("comment_updated", upsert);
    socket.on("comment_removed", (r) => {
      if (recent.delete(r.commentId)) drawRecent();
    });
    socket.on("comments_added", (cs) => cs.forEach(upsert));
  }

  // --- the queue ---

  function commentItem(c) {
    const li = el("li", "item");
    li.dataset.id = c._id;
    const meta = el("div", "meta");
    meta.append(el("strong", "", c.userId || "(deleted)"), " on ", el("code", "", c.postId), " · ", el("time", "", when(c.createdAt)));
    if (c.status) meta.append(" · ", el("span", "status status-" + c.status, c.status));
    if (c.pinned) meta.append(" · ", el("span", "status", "pinned"));
    li.append(meta, el("p", "content", c.content));
    return li;
  }

  function drawQueue() {
    const items = [...queue.values()].sort((a, b) => (a._id < b._id ? -1 : 1));
    $("queue").replaceChildren(...items.map((c) => {
      const li = commentItem(c);
      const actions = el("div", "actions");
      actions.append(
        button("Approve", () => moderate(c, "approve"), "action approve"),
        button("Reject", () => moderate(c, "reject"), "action reject"));
      li.append(actions);
      return li;
    }));
    $("queue-count").textContent = items.length ? "(" + items.length + ")" : "";
    $("queue-empty").hidden = items.length > 0;
  }

  function moderate(c, action) {
    const payload = { postId: c.postId, commentId: c._id, action };
    if (reason()) payload.reason = reason();
    return emit("moderate", payload, action + " " + c._id);
  }

  // --- watched posts ---

  function upsert(c) {
    if (!watched.has(c.postId)) return;
    const old = recent.get(c._id);
    if (old && (old.v || 1) > (c.v || 1)) return;
    if (c.deleted) recent.delete(c._id);
    else recent.set(c._id, c);
    if (recent.size > MAX_RECENT) {
      const oldest = [...recent.keys()].sort()[0];
      recent.delete(oldest);
    }
    drawRecent();
  }

  function drawRecent() {
    const items = [...recent.values()].sort((a, b) => (a._id < b._id ? 1 : -1)); // newest first
    $("recent").replaceChildren(...items.map((c) => {
      const li = commentItem(c);
      const actions = el("div", "actions");
      if (c.status === "pending") {
        actions.append(button("Approve", () => moderate(c, "approve")), button("Reject", () => moderate(c, "reject")));
      } else {
        const hidden = c.status === "hidden";
        actions.append(button(hidden ? "Restore" : "Hide", () => moderate(c, hidden ? "restore" : "hide")));
      }
      actions.append(button("Delete", () => {
        const payload = { postId: c.postId, commentId: c._id };
        if (reason()) payload.reason = reason();
        emit("delete_comment", payload, "delete " + c._id);
      }));
      if (c.userId) actions.append(button("Ban " + c.userId, () => ban(c.userId), "action ban"));
      li.append(actions);
      return li;
    }));
  }

  function watch(postId) {
    if (!postId || watched.has(postId)) return;
    watched.add(postId);
    if (socket && socket.connected) socket.emit("join_post", postId);
    drawWatched();
  }

  function unwatch(postId) {
    watched.delete(postId);
    if (socket && socket.connected) socket.emit("leave_post", postId);
    for (const [id, c] of recent) if (c.postId === postId) recent.delete(id);
    drawWatched();
    drawRecent();
  }

  function drawWatched() {
    $("watched").replaceChildren(...[...watched].map((p) => {
      const li = el("li", "chip");
      li.append(el("code", "", p), button("×", () => unwatch(p), "chip-remove"));
      li.lastChild.setAttribute("aria-label", "Stop watching " + p);
      return li;
    }));
  }

  // --- bans ---

  async function ban(userId) {
    const payload = { userId, duration: Number($("ban-duration").value) };
    if (reason()) payload.reason = reason();
    const res = await emit("ban_user", payload, "ban " + userId);
    if (res) loadBans();
  }

  async function loadBans() {
    let data;
    try {
      data = await api("GET", "/api/moderation/bans");
    } catch (e) {
      if (e.message !== "refused") notice("Banned users: " + e.message);
      return;
    }
    const rows = data.bans.map((b) => {
      const tr = el("tr");
      tr.dataset.user = b.userId;
      tr.append(el("td", "", b.userId), el("td", "", b.reason), el("td", "", b.by), el("td", "", when(b.at)),
        el("td", "", b.until ? when(b.until) : "lifted by hand"));
      const td = el("td");
      td.append(button("Unban", () => unban(b.userId)));
      tr.append(td);
      return tr;
    });
    $("bans").tBodies[0].replaceChildren(...rows);
    $("bans").hidden = rows.length === 0;
    $("bans-empty").hidden = rows.length > 0;
  }

  async function unban(userId) {
    try {
      await api("DELETE", "/api/moderation/bans/" + encodeURIComponent(userId));
      notice("unban " + userId + ": done");
    } catch (e) {
      if (e.message !== "refused") notice("unban " + userId + " failed: " + e.message);
    }
    loadBans();
    loadAudit();
  }

  // --- the audit log ---

  function auditRow(e) {
    const tr = el("tr");
    tr.dataset.id = e.id;
    tr.dataset.action = e.action;
    let on = "";
    if (e.userId) on += "user " + e.userId;
    if (e.postId) on += (on ? ", " : "") + "post " + e.postId;
    if (e.commentId) on += (on ? ", " : "") + "comment " + e.commentId;
    tr.append(el("td", "", when(e.at)), el("td", "", e.by), el("td", "action-name", e.action), el("td", "", on),
      el("td", "", e.reason || ""));
    return tr;
  }

  // loadAudit reads the newest page; with more, the page after the last.
  async function loadAudit(more) {
    const q = more && auditNext ? "?before=" + encodeURIComponent(auditNext) : "";
    let data;
    try {
      data = await api("GET", "/api/moderation/log" + q);
    } catch (e) {
      if (e.message !== "refused") notice("Audit log: " + e.message);
      return;
    }
    const rows = data.entries.map(auditRow);
    const body = $("audit").tBodies[0];
    if (more) body.append(...rows);
    else body.replaceChildren(...rows);
    auditNext = data.next;
    $("audit-more").hidden = !data.next;
  }

  // --- live figures ---

  function showStats(s) {
    $("stat-rate").textContent = s.commentsPerSecond.toFixed(1);
    $("stat-depth").textContent = String(s.bufferDepth);
    $("stat-conns").textContent = String(s.connections);
    $("stat-shards").textContent = "by shard: " + s.shards.map((x) => x.shard + ": " + x.depth).join(", ");
    $("stats-at").textContent = "(updated " + new Date().toLocaleTimeString() + ")";
  }

  async function pollStats() {
    try {
      showStats(await api("GET", "/api/moderation/stats"));
    } catch (e) {
      if (e.message !== "refused") $("stats-at").textContent = "(" + e.message + ")";
    }
  }

  // --- wiring ---

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    $("token").value = "";
    if (t) signIn(t);
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    stop();
    $("app").hidden = true;
    $("login").hidden = false;
    $("sign-out").hidden = true;
    setState("signed-out", "signed out");
  });
  $("watch-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    watch($("watch-post").value.trim());
    $("watch-post").value = "";
  });
  $("ban-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    ban($("ban-user").value.trim());
  });
  $("bans-refresh").addEventListener("click", loadBans);
  $("audit-refresh").addEventListener("click", () => loadAudit(false));
  $("audit-more").addEventListener("click", () => loadAudit(true));

  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    signIn(saved);
  } else {
    showError("A moderator token is needed: sign in with admin.token or a JWT with the moderator role.");
    $("token").focus();
  }
})();
