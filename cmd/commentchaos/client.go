package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
	"github.com/commentd/commentd/realtime/socketio"
)

// op is one comment a client tried to post: the history the checker reads.
type op struct {
	Token     string `json:"token"` // unique content of the comment
	ClientID  string `json:"clientId"`
	Post      string `json:"post"`
	Attempts  int    `json:"attempts"`
	Confirmed bool   `json:"confirmed"`
	ID        string `json:"id,omitempty"`   // the confirmed comment's _id
	Code      string `json:"code,omitempty"` // a final rejection's code
}

// client is one reader-writer of the chaos run: joined to some posts on a
// random live node, it posts comments one at a time with a clientId and
// retries each until confirmed (reconnecting to another node when its own
// dies). It records what it sent, what was confirmed, and every
// comment_added and comment_persisted it saw.
type client struct {
	id    int
	nodes func() []string // base URLs of the nodes
	posts []string
	think time.Duration
	// ackTimeout is shorter than a paused node's pause: its clients retry
	// elsewhere while the node still holds their first attempt.
	ackTimeout time.Duration
	rng        *rand.Rand

	ops []op

	mu         sync.Mutex
	added      map[string][]string // post → ids in arrival order, per connection appended
	persisted  []string
	reconnects int
	conn       *sioConn
	retryCodes map[string]int // BUSY, UNAVAILABLE, INTERNAL answers, retried
}

func newClient(id int, nodes func() []string, posts []string, think, ackTimeout time.Duration, seed uint64) *client {
	return &client{id: id, nodes: nodes, posts: posts, think: think, ackTimeout: ackTimeout,
		rng: rand.New(rand.NewPCG(seed, uint64(id))), added: map[string][]string{}, retryCodes: map[string]int{}}
}

// run posts until send is done and finishes the comment in hand (retrying
// until grace is done). The connection stays open, listening, until
// closeConn.
func (c *client) run(send, grace context.Context) {
	var conn *sioConn
	defer func() {
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
	}()
	for seq := 0; send.Err() == nil; seq++ {
		o := op{Token: fmt.Sprintf("chaos c%d-%d", c.id, seq), ClientID: fmt.Sprintf("c%d-%d", c.id, seq),
			Post: c.posts[c.rng.IntN(len(c.posts))]}
		conn = c.post(grace, conn, &o)
		c.ops = append(c.ops, o)
		if c.think > 0 {
			sleepCtx(send, c.think/2+time.Duration(c.rng.Int64N(int64(c.think))))
		}
	}
}

func (c *client) closeConn() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.close()
	}
}

// post sends o until it is confirmed or finally rejected, or until ctx is
// done (then o stays unconfirmed: indeterminate).
func (c *client) post(ctx context.Context, conn *sioConn, o *op) *sioConn {
	body, _ := json.Marshal(map[string]string{"postId": o.Post, "content": o.Token, "clientId": o.ClientID, "userId": "chaos"})
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if conn == nil || conn.isDead() {
			conn = c.connect(ctx)
			if conn == nil {
				return nil
			}
		}
		o.Attempts++
		res, err := conn.emitAck(ctx, "new_comment", body, c.ackTimeout)
		switch {
		case err != nil: // timeout or connection lost: the comment may exist
			conn.close()
			conn = nil
		case res.OK:
			o.Confirmed, o.ID = true, res.Comment.ID
			return conn
		case res.Error.Code == "BUSY" || res.Error.Code == "UNAVAILABLE" || res.Error.Code == "INTERNAL":
			c.retryCodes[res.Error.Code]++
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, time.Second)
		default:
			o.Code = res.Error.Code
			return conn
		}
	}
	return conn
}

// connect dials a random node until one accepts, then joins the posts.
func (c *client) connect(ctx context.Context) *sioConn {
	for ctx.Err() == nil {
		nodes := c.nodes()
		base := nodes[c.rng.IntN(len(nodes))]
		conn, err := dialSIO(ctx, base, c.event)
		if err == nil {
			for _, p := range c.posts {
				arg, _ := json.Marshal(p)
				conn.emit("join_post", arg)
			}
			c.mu.Lock()
			c.reconnects++
			c.mu.Unlock()
			return conn
		}
		sleepCtx(ctx, 100*time.Millisecond+time.Duration(c.rng.Int64N(int64(200*time.Millisecond))))
	}
	return nil
}

func (c *client) event(name string, arg json.RawMessage) {
	switch name {
	case "comment_added":
		var cm struct {
			ID     string `json:"_id"`
			PostID string `json:"postId"`
		}
		if json.Unmarshal(arg, &cm) == nil {
			c.mu.Lock()
			c.added[cm.PostID] = append(c.added[cm.PostID], cm.ID)
			c.mu.Unlock()
		}
	case "comment_persisted":
		var p struct {
			IDs []string `json:"ids"`
		}
		if json.Unmarshal(arg, &p) == nil {
			c.mu.Lock()
			c.persisted = append(c.persisted, p.IDs...)
			c.mu.Unlock()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ackResult is new_comment's ack.
type ackResult struct {
	OK      bool `json:"ok"`
	Comment struct {
		ID string `json:"_id"`
	} `json:"comment"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

var errConnLost = errors.New("connection lost")

// sioConn adds what the chaos client needs to the tools' lean Socket.IO
// client: acks matched by id, events handed to onEvent, and dead closed
// when the reader ends.
type sioConn struct {
	*sioclient.Conn
	onEvent func(string, json.RawMessage)
	dead    chan struct{}

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan json.RawMessage
}

func dialSIO(ctx context.Context, base string, onEvent func(string, json.RawMessage)) (*sioConn, error) {
	conn, err := sioclient.Dial(ctx, base, sioclient.Options{Timeout: 3 * time.Second, WriteTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	c := &sioConn{Conn: conn, onEvent: onEvent, dead: make(chan struct{}), pending: map[int64]chan json.RawMessage{}}
	go func() {
		defer close(c.dead)
		c.ReadLoop(c.packet)
	}()
	return c, nil
}

func (c *sioConn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *sioConn) close() {
	c.Close()
	<-c.dead
}

func (c *sioConn) emit(name string, arg []byte) error { return c.Emit(-1, name, arg) }

// emitAck sends an event with an ack id and waits for the ack.
func (c *sioConn) emitAck(ctx context.Context, name string, arg []byte, timeout time.Duration) (ackResult, error) {
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.Emit(id, name, arg); err != nil {
		return ackResult{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case data := <-ch:
		var args []ackResult
		if err := json.Unmarshal(data, &args); err != nil || len(args) == 0 {
			return ackResult{}, fmt.Errorf("bad ack %s", data)
		}
		return args[0], nil
	case <-c.dead:
		return ackResult{}, errConnLost
	case <-t.C:
		return ackResult{}, errors.New("ack timeout")
	case <-ctx.Done():
		return ackResult{}, ctx.Err()
	}
}

// packet handles one Socket.IO packet; the reader reuses data's memory.
func (c *sioConn) packet(data []byte) {
	pk, err := socketio.Decode(bytes.Clone(data), socketio.Limits{})
	if err != nil {
		return
	}
	switch pk.Type {
	case socketio.PacketAck:
		c.mu.Lock()
		ch := c.pending[pk.ID]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- pk.Data:
			default:
			}
		}
	case socketio.PacketEvent:
		name, args, err := socketio.EventName(pk.Data)
		if err == nil && len(args) > 0 {
			c.onEvent(name, args[0])
		}
	case socketio.PacketDisconnect:
		c.Close()
	}
}
