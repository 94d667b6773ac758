package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/commentd/commentd/hook"
	"github.com/redis/go-redis/v9"
)

// worker delivers one endpoint while it holds the endpoint's lease.
type worker struct {
	d   *Dispatcher
	ep  Endpoint
	key []byte
	tr  *http.Transport
	hc  *http.Client
	log *slog.Logger
}

// maxAnswer bounds what is read of a receiver's answer, in bytes.
const maxAnswer = 64 << 10

// scanReads bounds the stream reads of one batch, so that a long run of
// events an endpoint does not take moves its cursor in steps.
const scanReads = 8

// batch is an endpoint's batch as Redis holds it: the events after From up
// to To that the endpoint takes, fixed at the first attempt so that every
// retry, on any node, sends the same events under the same webhook-id.
type batch struct {
	From, To string    // stream ids: after From, up to To included
	Attempts int       // attempts started
	Next     time.Time // no attempt before this
}

// DeadLetter is a batch an endpoint kept refusing, kept in its dead-letter
// list: the request's webhook-id and body, and why it failed last.
type DeadLetter struct {
	WebhookID string          `json:"webhookId"`
	Endpoint  string          `json:"endpoint"`
	From      string          `json:"from"` // stream ids: after From, up to To
	To        string          `json:"to"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"lastError"`
	At        time.Time       `json:"at"`
	Body      json.RawMessage `json:"body"`
}

func (w *worker) run(ctx context.Context) {
	keys := w.d.keys
	ttl := w.d.cfg.LeaseTTL
	for ctx.Err() == nil {
		var b [6]byte
		crand.Read(b[:])
		token := w.d.cfg.Owner + "/" + hex.EncodeToString(b[:])
		ok, err := w.d.rdb.SetNX(ctx, keys.lease(w.ep.Name), token, ttl).Result()
		if err != nil && ctx.Err() == nil {
			w.log.Warn("webhook: acquire lease", "err", err)
		}
		if err != nil || !ok {
			sleep(ctx, ttl/3+rand.N(ttl/10+1)) // nodes do not ask together
			continue
		}
		w.log.Debug("webhook: lease taken")
		w.hold(ctx, token)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		releaseScript.Run(rctx, w.d.rdb, []string{keys.lease(w.ep.Name)}, token)
		cancel()
	}
}

// hold delivers under token until the lease is lost or ctx ends. A keeper
// renews the lease every LeaseTTL/3 and stops the delivery once it cannot
// have renewed it in time.
func (w *worker) hold(ctx context.Context, token string) {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		defer cancel()
		ttl := w.d.cfg.LeaseTTL
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
			}
			n, err := renewScript.Run(hctx, w.d.rdb, []string{w.d.keys.lease(w.ep.Name)}, token, ttl.Milliseconds()).Int()
			switch {
			case err == nil && n == 1:
				last = time.Now()
			case err == nil:
				w.log.Info("webhook: lease lost")
				return
			case time.Since(last) > ttl:
				w.log.Warn("webhook: lease not renewed in time", "err", err)
				return
			}
		}
	}()
	defer func() { <-kept }()
	for hctx.Err() == nil {
		idle, err := w.step(hctx, token)
		switch {
		case errors.Is(err, errLeaseLost):
			return
		case err != nil && hctx.Err() == nil:
			w.log.Warn("webhook: delivery", "err", err)
			idle = true
		}
		if idle {
			sleep(hctx, w.d.cfg.Poll)
		}
	}
}

// step does the next thing of the endpoint: forms a batch, waits out its
// backoff, or makes an attempt. idle is true when nothing is to be sent.
func (w *worker) step(ctx context.Context, token string) (idle bool, err error) {
	b, ok, err := w.loadBatch(ctx)
	if err != nil {
		return false, err
	}
	if !ok {
		b, ok, err = w.newBatch(ctx, token)
		if err != nil || !ok {
			return !ok, err
		}
	}
	if wait := time.Until(b.Next); wait > 0 {
		return false, sleep(ctx, wait)
	}
	return false, w.attempt(ctx, token, b)
}

// loadBatch returns the endpoint's batch, if one is fixed.
func (w *worker) loadBatch(ctx context.Context) (batch, bool, error) {
	m, err := w.d.rdb.HGetAll(ctx, w.d.keys.batch(w.ep.Name)).Result()
	if err != nil || m["to"] == "" {
		return batch{}, false, err
	}
	attempts, _ := strconv.Atoi(m["attempts"])
	next, _ := strconv.ParseInt(m["next"], 10, 64)
	return batch{From: m["from"], To: m["to"], Attempts: attempts, Next: time.UnixMilli(next)}, true, nil
}

// newBatch fixes the next batch: up to BatchSize events after the cursor
// that the endpoint takes. Events it does not take move the cursor on.
// ok is false when there is nothing to send.
func (w *worker) newBatch(ctx context.Context, token string) (batch, bool, error) {
	keys := w.d.keys
	cursor, err := w.d.rdb.Get(ctx, keys.cursor(w.ep.Name)).Result()
	if err == redis.Nil {
		// A new endpoint starts with the events published from now on.
		cursor, err = w.startCursor(ctx, token)
	}
	if err != nil {
		return batch{}, false, err
	}
	from, last, to := cursor, cursor, ""
	n := 0
	for range scanReads {
		msgs, err := w.d.rdb.XRangeN(ctx, keys.stream(), "("+last, "+", int64(w.d.cfg.BatchSize)).Result()
		if err != nil {
			return batch{}, false, err
		}
		for _, m := range msgs {
			last = m.ID
			if _, ok := w.pick(m); ok {
				to = m.ID
				if n++; n == w.d.cfg.BatchSize {
					break
				}
			}
		}
		if n == w.d.cfg.BatchSize || len(msgs) < w.d.cfg.BatchSize {
			break
		}
	}
	if to == "" {
		if last != cursor {
			return batch{}, true, w.finish(ctx, token, last, nil)
		}
		return batch{}, false, nil
	}
	b := batch{From: from, To: to}
	err = fenced(batchScript.Run(ctx, w.d.rdb, []string{keys.lease(w.ep.Name), keys.batch(w.ep.Name)},
		token, "from", b.From, "to", b.To, "attempts", 0, "next", 0).Err())
	return b, err == nil, err
}

// startCursor sets a new endpoint's cursor to the stream's last event.
func (w *worker) startCursor(ctx context.Context, token string) (string, error) {
	msgs, err := w.d.rdb.XRevRangeN(ctx, w.d.keys.stream(), "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	cursor := "0-0"
	if len(msgs) == 1 {
		cursor = msgs[0].ID
	}
	return cursor, w.finish(ctx, token, cursor, nil)
}

// pick returns the JSON of the event of m the endpoint gets; ok is false
// if it gets none.
func (w *worker) pick(m redis.XMessage) (string, bool) {
	t, _ := m.Values["t"].(string)
	if !w.ep.wants(t) {
		return "", false
	}
	field := "p"
	if w.ep.Moderation {
		field = "e"
	}
	s, _ := m.Values[field].(string)
	return s, s != ""
}

// attempt sends b once and records the outcome: the cursor moves past it
// on a 2xx or when it is dead-lettered, else the next attempt is set after
// a backoff.
func (w *worker) attempt(ctx context.Context, token string, b batch) error {
	keys := w.d.keys
	msgs, err := w.d.rdb.XRange(ctx, keys.stream(), "("+b.From, b.To).Result()
	if err != nil {
		return err
	}
	body := []byte(`{"type":"batch","endpoint":`)
	body, _ = appendJSON(body, w.ep.Name)
	body = append(body, `,"events":[`...)
	n := 0
	for _, m := range msgs {
		if ev, ok := w.pick(m); ok {
			if n > 0 {
				body = append(body, ',')
			}
			body = append(body, ev...)
			n++
		}
	}
	body = append(body, "]}"...)
	if n == 0 {
		// The range was cut by the stream's cap (webhooks.max_len) before
		// it was sent: nothing is left to send.
		w.log.Warn("webhook: batch trimmed from the stream before delivery", "from", b.From, "to", b.To)
		return w.finish(ctx, token, b.To, nil)
	}
	id := webhookID(w.ep.Name, b)
	// The attempt is counted before it is made: a node that dies during
	// it has used it.
	b.Attempts++
	if err := fenced(batchScript.Run(ctx, w.d.rdb, []string{keys.lease(w.ep.Name), keys.batch(w.ep.Name)},
		token, "attempts", b.Attempts).Err()); err != nil {
		return err
	}
	sendErr := w.send(ctx, id, body)
	if sendErr == nil {
		if obs := w.d.cfg.Observer; obs != nil {
			obs.Delivered(w.ep.Name, n)
		}
		// Recorded even if the node is stopping, so the batch is not sent
		// again; the script still checks the lease.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		return w.finish(fctx, token, b.To, nil)
	}
	if ctx.Err() != nil {
		return ctx.Err() // stopped, or the lease lost: the next holder retries
	}
	if obs := w.d.cfg.Observer; obs != nil {
		obs.Failed(w.ep.Name)
	}
	if b.Attempts >= w.d.cfg.MaxAttempts {
		w.log.Error("webhook: batch dead-lettered", "webhook_id", id, "events", n, "attempts", b.Attempts, "err", sendErr)
		if obs := w.d.cfg.Observer; obs != nil {
			obs.Dead(w.ep.Name, n)
		}
		return w.finish(ctx, token, b.To, &DeadLetter{WebhookID: id, Endpoint: w.ep.Name, From: b.From, To: b.To,
			Attempts: b.Attempts, LastError: sendErr.Error(), At: time.Now().UTC(), Body: body})
	}
	next := time.Now().Add(w.d.cfg.backoff(b.Attempts))
	if b.Attempts == 1 || b.Attempts%5 == 0 {
		w.log.Warn("webhook: delivery failed, retrying", "webhook_id", id, "attempts", b.Attempts, "err", sendErr)
	}
	return fenced(batchScript.Run(ctx, w.d.rdb, []string{keys.lease(w.ep.Name), keys.batch(w.ep.Name)},
		token, "next", next.UnixMilli()).Err())
}

// send POSTs body, signed; any answer but a 2xx is an error.
func (w *worker) send(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "commentd-webhooks")
	req.Header.Set(hook.HeaderID, id)
	req.Header.Set(hook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(hook.HeaderSignature, hook.Sign(w.key, id, ts, body))
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// finish moves the cursor to cursor, forgets the batch and keeps dl if
// set, then trims the stream to what some endpoint still needs.
func (w *worker) finish(ctx context.Context, token, cursor string, dl *DeadLetter) error {
	keys := w.d.keys
	var dead []byte
	if dl != nil {
		dead, _ = json.Marshal(dl)
	}
	err := fenced(finishScript.Run(ctx, w.d.rdb,
		[]string{keys.lease(w.ep.Name), keys.cursor(w.ep.Name), keys.batch(w.ep.Name), keys.dead(w.ep.Name)},
		token, cursor, dead, w.d.cfg.DeadLen).Err())
	if err != nil {
		return err
	}
	return w.d.trim(ctx)
}

// trim drops the events every endpoint has passed (XTRIM MINID the
// slowest cursor); nothing while an endpoint has no cursor yet.
func (d *Dispatcher) trim(ctx context.Context) error {
	names := make([]string, len(d.workers))
	for i, w := range d.workers {
		names[i] = d.keys.cursor(w.ep.Name)
	}
	cursors, err := d.rdb.MGet(ctx, names...).Result()
	if err != nil {
		return err
	}
	var slowest string
	for _, c := range cursors {
		s, ok := c.(string)
		if !ok {
			return nil
		}
		if slowest == "" || idLess(s, slowest) {
			slowest = s
		}
	}
	return d.rdb.XTrimMinID(ctx, d.keys.stream(), slowest).Err()
}

// idLess orders stream ids.
func idLess(a, b string) bool {
	ams, aseq, _ := cutID(a)
	bms, bseq, _ := cutID(b)
	return ams < bms || ams == bms && aseq < bseq
}

func cutID(id string) (ms, seq uint64, err error) {
	m, s, _ := strings.Cut(id, "-")
	ms, err = strconv.ParseUint(m, 10, 64)
	if err == nil && s != "" {
		seq, err = strconv.ParseUint(s, 10, 64)
	}
	return ms, seq, err
}

// webhookID is a batch's webhook-id: the same for every attempt, on any
// node ("msg_" + a hash of the endpoint and the batch's range).
func webhookID(endpoint string, b batch) string {
	h := sha256.Sum256([]byte(endpoint + "\x00" + b.From + "\x00" + b.To))
	return "msg_" + hex.EncodeToString(h[:16])
}

func appendJSON(dst []byte, s string) ([]byte, error) {
	p, err := json.Marshal(s)
	return append(dst, p...), err
}
