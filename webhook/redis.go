package webhook

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// The scripts live in lua/, embedded; each names its KEYS and ARGV.
var (
	//go:embed lua/publish.lua
	publishLua string
	//go:embed lua/renew.lua
	renewLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/batch.lua
	batchLua string
	//go:embed lua/finish.lua
	finishLua string

	publishScript = redis.NewScript(publishLua)
	renewScript   = redis.NewScript(renewLua)
	releaseScript = redis.NewScript(releaseLua)
	batchScript   = redis.NewScript(batchLua)
	finishScript  = redis.NewScript(finishLua)
)

// errLeaseLost is what a fenced script's NOTLEASE becomes: another node
// delivers the endpoint now.
var errLeaseLost = errors.New("webhook: lease lost")

// fenced maps a script's NOTLEASE error to errLeaseLost.
func fenced(err error) error {
	if err != nil && redis.HasErrorPrefix(err, "NOTLEASE") {
		return errLeaseLost
	}
	return err
}

// keys names the Redis keys of the webhooks; all share the hash tag
// {webhooks}, so the scripts work on Redis Cluster.
type keys struct{ base string }

func newKeys(prefix string) keys { return keys{base: prefix + ":{webhooks}:"} }

func (k keys) stream() string                { return k.base + "events" }
func (k keys) seen(batch string) string      { return k.base + "seen:" + batch }
func (k keys) lease(endpoint string) string  { return k.base + "lease:" + endpoint }
func (k keys) cursor(endpoint string) string { return k.base + "cursor:" + endpoint }
func (k keys) batch(endpoint string) string  { return k.base + "batch:" + endpoint }
func (k keys) dead(endpoint string) string   { return k.base + "dead:" + endpoint }

// seenTTL is how long a published batch is remembered: the flusher writes
// a batch again only when its ack failed or its holder died, within a few
// lease lifetimes, so an hour is ample.
const seenTTL = time.Hour

// DefaultMaxLen is the stream's safety cap, in events, when no endpoint
// keeps up: past it the oldest go, delivered or not.
const DefaultMaxLen = 1_000_000

// Publisher appends events to the webhooks' stream.
type Publisher struct {
	rdb    redis.UniversalClient
	keys   keys
	maxLen int64
}

// NewPublisher returns a Publisher on rdb with the keys of prefix and a
// cap of maxLen events (DefaultMaxLen if 0).
func NewPublisher(rdb redis.UniversalClient, prefix string, maxLen int64) *Publisher {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	return &Publisher{rdb: rdb, keys: newKeys(prefix), maxLen: maxLen}
}

// Publish appends evs to the stream in one script, once: publishing the
// same events again (a batch the flusher wrote twice) adds nothing.
func (p *Publisher) Publish(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	h := sha256.New()
	args := make([]any, 2, 2+4*len(evs))
	args[0], args[1] = p.maxLen, seenTTL.Milliseconds()
	for _, ev := range evs {
		h.Write([]byte(ev.ID))
		h.Write([]byte{0})
		args = append(args, ev.ID, ev.Type, ev.Full, ev.Public)
	}
	batch := hex.EncodeToString(h.Sum(nil)[:16])
	if err := publishScript.Run(ctx, p.rdb, []string{p.keys.stream(), p.keys.seen(batch)}, args...).Err(); err != nil {
		return fmt.Errorf("webhook: publish %d events: %w", len(evs), err)
	}
	return nil
}

// Banned publishes user.banned for a ban that was applied (api's
// BanNotifier).
func (p *Publisher) Banned(ctx context.Context, b comment.Ban) error {
	return p.Publish(ctx, []Event{BanEvent(b)})
}

// Writer is what the Sink wraps: the store's bulk write (flusher.Sink).
type Writer interface {
	Write(ctx context.Context, batch []comment.Change) ([]comment.Rejected, error)
}

// Sink is a flusher Sink that publishes a batch's events once the batch is
// in MongoDB, before the flusher acks it: an event is never sent for a
// change that is not stored, and a failed publish fails the write, so the
// flusher writes the batch again (harmless: writes are idempotent) and
// publishes it then.
type Sink struct {
	next Writer
	pub  *Publisher
}

// NewSink returns next with its batches' events published by pub.
func NewSink(next Writer, pub *Publisher) *Sink { return &Sink{next: next, pub: pub} }

// Write writes batch with the wrapped Writer, then publishes the events of
// what it stored.
func (s *Sink) Write(ctx context.Context, batch []comment.Change) ([]comment.Rejected, error) {
	dead, err := s.next.Write(ctx, batch)
	if err != nil {
		return dead, err
	}
	if err := s.pub.Publish(ctx, EventsOf(batch, dead)); err != nil {
		return nil, err
	}
	return dead, nil
}
