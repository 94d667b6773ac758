// The commentd demo: join a post, see its comments live, post one.
// Everything the server sends is rendered with textContent, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const socket = io(); // long-polling first, then upgraded to WebSocket

  let postId = params.get("post") || "welcome";
  let lastId = "";
  const seen = new Set();

  function setState(state, text) {
    $("state").dataset.state = state;
    $("state").textContent = text;
  }

  function showError(msg) {
    $("error").textContent = msg;
    $("error").hidden = !msg;
  }

  function render(c) {
    if (seen.has(c._id)) return;
    seen.add(c._id);
    const li = document.createElement("li");
    li.className = "comment";
    li.dataset.id = c._id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("strong");
    who.textContent = c.userId;
    const when = document.createElement("time");
    when.dateTime = c.createdAt;
    when.textContent = new Date(c.createdAt).toLocaleString();
    meta.append(who, " · ", when);
    const body = document.createElement("p");
    body.className = "content";
    body.textContent = c.content;
    li.append(meta, body);
    $("comments").append(li);
    if (c._id > lastId) lastId = c._id;
    $("count").textContent = "(" + seen.size + ")";
  }

  function join(since) {
    $("post-title").textContent = postId;
    socket.emit("join_post", since ? { postId, since } : postId);
  }

  function open(id) {
    if (id === postId && seen.size) return;
    socket.emit("leave_post", postId);
    postId = id;
    lastId = "";
    seen.clear();
    $("comments").replaceChildren();
    $("count").textContent = "";
    history.replaceState(null, "", "?post=" + encodeURIComponent(id));
    join("");
  }

  socket.on("connect", () => {
    const engine = socket.io.engine;
    setState("connected", "connected (" + engine.transport.name + ")");
    engine.once("upgrade", (t) => setState("connected", "connected (" + t.name + ")"));
    showError("");
    join(lastId);
  });
  socket.on("disconnect", (reason) => setState("disconnected", "disconnected: " + reason + ", reconnecting…"));
  socket.on("connect_error", (err) => setState("disconnected", "cannot connect: " + err.message));
  socket.on("load_comments", (cs) => {
    cs.forEach(render);
    $("comments").dataset.joined = postId;
  });
  socket.on("comment_added", (c) => { if (c.postId === postId) render(c); });
  socket.on("comment_confirmed", () => { $("content").value = ""; showError(""); });
  // Second stage: the comment is in the database.
  socket.on("comment_persisted", ({ ids }) => ids.forEach((id) => {
    const li = document.querySelector('li.comment[data-id="' + id + '"]');
    if (li && !li.classList.contains("saved")) {
      li.classList.add("saved");
      const mark = document.createElement("span");
      mark.className = "saved-mark";
      mark.textContent = " · saved";
      li.querySelector(".meta").append(mark);
    }
  }));
  socket.on("comment_error", (e) => showError(e.message + ": " + e.error + " (" + e.code + ")"));

  $("post-id").value = postId;
  $("post-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    open($("post-id").value.trim());
  });
  $("comment-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    socket.emit("new_comment", { postId, userId: $("user-id").value.trim(), content: $("content").value });
  });
})();
