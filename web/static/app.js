// The commentd demo: join a post, see its comments live, post one; edit and
// delete your own; with the moderator token, hide, restore and delete any,
// and approve or reject those held for moderation.
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

  const moderator = () => !!socket.auth?.token;
  const me = () => $("user-id").value.trim();
  const versions = new Map(); // comment id → version shown

  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "action";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // change sends a change event; its error, if any, shows like a post's.
  function change(event, payload) {
    socket.emit(event, Object.assign({ postId, userId: me() }, payload), (res) => {
      if (res && res.ok) showError("");
    });
  }

  // fill draws c into li: who, when, the content, and the actions the
  // reader may take.
  function fill(li, c) {
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("strong");
    who.textContent = c.userId;
    const when = document.createElement("time");
    when.dateTime = c.createdAt;
    when.textContent = new Date(c.createdAt).toLocaleString();
    meta.append(who, " · ", when);
    if (c.editedAt) meta.append(" · edited");
    if (c.pinned) meta.append(" · pinned");
    if (c.status) {
      const mark = document.createElement("span");
      mark.className = "status-mark";
      mark.textContent = " · " + (c.status === "pending" ? "awaiting approval" : c.status);
      meta.append(mark);
    }
    if (li.classList.contains("saved")) {
      const mark = document.createElement("span");
      mark.className = "saved-mark";
      mark.textContent = " · saved";
      meta.append(mark);
    }
    const body = document.createElement("p");
    body.className = "content";
    body.textContent = c.content;
    const actions = document.createElement("div");
    actions.className = "actions";
    if (c.userId === me()) {
      actions.append(button("Edit", () => editing(li, c)));
    }
    if (c.userId === me() || moderator()) {
      actions.append(button("Delete", () => change("delete_comment", { commentId: c._id })));
    }
    if (moderator() && c.status === "pending") {
      actions.append(button("Approve", () => change("moderate", { commentId: c._id, action: "approve" })));
      actions.append(button("Reject", () => change("moderate", { commentId: c._id, action: "reject" })));
    } else if (moderator()) {
      const hidden = c.status === "hidden";
      actions.append(button(hidden ? "Restore" : "Hide",
        () => change("moderate", { commentId: c._id, action: hidden ? "restore" : "hide" })));
    }
    li.classList.toggle("hidden", c.status === "hidden");
    li.classList.toggle("pending", c.status === "pending");
    li.replaceChildren(meta, body, actions);
  }

  // editing turns li's content into a form that sends edit_comment.
  function editing(li, c) {
    const form = document.createElement("form");
    form.className = "edit";
    const area = document.createElement("textarea");
    area.className = "edit-content";
    area.setAttribute("aria-label", "Edit comment");
    area.value = c.content;
    area.maxLength = 2000;
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save";
    form.append(area, save, button("Cancel", () => fill(li, c)));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      change("edit_comment", { commentId: c._id, content: area.value, v: c.v });
    });
    li.querySelector(".content").replaceWith(form);
    li.querySelector(".actions").replaceChildren();
    area.focus();
  }

  function render(c) {
    const old = document.querySelector('li.comment[data-id="' + c._id + '"]');
    if (old) {
      update(c);
      return;
    }
    seen.add(c._id);
    versions.set(c._id, c.v || 1);
    const li = document.createElement("li");
    li.className = "comment";
    li.dataset.id = c._id;
    fill(li, c);
    // In id order: a restored comment goes back in its place.
    const after = [...$("comments").children].find((x) => x.dataset.id > c._id);
    $("comments").insertBefore(li, after || null);
    if (c._id > lastId) lastId = c._id;
    $("count").textContent = "(" + seen.size + ")";
  }

  // update shows a comment's new state (comment_updated): an older one
  // than shown is ignored.
  function update(c) {
    if (c.postId !== postId) return;
    const li = document.querySelector('li.comment[data-id="' + c._id + '"]');
    if (!li) {
      render(c); // restored, or one this page had not seen
      return;
    }
    if ((c.v || 1) < (versions.get(c._id) || 1)) return;
    versions.set(c._id, c.v || 1);
    fill(li, c);
  }

  function remove(id) {
    const li = document.querySelector('li.comment[data-id="' + id + '"]');
    if (!li) return;
    li.remove();
    seen.delete(id);
    $("count").textContent = seen.size ? "(" + seen.size + ")" : "";
  }

  function join(since) {
    $("post-title").textContent = postId;
    // batch: comments come a window at a time (comments_added), one frame
    // for many when the post is busy.
    socket.emit("join_post", since ? { postId, since, batch: true } : { postId, batch: true });
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
  socket.on("comments_added", (cs) => cs.forEach((c) => { if (c.postId === postId) render(c); }));
  socket.on("comment_updated", (c) => update(c));
  socket.on("comment_removed", (r) => { if (r.postId === postId) remove(r.commentId); });
  socket.on("comment_confirmed", ({ comment: c }) => {
    $("content").value = "";
    showError("");
    // A held comment is its author's to see at once, whatever the room says.
    if (c && c.status === "pending" && c.postId === postId) render(c);
  });
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

  $("mod-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("mod-token").value.trim();
    socket.auth = token ? { token } : {};
    $("mod-state").textContent = token ? "moderating" : "";
    // Reconnect with the token; the page joins again and redraws.
    seen.clear();
    versions.clear();
    lastId = "";
    $("comments").replaceChildren();
    socket.disconnect().connect();
  });
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
