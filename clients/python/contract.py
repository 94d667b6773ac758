#!/usr/bin/python3
"""The wire contract of commentd (README "Events") with Debian's
python3-socketio: the sync socketio.Client or the asyncio
socketio.AsyncClient, on one transport (polling, websocket, or upgrade:
polling first, then WebSocket).

Run by `go test ./cmd/commentd/ -run TestPythonClients`, which starts the
servers: --url has socketio.recovery_window 0, --recovery-url has it on;
both ping every 2 s and have comment rate limits off.

Prints one line per scenario and ends with "N passed, N failed"; exits 1
if any failed.
"""
import argparse
import asyncio
import faulthandler
import importlib.metadata
import logging
import secrets
import sys
import threading
import time
import traceback

import engineio
import socketio

WAIT = 10.0  # seconds: one wait for an event or an ack, generous under -race
GRACE = 0.5  # seconds: the window in which something must NOT arrive
MAX_RUNES = 2000  # limits.comment_max_runes
MAX_PAYLOAD = 65536  # socketio.max_payload


def post_id(label):
    return f"py-{label}-{secrets.token_hex(5)}"


def user_id(label):
    return f"py-{label}-{secrets.token_hex(3)}"


class Problems(logging.Handler):
    """Keeps the warnings and errors python-socketio and python-engineio log:
    a handler that raised (TypeError for a handler of the wrong arity), a
    payload refused ("Unexpected packet from server, aborting")."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.mu = threading.Lock()
        self.records = []

    def emit(self, record):
        with self.mu:
            self.records.append(self.format(record))

    def take(self):
        with self.mu:
            out, self.records = self.records, []
        return out



class Loop:
    """One asyncio loop on a thread of its own, for the AsyncClients."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=WAIT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


LOOP = None


class Waiter:
    """Collects arguments of events from handlers on any thread; waits for
    conditions with a deadline."""

    def __init__(self):
        self.cond = threading.Condition()
        self.items = []

    def add(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, n=1, timeout=WAIT, what="event"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.items) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: {len(self.items)} of {n} within {timeout}s")
                self.cond.wait(left)
            return list(self.items)

    def snapshot(self):
        with self.cond:
            return list(self.items)


class Client:
    """A socketio.Client or socketio.AsyncClient behind one blocking API,
    so that each scenario is written once and run with both."""

    def __init__(self, kind, url, transport, log):
        self.kind, self.url, self.transport_name = kind, url, transport
        self.transports = {"polling": ["polling"], "websocket": ["websocket"],
                           "upgrade": ["polling", "websocket"]}[transport]
        # A logger of our own: with logger=False the clients log errors
        # only, and their warnings are what tells of a dropped connection.
        opts = dict(reconnection=False, logger=log, engineio_logger=log, request_timeout=WAIT)
        if kind == "sync":
            self.sio = socketio.Client(handle_sigint=False, **opts)
        else:
            self.sio = socketio.AsyncClient(handle_sigint=False, **opts)
        self.disconnects = Waiter()
        self.on("disconnect", lambda: self.disconnects.add(time.monotonic()))
        self.posts = []  # (body bytes, packets) of every polling POST

    def on(self, event, fn, namespace="/"):
        """Registers fn (a plain function) for event. For the asyncio
        client it is wrapped in a coroutine that calls it with the event's
        arguments as they came: a handler of the wrong arity fails the same
        way, with TypeError."""
        if self.kind == "sync":
            self.sio.on(event, fn, namespace=namespace)
            return

        async def handler(*args):
            return fn(*args)

        self.sio.on(event, handler, namespace=namespace)

    def connect(self, namespaces=("/",)):
        kw = dict(transports=self.transports, namespaces=list(namespaces), wait_timeout=WAIT)
        if self.kind == "sync":
            self.sio.connect(self.url, **kw)
        else:
            LOOP.run(self.sio.connect(self.url, **kw), timeout=2 * WAIT)
        self.record_posts()
        want = "polling" if self.transport_name == "polling" else "websocket"
        assert self.transport() == want, f"on {self.transport()}, want {want}"
        return self

    def record_posts(self):
        """Counts the bytes and packets of each polling POST the client sends."""
        eio = self.sio.eio
        orig = eio._send_request

        def note(method, body):
            if method == "POST" and body:
                b = body if isinstance(body, bytes) else body.encode()
                self.posts.append((len(b), b.count(b"\x1e") + 1))

        if self.kind == "sync":
            def send(method, url, headers=None, body=None, timeout=None):
                note(method, body)
                return orig(method, url, headers=headers, body=body, timeout=timeout)
        else:
            async def send(method, url, headers=None, body=None, timeout=None):
                note(method, body)
                return await orig(method, url, headers=headers, body=body, timeout=timeout)
        eio._send_request = send

    def transport(self):
        return self.sio.transport()

    def sid(self, namespace="/"):
        return self.sio.get_sid(namespace)

    def call(self, event, data, namespace="/"):
        if self.kind == "sync":
            return self.sio.call(event, data, namespace=namespace, timeout=WAIT)
        return LOOP.run(self.sio.call(event, data, namespace=namespace, timeout=WAIT), timeout=2 * WAIT)

    def emit(self, event, data, namespace="/"):
        if self.kind == "sync":
            self.sio.emit(event, data, namespace=namespace)
        else:
            LOOP.run(self.sio.emit(event, data, namespace=namespace))

    def emit_at_once(self, event, items):
        """Emits event once per item with an ack callback, all queued before
        the client's writer runs, so that on polling they share one POST;
        returns a Waiter of the acks."""
        acks = Waiter()
        if self.kind == "async":
            async def burst():
                # AsyncClient.emit does not yield on an unbounded queue: the
                # write loop runs only once this coroutine is done.
                for it in items:
                    await self.sio.emit(event, it, callback=lambda *a: acks.add(a[0] if len(a) == 1 else a))
            LOOP.run(burst())
            return acks
        # The sync client's writer is a thread: keep the GIL until all are
        # queued (no emit blocks on anything).
        old = sys.getswitchinterval()
        sys.setswitchinterval(1.0)
        try:
            for it in items:
                self.sio.emit(event, it, callback=lambda *a: acks.add(a[0] if len(a) == 1 else a))
        finally:
            sys.setswitchinterval(old)
        return acks

    def sleep(self, seconds):
        if self.kind == "sync":
            self.sio.sleep(seconds)
        else:
            LOOP.run(self.sio.sleep(seconds), timeout=seconds + WAIT)

    def disconnect(self):
        if self.kind == "sync":
            self.sio.disconnect()
        else:
            LOOP.run(self.sio.disconnect())

    def assert_connected(self):
        assert self.sio.connected, "disconnected"
        assert not self.disconnects.snapshot(), "a disconnect event"


class Suite:
    """The clients of one scenario, and what they logged."""

    count = 0

    def __init__(self, args):
        self.args = args
        self.clients = []
        Suite.count += 1
        self.log = logging.getLogger(f"contract.s{Suite.count}")
        self.log.setLevel(logging.WARNING)
        self.log.propagate = False
        self.problems = Problems()
        self.problems.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        self.log.addHandler(self.problems)

    def client(self, url=None, transport=None, namespaces=("/",), before=None):
        c = Client(self.args.client, url or self.args.url, transport or self.args.transport, self.log)
        self.clients.append(c)
        if before:
            before(c)
        return c.connect(namespaces)

    def close_all(self):
        for c in self.clients:
            try:
                if c.sio.connected:
                    c.disconnect()
            except Exception:  # the scenario's verdict is what counts
                pass
        self.clients = []


def assert_comment(c, **want):
    assert isinstance(c, dict), f"comment is {c!r}"
    assert sorted(c) == ["_id", "content", "createdAt", "postId", "userId"], f"comment fields: {sorted(c)}"
    assert len(c["_id"]) == 24 and all(ch in "0123456789abcdef" for ch in c["_id"]), c["_id"]
    assert c["createdAt"].endswith("Z") and len(c["createdAt"]) == 24, c["createdAt"]
    for k, v in want.items():
        assert c[k] == v, f"comment.{k} = {c[k]!r}, want {v!r}"


def join(c, post):
    loaded = Waiter()
    c.on("load_comments", loaded.add)
    res = c.call("join_post", post)
    assert res.get("ok") is True, f"join_post acked {res}"
    return res["comments"], loaded.wait(what="load_comments")[0]


def post(c, post_id, content, user="py-writer"):
    res = c.call("new_comment", {"postId": post_id, "userId": user, "content": content})
    assert res.get("ok") is True, f"new_comment acked {str(res)[:300]}"
    assert_comment(res["comment"], postId=post_id, userId=user, content=content)
    return res["comment"]


# Scenarios: each gets the suite and raises on failure.

def scenario_connect(s):
    c = s.client()
    assert c.sid(), "a socket id"
    c.assert_connected()


def scenario_join(s):
    p = post_id("join")
    w = s.client()
    first = post(w, p, "already there")
    acked, loaded = join(s.client(), p)
    assert [x["_id"] for x in acked] == [first["_id"]], acked
    assert loaded == acked, "load_comments equals the ack's comments"


def scenario_post(s):
    p = post_id("post")
    c = s.client()
    confirmed = Waiter()
    c.on("comment_confirmed", confirmed.add)
    got = post(c, p, "hello from python")
    conf = confirmed.wait(what="comment_confirmed")[0]
    assert conf["message"] == "Comment posted", conf
    assert conf["comment"] == got, "comment_confirmed carries the acked comment"


def scenario_added_one_arg(s):
    """Recovery off: a handler of one argument, as in the README."""
    p = post_id("added1")
    added = Waiter()

    def on_added(comment):
        added.add(comment)

    r = s.client(before=lambda c: c.on("comment_added", on_added))
    join(r, p)
    sent = [post(s.client(), p, f"one arg {i}") for i in range(3)]
    got = added.wait(3, what="comment_added")
    assert [x["_id"] for x in got] == [x["_id"] for x in sent], "every comment, in order"
    assert got == sent


def scenario_added_two_args(s):
    """Recovery on: the comment id follows as the recovery offset."""
    p = post_id("added2")
    added = Waiter()

    def on_added(comment, offset):
        added.add((comment, offset))

    r = s.client(url=s.args.recovery_url, before=lambda c: c.on("comment_added", on_added))
    join(r, p)
    sent = [post(s.client(url=s.args.recovery_url), p, f"two args {i}") for i in range(3)]
    got = added.wait(3, what="comment_added")
    assert [c for c, _ in got] == sent, "every comment, in order"
    assert [o for _, o in got] == [c["_id"] for c in sent], "the offset is the comment id"


def scenario_error_codes(s):
    c = s.client()
    errors = Waiter()
    c.on("comment_error", errors.add)
    p = post_id("err")
    cases = [
        ({"postId": "bad post id!", "userId": "u", "content": "x"}, "INVALID_POST_ID"),
        ({"postId": p, "userId": "bad user!", "content": "x"}, "INVALID_USER_ID"),
        ({"postId": p, "userId": "u", "content": "   "}, "EMPTY_CONTENT"),
        ({"postId": p, "userId": "u", "content": "x" * (MAX_RUNES + 1)}, "CONTENT_TOO_LONG"),
        ("not an object", "INVALID_PAYLOAD"),
    ]
    for i, (arg, code) in enumerate(cases):
        res = c.call("new_comment", arg)
        assert res.get("ok") is False and res["error"]["code"] == code, f"{code}: acked {str(res)[:300]}"
        assert res["error"]["message"], "a message"
        ev = errors.wait(i + 1, what="comment_error")[i]
        assert ev["code"] == code and ev["error"] and ev["message"] == "Failed to post comment", ev
    res = c.call("join_post", "bad post id!")
    assert res.get("ok") is False and res["error"]["code"] == "INVALID_POST_ID", res
    c.assert_connected()


def scenario_leave_post(s):
    p = post_id("leave")
    leaver, stayer = Waiter(), Waiter()
    a = s.client(before=lambda c: c.on("comment_added", leaver.add))
    b = s.client(before=lambda c: c.on("comment_added", stayer.add))
    join(a, p)
    join(b, p)
    w = s.client()
    first = post(w, p, "both read this")
    leaver.wait(what="comment_added before leaving")
    res = a.call("leave_post", p)
    assert res == {"ok": True}, res
    second = post(w, p, "only the stayer reads this")
    got = stayer.wait(2, what="the stayer's comment_added")
    assert [x["_id"] for x in got] == [first["_id"], second["_id"]]
    time.sleep(GRACE)
    assert [x["_id"] for x in leaver.snapshot()] == [first["_id"]], "nothing after leave_post"


def scenario_load_more(s):
    p = post_id("more")
    w = s.client()
    sent = [post(w, p, f"page {i}") for i in range(5)]
    res = w.call("load_more", {"postId": p, "before": sent[4]["_id"], "limit": 2})
    assert res.get("ok") is True, res
    assert [x["_id"] for x in res["comments"]] == [sent[2]["_id"], sent[3]["_id"]], "the two before, oldest first"
    assert res["next"], "a cursor to older ones"
    older = w.call("load_more", {"postId": p, "before": res["next"], "limit": 10})
    assert [x["_id"] for x in older["comments"]] == [sent[0]["_id"], sent[1]["_id"]], older
    assert older["next"] is None, "the oldest page"
    bad = w.call("load_more", "nope")
    assert bad.get("ok") is False and bad["error"]["code"] == "INVALID_PAYLOAD", bad


def scenario_chat(s):
    msgs = Waiter()
    c = s.client(namespaces=("/", "/chat"), before=lambda c: c.on("message", msgs.add, namespace="/chat"))
    me = c.sid("/chat")
    assert me and me != c.sid("/"), "a socket id of its own on /chat"
    assert c.call("event1", None, namespace="/chat") == me, "event1 acks the socket id"
    c.emit("message", "hello from python", namespace="/chat")
    want = f"{me}: hello from python"
    deadline = time.monotonic() + WAIT
    while want not in msgs.snapshot():
        assert time.monotonic() < deadline, f"no message {want!r}: {msgs.snapshot()}"
        time.sleep(0.01)
    assert f"{me} connected" in msgs.snapshot(), "greeted on connect"
    # "/" still works on the same connection.
    res = c.call("join_post", post_id("chat"))
    assert res.get("ok") is True, res


def scenario_binary_refused(s):
    c = s.client()
    p = post_id("bin")
    res = c.call("new_comment", {"postId": p, "userId": "u", "content": b"\x00\x01binary"})
    assert res.get("ok") is False and res["error"]["code"] == "INVALID_PAYLOAD", f"acked {res}"
    assert "content" in res["error"]["message"], f"the message names what is wrong: {res['error']}"
    post(c, p, "text still works")
    c.assert_connected()


def scenario_burst(s):
    """30 comments at once: more than python-engineio's 16 packets per
    polling response reach the reader, the writer gets 60 (acks and
    comment_confirmed); nobody is disconnected."""
    p = post_id("burst")
    added = Waiter()
    r = s.client(before=lambda c: c.on("comment_added", added.add))
    join(r, p)
    w = s.client()
    n = 30
    acks = w.emit_at_once("new_comment", [{"postId": p, "userId": "py-burst", "content": f"burst {i}"} for i in range(n)])
    got = acks.wait(n, what="acks")
    assert all(a.get("ok") is True for a in got), [a for a in got if not a.get("ok")][:2]
    ids = [a["comment"]["_id"] for a in got]
    recv = added.wait(n, what="comment_added")
    assert sorted(x["_id"] for x in recv) == sorted(ids), "every comment"
    assert [x["_id"] for x in recv] == sorted(x["_id"] for x in recv), "in the buffer's order"
    r.assert_connected()
    w.assert_connected()


def scenario_batch(s):
    """join_post {postId, batch: true}: 30 comments at once arrive as
    comments_added lists (fewer frames than comments), every one once, in
    the buffer's order; a reader who did not ask gets comment_added."""
    p = post_id("batch")
    frames, plain = Waiter(), Waiter()
    r = s.client(before=lambda c: c.on("comments_added", lambda lst, *rest: frames.add(lst)))
    res = r.call("join_post", {"postId": p, "batch": True})
    assert res.get("ok") is True, f"join_post acked {res}"
    o = s.client(before=lambda c: c.on("comment_added", lambda c, *rest: plain.add(c)))
    join(o, p)
    w = s.client()
    n = 30
    acks = w.emit_at_once("new_comment", [{"postId": p, "userId": "py-batch", "content": f"batch {i}"} for i in range(n)])
    got = acks.wait(n, what="acks")
    assert all(a.get("ok") is True for a in got), [a for a in got if not a.get("ok")][:2]
    recv = plain.wait(n, what="comment_added")
    lists = []
    deadline = time.time() + WAIT
    while sum(len(x) for x in lists) < n and time.time() < deadline:
        lists = frames.snapshot()
        time.sleep(0.05)
    batched = [c for lst in lists for c in lst]
    assert all(isinstance(x, list) for x in lists), "comments_added carries a list"
    assert [x["_id"] for x in batched] == [x["_id"] for x in recv], "every comment once, in the plain reader's order"
    assert len(lists) < n, f"{len(lists)} frames for {n} comments"
    r.assert_connected()


def scenario_emoji_post(s):
    """Three comments of 2000 emoji in one POST: python-engineio escapes
    each emoji to 12 bytes, so the body is over max_payload (64 KB), each
    packet under it."""
    p = post_id("emoji")
    w = s.client()
    content = "\U0001F600" * MAX_RUNES
    before = len(w.posts)
    acks = w.emit_at_once("new_comment", [{"postId": p, "userId": "py-emoji", "content": content}] * 3)
    got = acks.wait(3, what="acks")
    assert all(a.get("ok") is True for a in got), [str(a)[:200] for a in got if not a.get("ok")]
    assert all(a["comment"]["content"] == content for a in got)
    if w.transport() == "polling":
        big = [pk for pk in w.posts[before:] if pk[1] >= 3 and pk[0] > MAX_PAYLOAD]
        assert big, f"no POST of 3 packets over {MAX_PAYLOAD} bytes: {w.posts[before:]}"
    w.assert_connected()


def scenario_idle(s, seconds):
    """Idle for a minute, server pings every 2 s: still connected, and works."""
    c = s.client()
    p = post_id("idle")
    join(c, p)
    c.sleep(seconds)
    c.assert_connected()
    post(c, p, "after a quiet minute")


SCENARIOS = [
    ("connect", scenario_connect),
    ("join_post with load_comments and ack", scenario_join),
    ("new_comment with ack and comment_confirmed", scenario_post),
    ("comment_added to a one-argument handler (recovery off)", scenario_added_one_arg),
    ("comment_added to a two-argument handler (recovery on)", scenario_added_two_args),
    ("error codes", scenario_error_codes),
    ("leave_post", scenario_leave_post),
    ("load_more", scenario_load_more),
    ("/chat namespace", scenario_chat),
    ("binary attachment refused", scenario_binary_refused),
    ("burst of 30 comments", scenario_burst),
    ("batch: comments_added", scenario_batch),
    ("three 2000-emoji comments in one POST", scenario_emoji_post),
]


def run(name, fn, args):
    """Runs one scenario. A warning its clients logged before it closed
    them fails it too: a refused payload, a dropped connection, a handler
    that raised."""
    s = Suite(args)
    start = time.monotonic()
    try:
        fn(s)
        problems = s.problems.take()
        assert not problems, "the client logged:\n  " + "\n  ".join(problems)
        return True, f"ok   {name} ({time.monotonic() - start:.1f}s)"
    except Exception as exc:  # report every scenario, then fail
        detail = "".join(traceback.format_exception(exc)).rstrip()
        problems = s.problems.take()
        if problems:
            detail += "\n  the client logged:\n  " + "\n  ".join(problems)
        return False, f"FAIL {name} ({time.monotonic() - start:.1f}s): {detail}"
    finally:
        s.close_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", choices=["sync", "async"], required=True)
    ap.add_argument("--transport", choices=["polling", "websocket", "upgrade"], required=True)
    ap.add_argument("--url", required=True, help="a commentd with socketio.recovery_window 0")
    ap.add_argument("--recovery-url", required=True, help="a commentd with recovery on")
    ap.add_argument("--idle", type=float, default=60, help="seconds of the idle scenario (0: skip)")
    ap.add_argument("--deadline", type=float, default=200,
                    help="seconds after which every thread's stack is printed and the run ends (a hang)")
    args = ap.parse_args()
    faulthandler.dump_traceback_later(args.deadline, exit=True)

    global LOOP
    if args.client == "async":
        LOOP = Loop()
    versions = {n: importlib.metadata.version(n) for n in ("python-socketio", "python-engineio")}
    print(f"python-socketio {versions['python-socketio']} ({socketio.__file__}), "
          f"python-engineio {versions['python-engineio']} ({engineio.__file__}); "
          f"{args.client} client, {args.transport}", flush=True)
    # Socket.IO protocol 5 / Engine.IO 4 (a v3/v4 server) came with
    # python-socketio 5 and python-engineio 4.
    if int(versions["python-socketio"].split(".")[0]) < 5 or int(versions["python-engineio"].split(".")[0]) < 4:
        print("python-socketio < 5 or python-engineio < 4 cannot talk to a Socket.IO v4 server", flush=True)
        return 1

    # The idle scenario runs beside the others, on a thread of its own.
    idle_result = []
    idle = None
    if args.idle > 0:
        name = f"idle {args.idle:.0f}s with server pings every 2s"
        idle = threading.Thread(target=lambda: idle_result.append(run(name, lambda s: scenario_idle(s, args.idle), args)))
        idle.start()

    results = []
    for name, fn in SCENARIOS:
        ok, line = run(name, fn, args)
        print(line, flush=True)
        results.append(ok)
    if idle:
        idle.join()
        ok, line = idle_result[0]
        print(line, flush=True)
        results.append(ok)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed", flush=True)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
