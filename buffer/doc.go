// Package buffer is the Redis write-behind buffer of commentd.
//
// A comment is appended to the list of its shard (shard = hash(postId)) and
// to the recent-history list of its post, and published on the post's
// channel, all in one Lua script, so that what is broadcast is exactly what
// is buffered, in the buffer's order (guarantees 2 and 3). Concurrent
// Append calls share one Redis round trip (group commit).
//
// The flusher moves comments out through a lease per shard: Claim moves a
// batch from the shard's list to its in-flight list, Ack deletes the
// in-flight list once the batch is in MongoDB. A holder that dies leaves its
// in-flight list behind, and the next holder's first Claim returns it again.
// Every lease carries a fencing token; Claim and Ack fail with ErrLeaseLost
// for a token that is no longer current, so a paused holder cannot disturb
// its successor.
//
// Keys of shard n share the Redis Cluster hash tag {n}:
//
//	<prefix>:{n}:buf              pending comments, oldest first
//	<prefix>:{n}:inflight         the batch being flushed
//	<prefix>:{n}:lease            fencing token of the lease holder
//	<prefix>:{n}:leasegen         counter behind the tokens
//	<prefix>:{n}:dead             dead letters (JSON, see DeadLetter)
//	<prefix>:{n}:recent:<postId>  the post's latest comments
//	<prefix>:{n}:complete:<postId> set when recent holds the post's whole history
//	<prefix>:{n}:dedupe:<key>     a comment appended with an idempotency key
//	<prefix>:{n}:post:<postId>    sharded pub/sub channel of the post
//
// Buffer is safe for concurrent use.
package buffer
