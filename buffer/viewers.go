package buffer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Live viewers of a post: the number of sockets in its room on every node.
// Each node counts its own in memory and shares the count in the post's
// hash viewers:<postId> (field: node id, value: its count). A node proves
// it is alive with node:<nodeId>, a key with a short TTL renewed every
// tick; the fields of a node whose key is gone are skipped by readers and
// dropped by them, so a SIGKILLed node's share disappears within NodeTTL.
// No list of who is reading is kept: one field per node and post.
//
// Once a tick a node writes, in one pipeline, its liveness key and the
// shares that changed since the last tick (not one write per join), then
// reads the hashes of the posts it has readers of and hands each total that
// changed to the handler: readers hear of a change at most once a tick.

// Defaults of ViewersConfig.
const (
	// DefaultViewersTick is how often a node shares its counts and reads
	// the totals: post_info.viewers changes at most this often.
	DefaultViewersTick = time.Second
	// DefaultNodeTTL is how long a node's shares outlive its last tick:
	// a node that dies stops counting within it. Must be several ticks,
	// so that a slow tick does not drop a live node.
	DefaultNodeTTL = 5 * time.Second
	// viewersKeyTTL bounds how long a post's hash outlives every node
	// that wrote it; a node rewrites its share at least every half of it.
	viewersKeyTTL = time.Hour
)

// ViewersConfig configures Viewers. Zero fields take the defaults noted.
type ViewersConfig struct {
	Node    string        // this node's id; random
	Tick    time.Duration // DefaultViewersTick (1s)
	NodeTTL time.Duration // DefaultNodeTTL (5s)
}

// ViewersHandler receives the total viewers of a post this node has
// readers of, when it changed (at most once a tick). api.Comments is the
// implementation: it sends post_info to the post's room on this node.
type ViewersHandler interface {
	HandleViewers(postID string, viewers int)
}

// Viewers counts this node's readers of each post and shares the counts
// with every node through Redis. Safe for concurrent use; Run shares and
// reads until Close.
type Viewers struct {
	b       *Buffer
	cfg     ViewersConfig
	handler ViewersHandler

	mu    sync.Mutex
	posts map[string]*viewed
	// gone holds posts whose last local reader left before their share
	// was removed from Redis: the next tick deletes the field.
	gone map[string]struct{}

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// viewed is what a node knows of one post it has readers of.
type viewed struct {
	local     int       // sockets in the post's room on this node
	written   int       // the share last written to Redis (0: none)
	writtenAt time.Time // when
	others    int       // the other live nodes' shares, as last read
	sent      int       // the total last handed to the handler (-1: none)
}

// NewViewers returns the post viewer counts of this node. RegisterHandler
// must be called before Run.
func (b *Buffer) NewViewers(cfg ViewersConfig) *Viewers {
	if cfg.Node == "" {
		var r [8]byte
		rand.Read(r[:])
		cfg.Node = hex.EncodeToString(r[:])
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultViewersTick
	}
	if cfg.NodeTTL <= 0 {
		cfg.NodeTTL = DefaultNodeTTL
	}
	return &Viewers{b: b, cfg: cfg, posts: make(map[string]*viewed), gone: make(map[string]struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// RegisterHandler sets who hears of changed totals.
func (v *Viewers) RegisterHandler(h ViewersHandler) {
	v.mu.Lock()
	v.handler = h
	v.mu.Unlock()
}

// Node returns this node's id.
func (v *Viewers) Node() string { return v.cfg.Node }

func (v *Viewers) hashKey(postID string) string {
	return v.b.postKey(v.b.Shard(postID), "viewers", postID)
}

func (v *Viewers) nodeKey(node string) string { return v.b.cfg.Prefix + ":node:" + node }

// Join counts a reader (a socket joining the post's room) on this node.
func (v *Viewers) Join(postID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.posts[postID]
	if p == nil {
		p = &viewed{sent: -1}
		v.posts[postID] = p
		delete(v.gone, postID)
	}
	p.local++
}

// Leave uncounts a reader of the post on this node.
func (v *Viewers) Leave(postID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.posts[postID]
	if p == nil {
		return
	}
	if p.local--; p.local > 0 {
		return
	}
	delete(v.posts, postID)
	if p.written > 0 {
		v.gone[postID] = struct{}{}
	}
}

// Total returns the post's viewers: this node's count now and the other
// nodes' shares, read from Redis unless a tick read them already.
func (v *Viewers) Total(ctx context.Context, postID string) (int, error) {
	v.mu.Lock()
	p := v.posts[postID]
	if p != nil && p.sent >= 0 {
		n := p.local + p.others
		v.mu.Unlock()
		return n, nil
	}
	v.mu.Unlock()
	others, _, err := v.readOthers(ctx, []string{postID})
	if err != nil {
		return 0, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n := others[postID]
	if p := v.posts[postID]; p != nil {
		n += p.local
	}
	return n, nil
}

// Run shares this node's counts and reads the totals every tick until
// Close, then removes this node's shares.
func (v *Viewers) Run() {
	defer close(v.done)
	t := time.NewTicker(v.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			v.withdraw()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), v.cfg.NodeTTL)
			if err := v.tick(ctx); err != nil {
				v.b.cfg.Logger.Warn("buffer: viewers", "err", err)
			}
			cancel()
		}
	}
}

// Close stops Run and waits for it; the node's shares are removed.
func (v *Viewers) Close() error {
	v.stopOnce.Do(func() { close(v.stop) })
	<-v.done
	return nil
}

// share is one post's count to write in a tick.
type share struct {
	postID string
	n      int
}

// tick writes the liveness key and the changed shares, then reads the
// totals of the posts with readers here and hands over those that changed.
func (v *Viewers) tick(ctx context.Context) error {
	now := time.Now()
	var writes []share
	var read []string
	v.mu.Lock()
	for id := range v.gone {
		writes = append(writes, share{id, 0})
	}
	clear(v.gone)
	for id, p := range v.posts {
		read = append(read, id)
		if p.local != p.written || now.Sub(p.writtenAt) > viewersKeyTTL/2 {
			writes = append(writes, share{id, p.local})
		}
	}
	v.mu.Unlock()

	_, err := v.b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, v.nodeKey(v.cfg.Node), 1, v.cfg.NodeTTL)
		for _, w := range writes {
			key := v.hashKey(w.postID)
			if w.n == 0 {
				pipe.HDel(ctx, key, v.cfg.Node)
				continue
			}
			pipe.HSet(ctx, key, v.cfg.Node, w.n)
			pipe.Expire(ctx, key, viewersKeyTTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("share viewers: %w", classify(err))
	}
	v.mu.Lock()
	for _, w := range writes {
		if p := v.posts[w.postID]; p != nil {
			p.written, p.writtenAt = w.n, now
		}
	}
	v.mu.Unlock()
	if len(read) == 0 {
		return nil
	}

	others, mine, err := v.readOthers(ctx, read)
	if err != nil {
		return err
	}
	type total struct {
		postID string
		n      int
	}
	var changed []total
	v.mu.Lock()
	for _, id := range read {
		p := v.posts[id]
		if p == nil {
			continue // left meanwhile
		}
		p.others = others[id]
		if !mine[id] && p.written > 0 {
			// Dropped by another node that took this one for dead (a
			// tick slower than NodeTTL): written again next tick.
			p.written = 0
		}
		if n := p.local + p.others; n != p.sent {
			p.sent = n
			changed = append(changed, total{id, n})
		}
	}
	h := v.handler
	v.mu.Unlock()
	if h != nil {
		for _, c := range changed {
			h.HandleViewers(c.postID, c.n)
		}
	}
	return nil
}

// readOthers returns the shares of live nodes other than this one, summed
// by post, and the posts that hold this node's share; it drops the fields
// of nodes found dead.
func (v *Viewers) readOthers(ctx context.Context, posts []string) (map[string]int, map[string]bool, error) {
	cmds := make([]*redis.MapStringStringCmd, len(posts))
	_, err := v.b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, id := range posts {
			cmds[i] = pipe.HGetAll(ctx, v.hashKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read viewers: %w", classify(err))
	}
	nodes := make(map[string]*redis.IntCmd)
	for _, c := range cmds {
		for node := range c.Val() {
			if node != v.cfg.Node {
				nodes[node] = nil
			}
		}
	}
	if len(nodes) > 0 {
		_, err = v.b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for node := range nodes {
				nodes[node] = pipe.Exists(ctx, v.nodeKey(node))
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read live nodes: %w", classify(err))
		}
	}
	out := make(map[string]int, len(posts))
	mine := make(map[string]bool, len(posts))
	var dead []share // post, and the index of a dead node's field
	var deadNodes []string
	for i, c := range cmds {
		for node, val := range c.Val() {
			if node == v.cfg.Node {
				mine[posts[i]] = true
				continue
			}
			if nodes[node].Val() == 0 {
				dead = append(dead, share{posts[i], len(deadNodes)})
				deadNodes = append(deadNodes, node)
				continue
			}
			n, _ := strconv.Atoi(val)
			out[posts[i]] += n
		}
	}
	if len(dead) > 0 {
		// Best effort: another reader drops them otherwise.
		v.b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, d := range dead {
				pipe.HDel(ctx, v.hashKey(d.postID), deadNodes[d.n])
			}
			return nil
		})
	}
	return out, mine, nil
}

// withdraw removes this node's shares and liveness key, so other nodes
// stop counting it at once rather than after NodeTTL.
func (v *Viewers) withdraw() {
	v.mu.Lock()
	var posts []string
	for id := range v.gone {
		posts = append(posts, id)
	}
	for id, p := range v.posts {
		if p.written > 0 {
			posts = append(posts, id)
		}
	}
	v.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), v.cfg.NodeTTL)
	defer cancel()
	_, err := v.b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, v.nodeKey(v.cfg.Node))
		for _, id := range posts {
			pipe.HDel(ctx, v.hashKey(id), v.cfg.Node)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.ErrClosed) {
		v.b.cfg.Logger.Warn("buffer: withdraw viewers", "err", err)
	}
}
