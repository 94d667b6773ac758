package api

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the comment rate limits, per socket and per user: a token
// bucket refilled at PerSecond with room for Burst. PerSecond 0 turns them
// off. They may change while running (SetLimits).
type Limits struct {
	PerSecond float64
	Burst     int
}

// limiters holds the per-user buckets and hands out per-socket ones.
type limiters struct {
	mu     sync.Mutex
	limits Limits
	gen    int // bumped by set; a bucket of an older generation is remade
	users  map[string]*userBucket
	hosts  map[string]*socketBucket // REST clients by address
	swept  time.Time
}

type userBucket struct {
	l    *rate.Limiter
	gen  int
	seen time.Time
}

// sweepEvery bounds how often idle user buckets are dropped; a bucket idle
// that long is full again anyway.
const sweepEvery = time.Minute

func (l *limiters) set(lim Limits) {
	l.mu.Lock()
	l.limits = lim
	l.gen++
	l.mu.Unlock()
}

func (l *limiters) newLimiter() *rate.Limiter {
	return rate.NewLimiter(rate.Limit(l.limits.PerSecond), max(l.limits.Burst, 1))
}

// socketBucket is the bucket of one socket, remade when the limits change.
type socketBucket struct {
	l   *rate.Limiter
	gen int
}

// allow takes a token from the socket's and the user's bucket.
func (l *limiters) allow(sb *socketBucket, user string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.PerSecond <= 0 {
		return true
	}
	if sb.l == nil || sb.gen != l.gen {
		sb.l, sb.gen = l.newLimiter(), l.gen
	}
	if l.users == nil {
		l.users = make(map[string]*userBucket)
	}
	if now.Sub(l.swept) > sweepEvery {
		for u, b := range l.users {
			if now.Sub(b.seen) > sweepEvery {
				delete(l.users, u)
			}
		}
		l.swept = now
	}
	ub := l.users[user]
	if ub == nil || ub.gen != l.gen {
		ub = &userBucket{l: l.newLimiter(), gen: l.gen}
		l.users[user] = ub
	}
	ub.seen = now
	// Both must have a token; take neither unless both do.
	if sb.l.TokensAt(now) < 1 || ub.l.TokensAt(now) < 1 {
		return false
	}
	sb.l.AllowN(now, 1)
	ub.l.AllowN(now, 1)
	return true
}

// restBucket returns the bucket of a REST client, by remote address: the
// "socket" of a client that has none.
func (a *Comments) restBucket(r *http.Request) *socketBucket {
	host := clientHost(r)
	a.limits.mu.Lock()
	defer a.limits.mu.Unlock()
	if a.limits.hosts == nil {
		a.limits.hosts = make(map[string]*socketBucket)
	}
	if len(a.limits.hosts) > maxRESTHosts {
		clear(a.limits.hosts) // refilled buckets cost nothing to remake
	}
	b := a.limits.hosts[host]
	if b == nil {
		b = &socketBucket{}
		a.limits.hosts[host] = b
	}
	return b
}

// clientHost is the peer's address; forwarded headers are the client's to
// forge and are not trusted.
func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxRESTHosts bounds the per-address buckets of REST clients.
const maxRESTHosts = 100_000
