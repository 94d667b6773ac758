package buffer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Errors of the buffer; classify with errors.Is.
var (
	// ErrBusy means the shard is over its high-water mark, or Redis is out
	// of memory: the comment was not accepted.
	ErrBusy = fmt.Errorf("buffer: %w", comment.ErrBusy)
	// ErrUnavailable means Redis could not be reached; the comment may or
	// may not have been appended.
	ErrUnavailable = fmt.Errorf("buffer: redis: %w", comment.ErrUnavailable)
	// ErrClosed means Close was called.
	ErrClosed = errors.New("buffer: closed")
	// ErrLeaseLost means the fencing token is no longer the shard's lease.
	ErrLeaseLost = errors.New("buffer: lease lost")
	// ErrStale means a change was not applied: its comment is no longer at
	// the change's base version.
	ErrStale = fmt.Errorf("buffer: %w", comment.ErrStale)
	// ErrLocked means a new comment or an edit was not appended: its post
	// is locked.
	ErrLocked = fmt.Errorf("buffer: %w", comment.ErrLocked)
)

// Config configures a Buffer. Zero fields take the defaults noted.
type Config struct {
	Prefix     string        // key prefix; "cmt"
	Shards     int           // number of shard lists; 4
	MaxLen     int64         // high-water mark of all shards together; 1,000,000
	RecentLen  int           // comments kept per post for joins; 200
	RecentTTL  time.Duration // a post's keys expire after this long without comments; 168h
	ChangedLen int           // states of changed comments kept per post, for history and replays; 1000
	LogLen     int           // events kept per post, for catch-ups and recoveries in order; 500
	MaxBatch   int           // comments per group-commit round trip; 512
	Committers int           // round trips in flight at once, for different shards; 2
	Timeout    time.Duration // limit of one round trip; 5s
	// DedupeWindow is how long an idempotency key of AppendOnce holds; 10m.
	DedupeWindow time.Duration
	// AuditLen is how many entries each audit log stream keeps (one per
	// shard, one for the bans), approximately (XADD MAXLEN ~); 100,000.
	AuditLen int64
	Logger   *slog.Logger // slog.Default()
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = "cmt"
	}
	if c.Shards <= 0 {
		c.Shards = 4
	}
	if c.MaxLen <= 0 {
		c.MaxLen = 1_000_000
	}
	if c.RecentLen <= 0 {
		c.RecentLen = 200
	}
	if c.RecentTTL <= 0 {
		c.RecentTTL = 168 * time.Hour
	}
	if c.LogLen <= 0 {
		c.LogLen = 500
	}
	if c.ChangedLen <= 0 {
		c.ChangedLen = 1000
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 512
	}
	if c.Committers <= 0 {
		c.Committers = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = 10 * time.Minute
	}
	if c.AuditLen <= 0 {
		c.AuditLen = 100_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Buffer is the Redis write-behind buffer.
type Buffer struct {
	rdb      redis.UniversalClient
	cfg      Config
	shardMax int64 // high-water mark of one shard: ceil(MaxLen / Shards)

	reqs []chan *request // one per committer; a shard always goes to the same one
	stop chan struct{}
	wg   sync.WaitGroup // committers

	mu      sync.RWMutex
	closed  bool
	pending sync.WaitGroup // Append calls in progress

	cold coldCounts // counts of posts being counted in the database
}

// New returns a Buffer on rdb (a client, or a cluster client) and starts its
// committers. Close stops them.
func New(rdb redis.UniversalClient, cfg Config) *Buffer {
	cfg.setDefaults()
	b := &Buffer{
		rdb:      rdb,
		cfg:      cfg,
		shardMax: (cfg.MaxLen + int64(cfg.Shards) - 1) / int64(cfg.Shards),
		reqs:     make([]chan *request, cfg.Committers),
		stop:     make(chan struct{}),
	}
	for i := range b.reqs {
		b.reqs[i] = make(chan *request, cfg.MaxBatch)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.commitLoop(b.reqs[i])
		}()
	}
	return b
}

// Close waits for the Append calls in progress to finish, then stops the
// committers. Later Appends fail with ErrClosed. It does not close rdb.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.pending.Wait()
	close(b.stop)
	b.wg.Wait()
	return nil
}

// Shards returns the number of shards.
func (b *Buffer) Shards() int { return b.cfg.Shards }

// Shard returns the shard of a post: FNV-1a of its id modulo Shards.
func (b *Buffer) Shard(postID string) int {
	h := fnv.New32a()
	io.WriteString(h, postID)
	return int(h.Sum32() % uint32(b.cfg.Shards))
}

func (b *Buffer) key(shard int, name string) string {
	return b.cfg.Prefix + ":{" + strconv.Itoa(shard) + "}:" + name
}

func (b *Buffer) recentKey(shard int, postID string) string {
	return b.key(shard, "recent:"+postID)
}

// postKey returns the key of a post's family name (chg, chgt, ver, ...).
func (b *Buffer) postKey(shard int, family, postID string) string {
	return b.key(shard, family+":"+postID)
}

// Channel returns the sharded pub/sub channel of a post.
func (b *Buffer) Channel(postID string) string {
	return b.key(b.Shard(postID), "post:"+postID)
}

// classify maps a Redis error to ErrBusy, ErrUnavailable or ErrLeaseLost,
// keeping the cause.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rerr redis.Error
	switch {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrUnavailable), errors.Is(err, ErrLeaseLost), errors.Is(err, ErrLocked):
		return err
	case redis.IsOOMError(err):
		return fmt.Errorf("%w: %v", ErrBusy, err)
	case redis.HasErrorPrefix(err, "NOTLEASE"): // our scripts' own error
		return ErrLeaseLost
	case redis.IsLoadingError(err), redis.IsClusterDownError(err), redis.IsTryAgainError(err),
		redis.IsMasterDownError(err), redis.IsMaxClientsError(err):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.As(err, &rerr):
		return err
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// isNoScript reports whether Redis lost its script cache (a restart).
func isNoScript(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") }
