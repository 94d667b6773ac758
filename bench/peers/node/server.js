// The system commentd replaces, written for the benchmark (bench/run.sh):
// Node.js + Express + Socket.IO 4 + MongoDB, the way live comment sections
// are commonly built. It is naive on purpose: every new_comment is ONE
// MongoDB insertOne, awaited BEFORE the broadcast and the ack, and every
// join reads the post's history from MongoDB. No buffer, no batching, no
// cache; one process. It speaks commentd's socket events (join_post,
// leave_post, new_comment, load_more; load_comments, comment_confirmed,
// comment_added, comment_error) with the same JSON fields, so the
// unchanged commentbench scenarios drive it. GET /metrics reports an empty
// buffer (there is none), for the scenarios that wait on it.
//
//   PORT=18099 MONGO_URI=mongodb://127.0.0.1:37017 MONGO_DB=peer node server.js
'use strict';

const http = require('http');
const express = require('express');
const { Server } = require('socket.io');
const { MongoClient, ObjectId } = require('mongodb');

const PORT = Number(process.env.PORT || 8080);
const HOST = process.env.HOST || '127.0.0.1';
const MONGO_URI = process.env.MONGO_URI || 'mongodb://127.0.0.1:27017';
const MONGO_DB = process.env.MONGO_DB || 'comments';
const HISTORY_LIMIT = 100; // comments sent on join, as commentd's history.limit
const PAGE_LIMIT = 50; // load_more's default page, as commentd's
const MAX_CONTENT = 5000; // characters, as commentd's default

const POST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

// wire is a stored comment as commentd sends it: {_id, postId, userId,
// content, createdAt} with createdAt in RFC 3339 UTC, milliseconds.
function wire(doc) {
  return {
    _id: doc._id.toHexString(), postId: doc.postId, userId: doc.userId,
    content: doc.content, createdAt: doc.createdAt.toISOString(),
  };
}

class CommentError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

// arg returns an event's object argument, or the object a JSON string holds.
function arg(x) {
  if (typeof x === 'string') {
    try { return JSON.parse(x); } catch { return x; }
  }
  return x;
}

async function main() {
  const mongo = new MongoClient(MONGO_URI);
  await mongo.connect();
  const comments = mongo.db(MONGO_DB).collection('comments');
  await comments.createIndex({ postId: 1, _id: -1 });

  // history returns up to limit comments of postId, oldest first, newer
  // than since or older than before (ids sort by time, as ObjectIds).
  async function history(postId, limit, { since, before } = {}) {
    const filter = { postId };
    if (since && ObjectId.isValid(since)) filter._id = { $gt: new ObjectId(since) };
    if (before && ObjectId.isValid(before)) filter._id = { $lt: new ObjectId(before) };
    const docs = await comments.find(filter).sort({ _id: -1 }).limit(limit).toArray();
    return docs.reverse().map(wire);
  }

  const app = express();
  app.get('/healthz', (req, res) => res.json({ ok: true }));
  app.get('/metrics', (req, res) => res.type('text/plain').send('commentd_buffer_depth 0\n'));
  const server = http.createServer(app);
  const io = new Server(server, { serveClient: false });

  io.on('connection', (socket) => {
    // fail reports err to the sender as commentd does: comment_error and,
    // if asked, an ack {ok:false, error:{code, message}}.
    function fail(ack, what, err) {
      const code = err instanceof CommentError ? err.code : 'INTERNAL';
      const message = err instanceof CommentError ? err.message : 'internal error';
      if (code === 'INTERNAL') console.error(what, err);
      socket.emit('comment_error', { message: what, error: message, code });
      if (typeof ack === 'function') ack({ ok: false, error: { code, message } });
    }

    socket.on('join_post', async (raw, ack) => {
      try {
        const req = arg(raw);
        const postId = typeof req === 'string' ? req : req && req.postId;
        if (typeof postId !== 'string' || !POST_ID.test(postId)) throw new CommentError('INVALID_POST_ID', 'postId must be 1 to 128 letters, digits or -_.:');
        socket.join('post_' + postId);
        const cs = await history(postId, HISTORY_LIMIT, { since: req && req.since });
        socket.emit('load_comments', cs);
        if (typeof ack === 'function') ack({ ok: true, comments: cs });
      } catch (err) { fail(ack, 'Failed to join post', err); }
    });

    socket.on('leave_post', (raw, ack) => {
      const req = arg(raw);
      const postId = typeof req === 'string' ? req : req && req.postId;
      socket.leave('post_' + postId);
      if (typeof ack === 'function') ack({ ok: true });
    });

    socket.on('new_comment', async (raw, ack) => {
      try {
        const req = arg(raw);
        if (!req || typeof req !== 'object') throw new CommentError('INVALID_PAYLOAD', 'new_comment takes {postId, content, userId}');
        const { postId, content } = req;
        const userId = req.userId || 'anonymous';
        if (typeof postId !== 'string' || !POST_ID.test(postId)) throw new CommentError('INVALID_POST_ID', 'postId must be 1 to 128 letters, digits or -_.:');
        if (typeof userId !== 'string' || !USER_ID.test(userId)) throw new CommentError('INVALID_USER_ID', 'userId must be 1 to 128 letters, digits or -_.:@');
        if (typeof content !== 'string' || content.trim() === '') throw new CommentError('EMPTY_CONTENT', 'content is empty');
        if ([...content].length > MAX_CONTENT) throw new CommentError('CONTENT_TOO_LONG', `content is longer than ${MAX_CONTENT} characters`);
        const doc = { _id: new ObjectId(), postId, userId, content, createdAt: new Date() };
        // The naive step: one insert per comment, awaited before anyone hears of it.
        await comments.insertOne(doc);
        const c = wire(doc);
        socket.emit('comment_confirmed', { message: 'Comment posted', comment: c });
        io.to('post_' + postId).emit('comment_added', c);
        if (typeof ack === 'function') ack({ ok: true, comment: c });
      } catch (err) { fail(ack, 'Failed to post comment', err); }
    });

    socket.on('load_more', async (raw, ack) => {
      try {
        const req = arg(raw);
        if (!req || typeof req.postId !== 'string' || !POST_ID.test(req.postId)) throw new CommentError('INVALID_PAYLOAD', 'load_more takes {postId, before, limit}');
        const limit = Math.min(Math.max(Number(req.limit) || PAGE_LIMIT, 1), 1000);
        const cs = await history(req.postId, limit, { before: req.before });
        if (typeof ack === 'function') ack({ ok: true, comments: cs, next: cs.length === limit ? cs[0]._id : null });
      } catch (err) { fail(ack, 'Failed to load comments', err); }
    });
  });

  server.listen(PORT, HOST, () => console.log(`peer node: listening on ${HOST}:${PORT}, MongoDB ${MONGO_URI} database ${MONGO_DB}`));
  const stop = () => { io.close(); mongo.close().finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { console.error('peer node:', err); process.exit(1); });
