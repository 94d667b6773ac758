package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Changes in the mix: an author edits (with or without the version it
// last saw) and deletes its own recent comments, and now and then tries
// another user's (FORBIDDEN); moderators hide, restore, pin, unpin and
// delete recent comments of anyone. Changes are not idempotent the way a
// new comment's clientId is: a change whose answer never came is resent
// as it was, and the checker treats every send as an attempt of its own
// whose outcome may be unknown (a resent delete of an applied delete gets
// NOT_FOUND; a resent edit without v may apply twice).

// outcome is what a change attempt is known to have done.
type outcome string

const (
	applied outcome = "ok"      // acked with the new state
	refused outcome = "refused" // an answer saying it did not apply
	unknown outcome = "unknown" // no answer (timeout, connection lost), UNAVAILABLE or INTERNAL: it may have applied
)

// change is one send of a change request: the history the register
// checker reads.
type change struct {
	Client  int           `json:"client"`
	User    string        `json:"user"` // who acts
	Mod     bool          `json:"mod,omitempty"`
	Op      string        `json:"op"` // edit, delete, hide, restore, pin, unpin
	Post    string        `json:"post"`
	Comment string        `json:"comment"`
	Content string        `json:"content,omitempty"` // edit
	BaseV   int           `json:"baseV,omitempty"`   // the version sent with an edit (0: none)
	Try     int           `json:"try"`               // 1, then 2... for resends of the same request
	Outcome outcome       `json:"outcome"`
	Code    string        `json:"code,omitempty"`
	State   *state        `json:"state,omitempty"` // applied: the acked new state
	At      time.Duration `json:"atNs"`            // sent, since the start of the load
}

// changeTries bounds the sends of one change request.
const changeTries = 3

// commentRef is a confirmed comment: its id, post and create token.
type commentRef struct {
	id, post, token string
}

// pool holds the most recently confirmed comments of all clients: what
// moderators act on and authors sometimes try to change without the
// right to.
type pool struct {
	mu   sync.Mutex
	ring []commentRef
	next int
}

const poolSize = 256

func (p *pool) add(c commentRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ring) < poolSize {
		p.ring = append(p.ring, c)
		return
	}
	p.ring[p.next] = c
	p.next = (p.next + 1) % poolSize
}

func (p *pool) pick(intn func(int) int) (commentRef, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ring) == 0 {
		return commentRef{}, false
	}
	return p.ring[intn(len(p.ring))], true
}

// changeRequest is one change to send.
type changeRequest struct {
	event   string // edit_comment, delete_comment, moderate, react
	op      string
	post    string
	comment string
	content string // an edit's content; a react's reaction
	v       int
}

func (r changeRequest) body(user string) []byte {
	m := map[string]any{"postId": r.post, "commentId": r.comment, "userId": user}
	switch r.event {
	case "edit_comment":
		m["content"] = r.content
		if r.v > 0 {
			m["v"] = r.v
		}
	case "moderate":
		m["action"] = r.op
	case "react":
		m["reaction"], m["on"] = r.content, r.op == "react"
	}
	b, _ := json.Marshal(m)
	return b
}

// changeOwn changes one of the client's recent comments: edits without
// and with v, deletes, and now and then a change of a recent comment of
// anyone (usually another user's: FORBIDDEN).
func (c *client) changeOwn(ctx context.Context, conn *sioConn, seq int) *sioConn {
	recent := c.own[max(0, len(c.own)-20):]
	k := len(c.own) - len(recent) + c.rng.IntN(len(recent))
	target := c.own[k]
	req := changeRequest{event: "edit_comment", op: "edit", post: target.post, comment: target.id,
		content: fmt.Sprintf("%s%s%d-%d", target.token, editMark, c.id, seq)}
	switch r := c.rng.Float64(); {
	case r < 0.5: // edit, whatever the version
	case r < 0.7: // edit of the version it last saw: CONFLICT if another change came first
		c.mu.Lock()
		req.v = c.ownV[target.id]
		c.mu.Unlock()
	case r < 0.9:
		req.event, req.op, req.content = "delete_comment", "delete", ""
	default:
		other, ok := c.pool.pick(c.rng.IntN)
		if !ok {
			break
		}
		req.post, req.comment = other.post, other.id
		req.content = fmt.Sprintf("%s%s%d-%d", other.token, editMark, c.id, seq)
		if c.rng.IntN(2) == 0 {
			req.event, req.op, req.content = "delete_comment", "delete", ""
		}
	}
	if req.op == "edit" && req.comment == target.id && c.rng.Float64() < burstShare/2 {
		// The author edits in two tabs at once.
		second := req
		second.content += "b"
		return c.burst(ctx, conn, []changeRequest{req, second})
	}
	conn, res := c.sendChange(ctx, conn, req)
	if req.comment == target.id && (res.Outcome == applied && res.State != nil && res.State.Deleted ||
		res.Code == "NOT_FOUND" || res.Code == "EDIT_WINDOW_CLOSED") {
		c.own = append(c.own[:k], c.own[k+1:]...) // gone, or no longer the author's to change
	}
	return conn
}

// reactions are the reactions clients give: two of reactions.allowed.
var reactions = []string{"👍", "❤️"}

// react gives or takes back a reaction to a recent comment of anyone.
// The same user reacting again changes nothing; the checker counts each
// comment's reactions against the users who gave them.
func (c *client) react(ctx context.Context, conn *sioConn) *sioConn {
	target, ok := c.pool.pick(c.rng.IntN)
	if !ok {
		sleepCtx(ctx, 50*time.Millisecond)
		return conn
	}
	req := changeRequest{event: "react", op: "react", post: target.post, comment: target.id,
		content: reactions[c.rng.IntN(len(reactions))]}
	if c.rng.Float64() < 0.3 {
		req.op = "unreact"
	}
	conn, _ = c.sendChange(ctx, conn, req)
	return conn
}

// moderate hides, restores, pins, unpins or deletes a recent comment.
func (c *client) moderate(ctx context.Context, conn *sioConn) *sioConn {
	target, ok := c.pool.pick(c.rng.IntN)
	if !ok {
		sleepCtx(ctx, 50*time.Millisecond)
		return conn
	}
	req := c.modRequest(target)
	if c.rng.Float64() < burstShare {
		// Two moderators at once: changes of one comment decided on the
		// same version race to the append script, which must apply them
		// one version after the other.
		reqs := []changeRequest{req, c.modRequest(target)}
		if c.rng.IntN(2) == 0 {
			reqs = append(reqs, c.modRequest(target))
		}
		return c.burst(ctx, conn, reqs)
	}
	conn, _ = c.sendChange(ctx, conn, req)
	return conn
}

// burstShare is the share of moderations, and of an author's edits, sent
// as a burst of changes of one comment at once, without waiting for the
// answers in between.
const burstShare = 0.2

func (c *client) modRequest(target commentRef) changeRequest {
	req := changeRequest{event: "moderate", post: target.post, comment: target.id}
	switch r := c.rng.Float64(); {
	case r < 0.3:
		req.op = "hide"
	case r < 0.55:
		req.op = "restore"
	case r < 0.7:
		req.op = "pin"
	case r < 0.85:
		req.op = "unpin"
	default:
		req.event, req.op = "delete_comment", "delete"
	}
	return req
}

// burst sends reqs at once on one connection and records each answer;
// nothing is resent (an unanswered one keeps its unknown outcome).
func (c *client) burst(ctx context.Context, conn *sioConn, reqs []changeRequest) *sioConn {
	if conn == nil || conn.isDead() {
		if conn = c.connect(ctx); conn == nil {
			return nil
		}
	}
	out := make([]change, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		out[i] = change{Client: c.id, User: c.user, Mod: c.mod, Op: req.op, Post: req.post, Comment: req.comment,
			Content: req.content, BaseV: req.v, Try: 1, At: time.Since(c.start)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := conn.emitAck(ctx, req.event, req.body(c.user), c.ackTimeout)
			c.answer(&out[i], res, err)
		}()
	}
	wg.Wait()
	lost := false
	for _, a := range out {
		c.changes = append(c.changes, a)
		c.changeCodes[a.codeName()]++
		lost = lost || a.Outcome == unknown && a.Code == ""
	}
	if lost {
		conn.close()
		return nil
	}
	return conn
}

// answer records in a what an answer (or its absence, err) says.
func (c *client) answer(a *change, res ackResult, err error) {
	switch {
	case err != nil: // no answer: it may have applied
		a.Outcome = unknown
	case res.OK:
		a.Outcome = applied
		if w, ok := decodeState(res.Comment); ok {
			st := w.state()
			a.State = &st
			c.obs.tell(w.ID, st, toldAck)
			c.mu.Lock()
			if v, mine := c.ownV[w.ID]; mine && v < st.V {
				c.ownV[w.ID] = st.V
			}
			c.mu.Unlock()
		}
	default:
		a.Code = res.Error.Code
		a.Outcome = refused // BUSY included: refused by the append script
		if a.Code == "UNAVAILABLE" || a.Code == "INTERNAL" {
			a.Outcome = unknown // Redis may have applied it and the answer been lost
		}
	}
}

// codeName is how the report counts an answer.
func (a change) codeName() string {
	switch {
	case a.Outcome == applied:
		return "ok"
	case a.Code != "":
		return a.Code
	}
	return "timeout"
}

// sendChange sends req until it is answered, at most changeTries times,
// and records every send. It returns the last attempt.
func (c *client) sendChange(ctx context.Context, conn *sioConn, req changeRequest) (*sioConn, change) {
	body := req.body(c.user)
	backoff := 50 * time.Millisecond
	var a change
	for try := 1; try <= changeTries && ctx.Err() == nil; try++ {
		if conn == nil || conn.isDead() {
			conn = c.connect(ctx)
			if conn == nil {
				return nil, a
			}
		}
		a = change{Client: c.id, User: c.user, Mod: c.mod, Op: req.op, Post: req.post, Comment: req.comment,
			Content: req.content, BaseV: req.v, Try: try, At: time.Since(c.start)}
		res, err := conn.emitAck(ctx, req.event, body, c.ackTimeout)
		c.answer(&a, res, err)
		c.changes = append(c.changes, a)
		c.changeCodes[a.codeName()]++
		if err != nil {
			conn.close()
			conn = nil
			continue // resend
		}
		if a.Outcome == applied || a.Outcome == refused && a.Code != "BUSY" {
			return conn, a
		}
		sleepCtx(ctx, backoff)
		backoff = min(backoff*2, time.Second)
	}
	return conn, a
}
