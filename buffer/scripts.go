package buffer

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The scripts live in lua/, embedded. Each carries a shebang so that Redis 7
// checks OOM before running a writing script (all or nothing) and enforces
// declared keys. Scripts the flusher needs to drain a full Redis are
// flagged allow-oom: they free memory or add a few bytes. Every KEYS and
// ARGV position is named below, next to the script that reads it.

var (
	//go:embed lua/append.lua
	appendLua string
	//go:embed lua/state.lua
	stateLua string
	//go:embed lua/changed_since.lua
	changedSinceLua string
	//go:embed lua/catch_up.lua
	catchUpLua string
	//go:embed lua/seed.lua
	seedLua string
	//go:embed lua/publish.lua
	publishLua string
	//go:embed lua/acquire.lua
	acquireLua string
	//go:embed lua/renew.lua
	renewLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/claim.lua
	claimLua string
	//go:embed lua/ack.lua
	ackLua string
	//go:embed lua/lock.lua
	lockLua string
	//go:embed lua/ban.lua
	banLua string
	//go:embed lua/counts.lua
	countsLua string
	//go:embed lua/scrub.lua
	scrubLua string
	//go:embed lua/slow.lua
	slowLua string
	//go:embed lua/slow_pass.lua
	slowPassLua string
	//go:embed lua/mark.lua
	markLua string
)

// countsScript seeds the counts of a shard's posts Redis does not count
// yet (Buffer.Counts), if no batch was acked since ARGV[1] and none is in
// flight; else it returns nil and changes nothing.
//
//	KEYS[1] buf, KEYS[2] inflight, KEYS[3] acks, KEYS[3+i] count:<post i>
//	ARGV[1] acks as read before the database was asked, ARGV[2i] post i,
//	ARGV[2i+1] its count in the database
//
// It returns the count of every post, seeded or not.
var countsScript = redis.NewScript(countsLua)

// appendScript appends the new comments and changes of one shard, in order.
//
// KEYS: the shard's lists, this commit's key, the shard's moderation
// queue and audit log, then appendKeysPer keys per item:
//
//	1 buf, 2 inflight, 3 commit:<token>, 4 queue, 5 audit
//	item i (from 0), at appendKeysHead + appendKeysPer*i:
//	  +1 recent:<post>  +2 its idempotency key (a placeholder without one)
//	  +3 chg:<post>     +4 chgt:<post>  +5 ver:<post>  +6 log:<post>
//	  +7 lock:<post>    +8 pinned:<post>  +9 count:<post>
//	  +10 rx:<comment> of a reaction (a placeholder for other items)
//
// ARGV: appendArgsHead settings, then appendArgsPer values per item:
//
//	1 shard limit, 2 recent length, 3 TTL of a post's keys (ms),
//	4 idempotency window (ms), 5 commit key TTL (ms), 6 changed states kept
//	per post, 7 events kept per post (log), 8 the moderation channel,
//	9 entries kept in the audit log (approximately: MAXLEN ~), 10 TTL of
//	the reactors known of a comment (rx, ms)
//	item i, at appendArgsHead + appendArgsPer*i:
//	  +1 kind: "c" new comment, "x" change, "w" change already stored
//	     (write-through), "r" a reaction
//	  +2 payload: the comment's JSON, or the change record's
//	  +3 the post's channel
//	  +4 "1" if a new comment has an idempotency key; a change's comment id
//	  +5 a change's base version   +6 its comment's new state   +7 its time (ms)
//	  +8 "1" if a locked post refuses the item (a new comment, an edit)
//	  +9 a change's audit entry (comment.Audit's JSON, with the moderator's
//	     reason), added to the audit log if the change applies; "" for a
//	     change that is not a moderation action, and for a new comment
//	  +10 what it does to the post's count (comment.Change.Delta; a new
//	      comment's 1 unless held); the count changes if Redis counts it
//	  +11 the parent whose replies it changes ("" for none: no reply, or
//	      a Delta of 0)  +12 the parent's state as last read  +13 its
//	      version  +14 the id of the parent's replies record (of a
//	      reaction: the react record's)  +15 its time, as on the wire
//	  +16 a reaction's reaction  +17 its user  +18 "1" to give it, "0" to
//	      take it back  +19 "1"/"0" the database's word on whether the user
//	      gave it, "" when not asked
//
// A reaction changes the comment's state (decoded, counted, encoded again
// with cjson: the key order is not Go's) once per user and reaction, and
// goes through as a change. A reply's parent's state is decoded the same
// way; its change is a record of op "replies" right after the reply's.
//
// It returns one value per item: 1 appended; 0 refused (over the limit); -1
// a change refused because the comment is no longer at its base version
// (or a reply's parent changed in a way the script cannot follow, or was
// deleted); -2 refused because the post is locked (lock:<post> exists);
// -3 a reaction whose user Redis does not know (the caller asks the
// database and sends it again with +19); a reaction's answer is the
// comment's state after it; or, for a new comment, the payload appended
// earlier under the same idempotency key (a retry: nothing appended). The commit key makes the
// script idempotent: the Redis client resends a pipeline whose reply it
// lost (a timeout, a dropped connection), and a second run returns the
// first run's results instead of appending (or logging) again.
var appendScript = redis.NewScript(appendLua)

// The append script's KEYS and ARGV counts; lua/append.lua's KH, AH, KPER
// and APER must equal them.
const (
	appendKeysHead = 5
	appendKeysPer  = 10
	appendArgsHead = 10
	appendArgsPer  = 19
)

// stateScript returns a comment's state if Redis holds it.
//
//	KEYS[1] recent:<post>, KEYS[2] chg:<post>; ARGV[1] the comment's id
var stateScript = redis.NewScript(stateLua)

// changedSinceScript returns the states of a post's comments changed since
// a time.
//
//	KEYS[1] chgt:<post>, KEYS[2] chg:<post>; ARGV[1] the time (ms)
var changedSinceScript = redis.NewScript(changedSinceLua)

// catchUpScript reads, at one moment, a post's recent comments and the
// states of its comments changed since a time (lua/catch_up.lua).
//
//	KEYS[1] recent:<post>, KEYS[2] chgt:<post>, KEYS[3] chg:<post>;
//	ARGV[1] the time (ms)
var catchUpScript = redis.NewScript(catchUpLua)

// seedScript puts older comments in front of a post's recent list (the
// positions are in lua/seed.lua's header).
var seedScript = redis.NewScript(seedLua)

// publishScript is the write-through path of a new comment (lua/publish.lua).
var publishScript = redis.NewScript(publishLua)

// acquireScript takes the lease if it is free.
//
//	KEYS[1] lease, KEYS[2] leasegen; ARGV[1] owner, ARGV[2] ttl (ms)
//
// Returns the new fencing token, or false when another holder has it.
var acquireScript = redis.NewScript(acquireLua)

// renewScript extends the lease of the current token.
//
//	KEYS[1] lease; ARGV[1] token, ARGV[2] ttl (ms)
var renewScript = redis.NewScript(renewLua)

// releaseScript gives the lease up if the token is current.
//
//	KEYS[1] lease; ARGV[1] token
var releaseScript = redis.NewScript(releaseLua)

// claimScript returns the in-flight batch if there is one (left by a holder
// that died), else moves up to ARGV[2] entries from buf to inflight.
//
//	KEYS[1] buf, KEYS[2] inflight, KEYS[3] lease; ARGV[1] token, ARGV[2] max
//
// Claim then marks the batch's posts stored (markScript) before it returns
// the batch, so before the flusher can write it: joins skip the database
// only for posts whose shard's stored set is complete and lacks them.
var claimScript = redis.NewScript(claimLua)

// ackScript ends a batch: dead letters are kept, the in-flight list goes.
//
//	KEYS[1] inflight, KEYS[2] lease, KEYS[3] dead, KEYS[4] acks (a
//	counter of batches ended, see CountPosts); ARGV[1] token, ARGV[2..]
//	dead letters
var ackScript = redis.NewScript(ackLua)

// lockScript locks or unlocks a post and, if that changed anything,
// publishes post_info and adds the action to the shard's audit log.
//
//	KEYS[1] lock:<post>, KEYS[2] audit (of the post's shard), KEYS[3]
//	slow:<post>; ARGV[1] "1" lock or "0" unlock, ARGV[2] the lock's value,
//	ARGV[3] the post's channel, ARGV[4] the post id, ARGV[5] the audit
//	entry, ARGV[6] entries kept in the audit log (MAXLEN ~)
//
// Returns 1 if the lock changed, else 0. post_info carries the post's
// whole state: locked and slowMode.
var lockScript = redis.NewScript(lockLua)

// slowScript sets a post's slow mode and, if that changed it, publishes
// post_info and adds the action to the shard's audit log.
//
//	KEYS[1] slow:<post>, KEYS[2] audit, KEYS[3] lock:<post>; ARGV[1]
//	seconds (0 off), ARGV[2] the post's channel, ARGV[3] the post id,
//	ARGV[4] the audit entry, ARGV[5] entries kept in the audit log
//
// Returns 1 if it changed, else 0.
var slowScript = redis.NewScript(slowLua)

// slowPassScript lets a user of a slow post post once per interval.
//
//	KEYS[1] slowu:<post>:<user>; ARGV[1] the interval in ms
//
// Returns 0 (go ahead; the interval starts), else the ms left.
var slowPassScript = redis.NewScript(slowPassLua)

// banScript puts or lifts a ban, drops the bans that ended, tells every
// node, and adds the action to the bans' audit log: every put, and a lift
// of a ban that held (lua/ban.lua).
//
//	KEYS[1] bans, KEYS[2] bans:seq, KEYS[3] the bans' audit log;
//	ARGV[1] "put" or "lift", ARGV[2] the user id, ARGV[3] the ban's stored
//	JSON (put), ARGV[4] now (ms), ARGV[5] the bans channel, ARGV[6] the
//	audit entry, ARGV[7] entries kept in the audit log (MAXLEN ~)
//
// Returns {the change's sequence number, the user's ban as it was (JSON)
// or false}.
var banScript = redis.NewScript(banLua)

// scrubScript replaces entries of a post's event log by value (ScrubUser).
//
// KEYS: 1 log:<post>. ARGV: pairs of an entry as read and its replacement.
var scrubScript = redis.NewScript(scrubLua)

// markScript marks posts of one shard stored: they may have comments in
// the database (stored.go). Flagged allow-oom: the flusher marks a
// batch's posts before writing it, also when Redis is full.
//
//	KEYS[1] stored (the posts' shard's set); ARGV the post ids
var markScript = redis.NewScript(markLua)
