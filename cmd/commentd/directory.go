package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/redis/go-redis/v9"
)

var _ engineio.Directory = (*directory)(nil)

// directory records in Redis which node holds each long-polling session:
// <prefix>:sid:<sid> → host:port, for a day (sessions end long before; a
// node that dies leaves entries that point nowhere, and requests for them
// get "Session ID unknown", as for any lost session).
type directory struct {
	rdb    redis.UniversalClient
	prefix string
	self   atomic.Value // string
}

const (
	directoryTTL     = 24 * time.Hour
	directoryTimeout = 2 * time.Second
)

func (d *directory) Self() string {
	s, _ := d.self.Load().(string)
	return s
}

func (d *directory) key(sid string) string { return d.prefix + ":sid:" + sid }

func (d *directory) Claim(sid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	return d.rdb.Set(ctx, d.key(sid), d.Self(), directoryTTL).Err()
}

func (d *directory) Release(sid string) {
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	d.rdb.Del(ctx, d.key(sid))
}

func (d *directory) Owner(sid string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	addr, err := d.rdb.Get(ctx, d.key(sid)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return addr, err
}

// advertiseAddr is the address other nodes reach this one at: the
// configured one, else the listener's, with the host name if it listens on
// every interface.
func advertiseAddr(configured string, ln net.Listener) string {
	if configured != "" {
		return configured
	}
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// recoveryStore keeps the state of sockets that went away in Redis, for
// socketio.recovery_window: <prefix>:csr:<pid>, read and deleted at once.
type recoveryStore struct {
	rdb    redis.UniversalClient
	prefix string
	window time.Duration
}

var _ socketio.RecoveryStore = (*recoveryStore)(nil)

func (r *recoveryStore) Save(pid string, st socketio.SessionState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	return r.rdb.Set(ctx, r.prefix+":csr:"+pid, b, r.window).Err()
}

func (r *recoveryStore) Take(pid string) (socketio.SessionState, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	b, err := r.rdb.GetDel(ctx, r.prefix+":csr:"+pid).Bytes()
	if errors.Is(err, redis.Nil) {
		return socketio.SessionState{}, false, nil
	}
	if err != nil {
		return socketio.SessionState{}, false, err
	}
	var st socketio.SessionState
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, err
	}
	return st, true, nil
}
