// The chat room of the demo: the tutorial chat of the system commentd
// replaces, on namespace /chat. Text is rendered with textContent only.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const chat = io("/chat");

  function line(text, kind) {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = text;
    $("chat-log").append(li);
  }

  chat.on("connect", () => chat.emit("event1"));
  chat.on("getID", (id) => { $("chat-id").textContent = id; });
  chat.on("message", (text) => line(text, "message"));
  chat.on("msg", (m) => line(m.id + ": " + m.message, "msg"));
  chat.on("chat_error", (e) => line("error: " + e.message, "error"));

  function text() {
    const t = $("chat-input").value;
    $("chat-input").value = "";
    return t;
  }
  $("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    chat.emit("input", text());
  });
  $("chat-send-others").addEventListener("click", () => chat.emit("inputWM", text()));
  $("chat-private").addEventListener("click", () => chat.emit("private", $("chat-target").value.trim(), text()));
})();
