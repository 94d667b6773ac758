// Package webhook sends signed webhooks of comment changes to the
// configured endpoints (webhooks.endpoints), at least once, in batches.
//
// Events are published only once their change is in MongoDB: Sink wraps
// the flusher's Sink and, after a batch is written and before the flusher
// acks it, appends the batch's events to one Redis stream (a failed append
// fails the write, which the flusher retries; writes are idempotent and a
// batch is appended once). The flusher does nothing else for webhooks: a
// slow or dead endpoint never holds it up. A ban appends user.banned when
// it is applied (Publisher.Banned).
//
// Events, each {id, type, timestamp, data}; id is stable ("evt_" + the
// change record's id, a new comment's id for comment.created):
//
//	comment.created   a new comment (data: the comment)
//	comment.updated   edit, restore, pin, unpin (data: the comment)
//	comment.approved  a held comment approved (data: the comment)
//	comment.removed   delete, reject, hide, erase (data: {postId, commentId,
//	                  reason: the op, v, comment: its state on a hide, to
//	                  moderation endpoints only})
//	user.banned       a ban (data: {userId, reason, by, at, until})
//
// Reactions and reply counts (react, unreact, replies) send nothing. A
// pending or hidden comment reaches only endpoints with moderation: true;
// the others learn of a hide as comment.removed without content, and of a
// held comment only when it is approved (comment.approved, the comment).
//
// Delivery: every node runs a Dispatcher with one goroutine per endpoint,
// and only the holder of the endpoint's lease (SET NX PX, renewed every
// LeaseTTL/3) delivers it; when the holder dies, another takes over once
// the lease expires. Each endpoint has a cursor (the last stream id it is
// done with) and at most one batch: the next up to BatchSize events after
// the cursor that it takes, fixed in Redis at its first attempt, so every
// retry, on any node, sends the same events under the same webhook-id. A
// 2xx moves the cursor past the batch; anything else, or no answer within
// Timeout, is retried after an exponential backoff with jitter, and after
// MaxAttempts the batch goes to the endpoint's dead letters and the cursor
// moves on. The stream is trimmed to the slowest endpoint's cursor, and
// capped at about MaxLen events whatever the endpoints' state.
//
// Every key shares the Redis Cluster hash tag {webhooks}:
//
//	key                                 type    holds                                      written by
//	<prefix>:{webhooks}:events          stream  events: id, t (type), e (JSON for          Sink, Banned (publish.lua),
//	                                            moderation endpoints), p (for the others;  trim
//	                                            absent: moderation endpoints only)
//	<prefix>:{webhooks}:seen:<hash>     string  a published batch (hash of its event ids), publish.lua
//	                                            so a batch written twice is appended once;
//	                                            expires after an hour
//	<prefix>:{webhooks}:lease:<name>    string  token of the node delivering the endpoint  worker (SET NX), renew, release
//	<prefix>:{webhooks}:cursor:<name>   string  the last stream id the endpoint is done    finish.lua
//	                                            with (delivered, skipped or dead)
//	<prefix>:{webhooks}:batch:<name>    hash    the batch being delivered: from, to        batch.lua, finish.lua
//	                                            (stream ids), attempts, next (ms)
//	<prefix>:{webhooks}:dead:<name>     list    dead letters (JSON, see DeadLetter), the   finish.lua
//	                                            last DeadLen
//
// A request:
//
//	POST <url>
//	content-type: application/json
//	webhook-id: msg_<hash of the endpoint and the batch's range>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
//	{"type":"batch","endpoint":"<name>","events":[{"id":…,"type":…,"timestamp":…,"data":{…}},…]}
//
// Dispatcher and Publisher are safe for concurrent use.
package webhook
