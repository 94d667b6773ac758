package buffer

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Recent returns up to n of the latest comments of a post kept in Redis,
// oldest first. complete is true when Redis is known to hold the post's
// whole history (see Seed), so a shorter answer needs no database read.
func (b *Buffer) Recent(ctx context.Context, postID string, n int) (cs []comment.Comment, complete bool, err error) {
	if n <= 0 {
		return nil, false, nil
	}
	shard := b.Shard(postID)
	var lr *redis.StringSliceCmd
	var ex *redis.IntCmd
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		lr = p.LRange(ctx, b.recentKey(shard, postID), int64(-n), -1)
		ex = p.Exists(ctx, b.key(shard, "complete:"+postID))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("recent of post: %w", classify(err))
	}
	raw := lr.Val()
	cs = make([]comment.Comment, 0, len(raw))
	for _, s := range raw {
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, false, fmt.Errorf("recent of post: decode: %w", err)
		}
		cs = append(cs, c)
	}
	return cs, ex.Val() == 1, nil
}

// seedScript puts older comments, read from the database, in front of a
// post's recent list, if its head is still the one the reader saw.
//
//	KEYS[1] recent, KEYS[2] complete
//	ARGV[1] head id seen ("" for an empty list), ARGV[2] recent length,
//	ARGV[3] TTL (ms), ARGV[4] 1 if the database has nothing older,
//	ARGV[5..] comments newest first
var seedScript = redis.NewScript(`#!lua
local head = redis.call('LINDEX', KEYS[1], 0)
local seen = ARGV[1]
if seen == '' then
  if head then return 0 end
else
  if not head or string.find(head, '"_id":"' .. seen .. '"', 1, true) == nil then return 0 end
end
for i = 5, #ARGV do
  redis.call('LPUSH', KEYS[1], ARGV[i])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
end
-- The list must not expire before the complete flag.
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// Seed puts older comments of a post (newest first, as the database returns
// them) in front of its recent list, so that later joins need no database
// read. headID is the id of the oldest comment Recent returned ("" if none):
// if the list changed at its head meanwhile, Seed does nothing. complete
// says the database has nothing older.
func (b *Buffer) Seed(ctx context.Context, postID, headID string, older []comment.Comment, complete bool) error {
	shard := b.Shard(postID)
	args := make([]any, 4, 4+len(older))
	args[0], args[1], args[2], args[3] = headID, b.cfg.RecentLen, b.cfg.RecentTTL.Milliseconds(), "0"
	if complete {
		args[3] = "1"
	}
	for _, c := range older {
		args = append(args, string(c.JSON()))
	}
	err := seedScript.Run(ctx, b.rdb, []string{b.recentKey(shard, postID), b.key(shard, "complete:"+postID)}, args...).Err()
	if err != nil {
		return fmt.Errorf("seed post: %w", classify(err))
	}
	return nil
}

// Publish adds c to its post's recent list and publishes it to the post's
// readers without buffering it: the write-through path, where c is already
// in the database.
func (b *Buffer) Publish(ctx context.Context, c comment.Comment) error {
	p := c.JSON()
	shard := b.Shard(c.PostID)
	err := publishScript.Run(ctx, b.rdb, []string{b.recentKey(shard, c.PostID)},
		b.cfg.RecentLen, b.cfg.RecentTTL.Milliseconds(), string(p), b.key(shard, "post:"+c.PostID)).Err()
	if err != nil {
		return fmt.Errorf("publish: %w", classify(err))
	}
	return nil
}

var publishScript = redis.NewScript(`#!lua
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SPUBLISH', ARGV[4], ARGV[3])
return 1
`)

// persistedNotice is the message PublishPersisted sends; comments start
// with {"_id", so the prefix tells them apart.
type persistedNotice struct {
	Persisted []string `json:"persisted"`
}

const persistedPrefix = `{"persisted":`

// PublishPersisted tells each post's readers which of its comments are now
// in MongoDB: one message {"persisted":[ids]} per post, on the post's
// channel, pipelined.
func (b *Buffer) PublishPersisted(ctx context.Context, byPost map[string][]string) error {
	if len(byPost) == 0 {
		return nil
	}
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for postID, ids := range byPost {
			msg, err := json.Marshal(persistedNotice{ids})
			if err != nil {
				return err
			}
			p.SPublish(ctx, b.Channel(postID), msg)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish persisted: %w", classify(err))
	}
	return nil
}
