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
	User      string `json:"user"`
	Attempts  int    `json:"attempts"`
	Confirmed bool   `json:"confirmed"`
	ID        string `json:"id,omitempty"`     // the confirmed comment's _id
	Parent    string `json:"parent,omitempty"` // the comment it replies to
	Code      string `json:"code,omitempty"`   // a final rejection's code
}

// client is one reader-writer of the chaos run: joined to some posts on a
// random live node, it posts comments one at a time with a clientId and
// retries each until confirmed (reconnecting to another node when its own
// dies); a share of its operations are changes to comments instead (see
// changes.go). A moderator client joins every post and only moderates. It
// records what it sent and what was answered, and every room event it
// received.
type client struct {
	id    int
	user  string          // the userId it posts and changes as; "admin" for a moderator
	mod   bool            // connects with the admin token
	admin string          // the admin token
	nodes func() []string // base URLs of the nodes
	posts []string
	think time.Duration
	// ackTimeout is shorter than a paused node's pause: its clients retry
	// elsewhere while the node still holds their first attempt.
	ackTimeout  time.Duration
	changeShare float64 // of an author's operations, the share that are changes
	reactShare  float64 // of an author's operations, the share that are reactions
	replyShare  float64 // of its new comments, the share that reply to a recent comment
	rng         *rand.Rand
	pool        *pool     // recently confirmed comments of every client
	obs         *observed // every state any client was told
	start       time.Time

	ops     []op
	changes []change
	own     []commentRef // this client's confirmed comments, not known deleted

	mu          sync.Mutex
	events      map[string][]event // post → room events in arrival order, all connections
	ownV        map[string]int     // own comment id → highest version seen
	persisted   []string
	badJoins    []shown // tombstones, and hidden comments of others to a non-moderator, in load_comments
	reconnects  int
	dials       uint16
	conn        *sioConn
	retryCodes  map[string]int // BUSY, UNAVAILABLE, INTERNAL answers to new comments, retried
	changeCodes map[string]int // answers to change attempts: "ok", a code, or "timeout"
}

func newClient(id int, nodes func() []string, posts []string, cfg Config, pool *pool, obs *observed, start time.Time) *client {
	return &client{id: id, user: fmt.Sprintf("u%d", id), nodes: nodes, posts: posts, think: cfg.Think,
		ackTimeout: cfg.AckTimeout, changeShare: cfg.ChangeShare, reactShare: cfg.ReactShare, replyShare: cfg.ReplyShare, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(id))),
		pool: pool, obs: obs, start: start, events: map[string][]event{}, ownV: map[string]int{},
		retryCodes: map[string]int{}, changeCodes: map[string]int{}}
}

// newModerator returns a moderator client: it joins every post with the
// admin token and hides, restores, pins, unpins and deletes comments of
// the pool.
func newModerator(id int, nodes func() []string, posts []string, cfg Config, pool *pool, obs *observed, start time.Time) *client {
	c := newClient(id, nodes, posts, cfg, pool, obs, start)
	c.user, c.mod, c.admin = "admin", true, cfg.AdminToken
	return c
}

// run posts (or changes, or moderates) until send is done and finishes the
// operation in hand (retrying until grace is done). The connection stays
// open, listening, until closeConn.
func (c *client) run(send, grace context.Context) {
	var conn *sioConn
	defer func() {
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
	}()
	for seq := 0; send.Err() == nil; seq++ {
		switch {
		case c.mod:
			conn = c.moderate(grace, conn)
		case len(c.own) > 0 && c.rng.Float64() < c.changeShare:
			conn = c.changeOwn(grace, conn, seq)
		case c.rng.Float64() < c.reactShare:
			conn = c.react(grace, conn)
		default:
			o := op{Token: fmt.Sprintf("chaos c%d-%d", c.id, seq), ClientID: fmt.Sprintf("c%d-%d", c.id, seq),
				Post: c.posts[c.rng.IntN(len(c.posts))], User: c.user}
			if c.rng.Float64() < c.replyShare {
				if parent, ok := c.pool.pick(c.rng.IntN); ok {
					o.Post, o.Parent = parent.post, parent.id
				}
			}
			conn = c.post(grace, conn, &o)
			c.ops = append(c.ops, o)
		}
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
	m := map[string]string{"postId": o.Post, "content": o.Token, "clientId": o.ClientID, "userId": o.User}
	if o.Parent != "" {
		m["parentId"] = o.Parent
	}
	body, _ := json.Marshal(m)
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
			w, _ := decodeState(res.Comment)
			o.Confirmed, o.ID = true, w.ID
			if w.ID != "" {
				c.obs.tell(w.ID, w.state(), toldAck)
				c.mu.Lock()
				c.ownV[w.ID] = max(c.ownV[w.ID], 1)
				c.mu.Unlock()
				c.own = append(c.own, commentRef{id: w.ID, post: o.Post, token: o.Token})
				c.pool.add(commentRef{id: w.ID, post: o.Post, token: o.Token})
			}
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
	var auth json.RawMessage
	if c.mod {
		auth, _ = json.Marshal(map[string]string{"token": c.admin})
	}
	for ctx.Err() == nil {
		nodes := c.nodes()
		base := nodes[c.rng.IntN(len(nodes))]
		c.mu.Lock()
		c.dials++
		no := c.dials // events carry their connection's number
		c.mu.Unlock()
		conn, err := dialSIO(ctx, base, auth, func(name string, arg json.RawMessage) { c.event(no, name, arg) })
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

// event records a room event received on connection no.
func (c *client) event(no uint16, name string, arg json.RawMessage) {
	switch name {
	case "comment_added", "comment_updated":
		w, ok := decodeState(arg)
		if !ok {
			return
		}
		st := w.state()
		i := c.obs.tell(w.ID, st, toldLive)
		e := event{c: i, v: int32(st.V), at: c.sinceStart(), conn: no, kind: evUpdated}
		if name == "comment_added" {
			e.kind = evAdded
		}
		switch {
		case st.tombstone():
			e.flags |= flagTombstone
		case st.Deleted:
			e.flags |= flagDeleted
		}
		if st.Status != "" && !c.mod && st.UserID != c.user {
			e.flags |= flagHiddenForeign
		}
		c.mu.Lock()
		c.events[st.PostID] = append(c.events[st.PostID], e)
		if v, mine := c.ownV[w.ID]; mine && st.V > v {
			c.ownV[w.ID] = st.V
		}
		c.mu.Unlock()
	case "comment_removed":
		var r struct {
			PostID    string `json:"postId"`
			CommentID string `json:"commentId"`
		}
		if json.Unmarshal(arg, &r) != nil || r.CommentID == "" {
			return
		}
		i := c.obs.intern(r.CommentID, r.PostID)
		c.mu.Lock()
		c.events[r.PostID] = append(c.events[r.PostID], event{c: i, at: c.sinceStart(), conn: no, kind: evRemoved})
		c.mu.Unlock()
	case "load_comments":
		var cs []wireComment
		if json.Unmarshal(arg, &cs) == nil {
			for _, w := range cs {
				if w.ID == "" {
					continue
				}
				st := w.state()
				c.obs.tell(w.ID, st, toldJoin)
				if st.Deleted && !st.tombstone() || st.Status != "" && !c.mod && st.UserID != c.user {
					c.mu.Lock()
					c.badJoins = append(c.badJoins, shown{ID: w.ID, Via: "join", State: st})
					c.mu.Unlock()
				}
			}
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

func (c *client) sinceStart() uint32 { return uint32(time.Since(c.start).Milliseconds()) }

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ackResult is the ack of new_comment and of the change events.
type ackResult struct {
	OK      bool            `json:"ok"`
	Comment json.RawMessage `json:"comment"`
	Error   struct {
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

func dialSIO(ctx context.Context, base string, auth json.RawMessage, onEvent func(string, json.RawMessage)) (*sioConn, error) {
	conn, err := sioclient.Dial(ctx, base, sioclient.Options{Timeout: 3 * time.Second, WriteTimeout: 5 * time.Second, Auth: auth})
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
	data, err := c.emitAckRaw(ctx, name, arg, timeout)
	if err != nil {
		return ackResult{}, err
	}
	var res ackResult
	if err := json.Unmarshal(data, &res); err != nil {
		return ackResult{}, fmt.Errorf("bad ack %s", data)
	}
	return res, nil
}

// emitAckRaw sends an event with an ack id and returns the ack's first
// argument.
func (c *sioConn) emitAckRaw(ctx context.Context, name string, arg []byte, timeout time.Duration) (json.RawMessage, error) {
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
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case data := <-ch:
		var args []json.RawMessage
		if err := json.Unmarshal(data, &args); err != nil || len(args) == 0 {
			return nil, fmt.Errorf("bad ack %s", data)
		}
		return args[0], nil
	case <-c.dead:
		return nil, errConnLost
	case <-t.C:
		return nil, errors.New("ack timeout")
	case <-ctx.Done():
		return nil, ctx.Err()
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
