// Package buffer is the Redis write-behind buffer of commentd.
//
// A new comment, or a change to one (edit, delete, hide, ...), is an entry
// of its shard's list (shard = hash(postId)); the same Lua script applies
// it to the post's state in Redis (its recent list, and the changed states)
// and publishes it on the post's channel, so that what is broadcast is
// exactly what is buffered, in the buffer's order (guarantees 2, 3 and 9).
// A change applies only if the comment is still at the version it was
// decided on (its ver entry), so two nodes never apply conflicting changes
// in different orders. Concurrent calls share one Redis round trip (group
// commit).
//
// The flusher moves entries out through a lease per shard: Claim moves a
// batch from the shard's list to its in-flight list, Ack deletes the
// in-flight list once the batch is in MongoDB. A holder that dies leaves its
// in-flight list behind, and the next holder's first Claim returns it again.
// Every lease carries a fencing token; Claim and Ack fail with ErrLeaseLost
// for a token that is no longer current, so a paused holder cannot disturb
// its successor.
//
// Every key, of shard n, shares the Redis Cluster hash tag {n}:
//
//	key                             type    holds                                          written by
//	<prefix>:{n}:buf                list    entries to flush, oldest first: comment JSON    append
//	                                        ({"_id"...) or change records ({"op"...)
//	<prefix>:{n}:inflight           list    the batch being flushed                         claim, ack
//	<prefix>:{n}:lease              string  fencing token of the lease holder               acquire, renew, release
//	<prefix>:{n}:leasegen           string  counter behind the tokens                       acquire
//	<prefix>:{n}:dead               list    dead letters (JSON, see DeadLetter)             ack, Claim
//	<prefix>:{n}:commit:<token>     string  one commit's results, for a resent pipeline     append
//	<prefix>:{n}:recent:<postId>    list    the post's latest comments, current state      append, seed, publish
//	<prefix>:{n}:complete:<postId>  string  set when recent holds the post's whole history  seed, Invalidate (deletes)
//	<prefix>:{n}:stored             set     posts that may have comments in the database,  mark (Claim,
//	                                        and "#ready:shards=<shards>" once it is known   MarkStored),
//	                                        complete (stored.go), no expiry                 MarkStoredReady
//	<prefix>:{n}:chg:<postId>       hash    comment id → state, of comments changed lately append
//	                                        or pushed out of recent (the last ChangedLen)
//	<prefix>:{n}:chgt:<postId>      zset    chg's ids by time of their last change (ms)    append
//	<prefix>:{n}:ver:<postId>       hash    comment id → version, of every changed comment append
//	<prefix>:{n}:log:<postId>       list    the post's last LogLen events as published,   append, publish,
//	                                        oldest first (catch-ups, recoveries); an       ScrubUser
//	                                        erased user's comments in them erased
//	<prefix>:{n}:dedupe:<key>       string  a comment appended with an idempotency key     append, ScrubUser
//	                                        (<userId>:<clientId>)                          (deletes)
//	<prefix>:{n}:lock:<postId>      string  set while the post is locked ({by, at}): the   lock
//	                                        append script refuses new comments and edits
//	<prefix>:{n}:post:<postId>      channel the post's events (sharded pub/sub), and its   append, publish, lock
//	                                        post_info when its lock changes
//	<prefix>:{n}:viewers:<postId>   hash    node id → the node's sockets in the post's      Viewers
//	                                        room; a dead node's field dropped by readers;
//	                                        expires an hour after the last write
//	<prefix>:{n}:pinned:<postId>    hash    comment id → state, of the post's pinned ones  append
//	                                        (joins and history put them first), no expiry
//	<prefix>:{n}:queue              hash    comment id → state, of the shard's comments     append
//	                                        held for moderation (pending), no expiry
//	<prefix>:{n}:audit              stream  the audit log of the shard's moderation        append, lock
//	                                        actions (moderate ops, a moderator's delete,
//	                                        lock, unlock): field entry, comment.Audit's
//	                                        JSON; about AuditLen entries, no expiry
//	<prefix>:moderation             channel held comments arriving, changing, leaving the  append
//	                                        queue (PUBLISH: every node's moderators)
//	<prefix>:trusted                set     users with an approved comment (mode first)    Trust, ScrubUser
//	<prefix>:{bans}:bans            hash    user id → ban {reason, by, at, until} (ms;     ban
//	                                        until 0: until lifted); ended ones dropped by
//	                                        the next change
//	<prefix>:{bans}:bans:seq        string  number of the last change of the bans          ban
//	<prefix>:{bans}:events          channel each ban change, numbered (sharded pub/sub)    ban
//	<prefix>:{bans}:audit           stream  the audit log of bans and unbans, as           ban
//	                                        <prefix>:{n}:audit (see audit.go)
//	<prefix>:node:<nodeId>          string  set while the node is alive: Viewers renews it Viewers
//	                                        every tick (1s), for DefaultNodeTTL (5s)
//	<prefix>:flushers               zset    live flushers by heartbeat deadline            Heartbeat
//
// A post's keys expire after history.recent_ttl without comments or changes,
// except its lock, which lasts until lifted. The audit streams never
// expire; each is capped at about AuditLen entries (moderation.audit_len). The bans' keys share the hash
// tag {bans}, so their script and channel work on Redis Cluster; every node
// keeps the bans in memory (BanList).
//
// Buffer is safe for concurrent use.
package buffer
