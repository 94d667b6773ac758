package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/commentd/commentd/api"
	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/flusher"
	"github.com/commentd/commentd/hook"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/commentd/commentd/store"
	"github.com/commentd/commentd/web"
	"github.com/commentd/commentd/webhook"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

var (
	_ flusher.Source    = (*buffer.Buffer)(nil)
	_ flusher.Sink      = (*store.Store)(nil)
	_ comment.Buffer    = (*buffer.Buffer)(nil)
	_ comment.Publisher = (*buffer.Buffer)(nil)
	_ comment.Store     = (*store.Store)(nil)
	_ api.Feed          = (*buffer.Fanout)(nil)
	_ buffer.Handler    = (*api.Comments)(nil)
	_ comment.Bans      = (*buffer.BanList)(nil)
	_ comment.Locks     = (*buffer.Buffer)(nil)
	_ comment.SlowModes = (*buffer.Buffer)(nil)
	_ comment.AuditLog  = (*buffer.Buffer)(nil)
	_ comment.Hook      = (*hook.Client)(nil)
	_ flusher.Sink      = (*webhook.Sink)(nil)
	_ api.BanNotifier   = (*webhook.Publisher)(nil)
	_ webhook.Observer  = (*metrics)(nil)
)

// App is one commentd process: its components, built from a Config, run
// until the context ends, then shut down in order.
type App struct {
	cfg   *config.Config
	log   *slog.Logger
	rdb   redis.UniversalClient
	buf   *buffer.Buffer
	store *store.Store
	fl    *flusher.Flusher // nil when flush.enabled is false
	sio   *socketio.Server
	feed  *buffer.Fanout
	views *buffer.Viewers
	bans  *buffer.BanList
	svc   *comment.Service
	hook  *hook.Client        // nil without moderation.hook_url
	wh    *webhook.Dispatcher // nil without webhooks.endpoints
	whPub *webhook.Publisher  // nil without webhooks.endpoints

	filterMu    sync.Mutex
	filterWords []string // the entries of the filters in force, to log a change

	ln       net.Listener
	srv      *http.Server
	comments *api.Comments
	admin    *http.Server // pprof, on admin.addr; nil when off
	adminLn  net.Listener
	metrics  *metrics
}

// NewApp connects to Redis (which must answer) and MongoDB (which may be
// down: comments are buffered meanwhile) and listens on http.addr.
func NewApp(cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, metrics: newMetrics()}
	a.rdb = newRedis(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		a.rdb.Close()
		return nil, fmt.Errorf("redis %v unreachable: %w", cfg.Redis.Addrs, err)
	}
	st, err := openStore(cfg)
	if err != nil {
		a.rdb.Close()
		return nil, err
	}
	a.store = st
	a.buf = newBuffer(cfg, a.rdb, log)
	sink, pub := webhookSink(cfg, a.rdb, a.store)
	a.whPub = pub
	if cfg.Flush.Enabled && cfg.Flush.Mode == config.ModeWriteBehind {
		a.fl = newFlusher(cfg, a.buf, sink, log, a.metrics)
	}
	if a.wh, err = newDispatcher(cfg, a.rdb, log, a.metrics); err != nil {
		a.closeClients()
		return nil, err
	}
	// The bans are loaded before the first request: a restarted node
	// refuses a banned user from its first comment on.
	a.bans = a.buf.NewBanList()
	if err := a.bans.Wait(ctx); err != nil {
		a.closeClients()
		return nil, err
	}
	f, words, err := filters(cfg)
	if err != nil {
		a.closeClients()
		return nil, err
	}
	a.filterWords = words
	var hk comment.Hook
	if cfg.Moderation.HookURL != "" {
		if a.hook, err = hook.New(hook.Config{URL: cfg.Moderation.HookURL, Secret: cfg.Moderation.HookSecret,
			Timeout: cfg.Moderation.HookTimeout}); err != nil {
			a.closeClients()
			return nil, fmt.Errorf("moderation.hook_url: %w", err)
		}
		hk = a.hook
	}
	svc := comment.NewService(a.buf, a.buf, countedHistory{a.store, a.metrics.historyReads}, comment.ServiceConfig{
		HistoryLimit: cfg.History.Limit,
		MaxRunes:     cfg.Limits.CommentMaxRunes,
		WriteThrough: cfg.Flush.Mode == config.ModeWriteThrough,
		EditWindow:   editWindow(cfg.Comment.EditWindow),
		Moderation:   cfg.Moderation.Mode,
		Bans:         a.bans,
		Locks:        a.buf,
		Slow:         a.buf,
		Audit:        a.buf,
		Traces:       a.buf,
		Filters:      f,
		Hook:         hk,
		HookFailure:  comment.Verdict(cfg.Moderation.HookFailure),
		MaxDepth:     cfg.Threads.MaxDepth,
		Reactions:    cfg.Reactions.Allowed,
		Logger:       log,
	})
	svc.SetCounter(counter{buf: a.buf, store: a.store, direct: cfg.Flush.Mode == config.ModeWriteThrough})
	a.svc = svc
	dir := &directory{rdb: a.rdb, prefix: cfg.Redis.Prefix}
	a.sio = newSocketIO(cfg, log, dir)
	a.feed = a.buf.NewFanout()
	a.views = a.buf.NewViewers(buffer.ViewersConfig{})
	comments, err := api.Bind(a.sio.Of("/"), svc, a.feed, api.Config{
		Logger:    log,
		OnComment: a.metrics.onComment,
		Auth: api.AuthConfig{
			Mode:          cfg.Auth.Mode,
			Secret:        cfg.Auth.JWTSecret,
			PublicKeyFile: cfg.Auth.JWTPublicKeyFile,
			JWKSURL:       cfg.Auth.JWKSURL,
			JWKSRefresh:   cfg.Auth.JWKSRefresh,
			Issuer:        cfg.Auth.Issuer,
			Audience:      cfg.Auth.Audience,
			Cookie:        cfg.Auth.Cookie,
			AnonymousRead: cfg.Auth.AnonymousRead,
			RolesClaim:    cfg.Auth.RolesClaim,
			NameClaim:     cfg.Auth.NameClaim,
			AvatarClaim:   cfg.Auth.AvatarClaim,
			Guests:        cfg.Auth.Guests,
			AdminToken:    cfg.Admin.Token,
		},
		Limits:            rateLimits(cfg),
		RoomsPerSocket:    cfg.Limits.RoomsPerSocket,
		MaxStreamsPerIP:   cfg.Limits.ConnectionsPerIP,
		SocketsFrom:       a.sio.ConnsFrom,
		Stats:             newAppStats(a),
		Viewers:           a.views,
		ReactionsPushRate: cfg.Reactions.PushRate,
		Batch:             api.BatchConfig{Window: cfg.Hot.Window, Threshold: cfg.Hot.Threshold},
		Banned:            banNotifier(a.whPub),
	})
	if err != nil {
		a.closeClients()
		return nil, err
	}
	a.feed.RegisterHandler(comments)
	a.views.RegisterHandler(comments)
	api.BindChat(a.sio.Of("/chat"))

	a.ln, err = net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		comments.Close()
		a.closeClients()
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	dir.self.Store(advertiseAddr(cfg.HTTP.AdvertiseAddr, a.ln))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("/socket.io/", a.sio)
	comments.Routes(mux)
	a.metrics.register(a)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("/", web.Handler())
	a.comments = comments
	if w := cfg.SocketIO.RecoveryWindow; w > 0 {
		comments.EnableRecovery(&recoveryStore{rdb: a.rdb, prefix: cfg.Redis.Prefix, window: w})
	}
	if cfg.Admin.Addr != "" {
		if a.adminLn, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			a.ln.Close()
			comments.Close()
			a.closeClients()
			return nil, fmt.Errorf("listen on admin.addr %s: %w", cfg.Admin.Addr, err)
		}
		am := http.NewServeMux()
		am.HandleFunc("/debug/pprof/", pprof.Index)
		am.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		am.HandleFunc("/debug/pprof/profile", pprof.Profile)
		am.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		am.HandleFunc("/debug/pprof/trace", pprof.Trace)
		a.admin = &http.Server{Handler: am, ReadHeaderTimeout: 10 * time.Second}
	}
	a.srv = &http.Server{Handler: api.ReadCORS(cfg.CORS.Origins, mux), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// Addr returns the address the HTTP server listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Apply takes the settings of a reloaded config that may change while
// running: flush batch size and interval, comment rate limits, the words
// and links filters (moderation.words_file is read again).
func (a *App) Apply(cfg *config.Config) {
	a.comments.SetLimits(rateLimits(cfg))
	a.applyFilters(cfg)
	if a.fl == nil {
		return
	}
	if a.fl.BatchSize() != cfg.Flush.BatchSize || a.fl.Interval() != cfg.Flush.Interval {
		a.fl.SetBatchSize(cfg.Flush.BatchSize)
		a.fl.SetInterval(cfg.Flush.Interval)
		a.log.Info("flush settings changed", "batch_size", cfg.Flush.BatchSize, "interval", cfg.Flush.Interval)
	}
}

// Run serves until ctx ends, then shuts down in order: stop accepting
// (HTTP), finish appends in flight (buffer), drain into MongoDB within
// flush.drain_timeout and release leases (flusher), disconnect.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	flushCtx, stopFlush := context.WithCancel(context.Background())
	defer stopFlush()
	var flushErr error
	if a.fl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flushErr = a.fl.Run(flushCtx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.ensureIndexes(ctx)
		a.storedReady(ctx)
	}()
	// Webhooks are delivered until the end: the drain publishes events too.
	whCtx, stopWebhooks := context.WithCancel(context.Background())
	defer stopWebhooks()
	if a.wh != nil {
		wg.Go(func() { a.wh.Run(whCtx) })
	}
	// Moderators on this node hear of held comments of every post.
	stopModeration := a.buf.WatchModeration(a.comments.HandleModeration)
	go a.views.Run()
	srvErr := make(chan error, 2)
	go func() { srvErr <- a.srv.Serve(a.ln) }()
	if a.admin != nil {
		go func() { srvErr <- a.admin.Serve(a.adminLn) }()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
		err = fmt.Errorf("http: %w", err)
	}
	a.log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.comments.Close() // SSE streams end; other requests finish
	if a.admin != nil {
		a.admin.Close()
	}
	if serr := a.srv.Shutdown(shCtx); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	a.sio.Close() // sockets were hijacked: Shutdown does not close them
	a.svc.Close() // comments waiting for the hook are appended first
	if a.hook != nil {
		a.hook.Close()
	}
	stopModeration()
	a.views.Close() // after the sockets: their shares are withdrawn
	a.feed.Close()
	a.buf.Close()
	stopFlush()
	stopWebhooks()
	wg.Wait()
	if flushErr != nil {
		a.log.Error("drain incomplete: the rest stays in Redis for the next flusher", "err", flushErr)
	}
	a.closeClients()
	a.log.Info("stopped")
	return err
}

// ensureIndexes creates MongoDB's indexes, retrying while MongoDB is down.
func (a *App) ensureIndexes(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.store.EnsureIndexes(cctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		a.log.Warn("mongodb indexes not created yet", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// storedReady lets joins trust Redis's sets of stored posts (buffer's
// stored.go) when the database is empty: every comment written from now
// on is marked first. A database with comments needs the sets built from
// it once: `commentd stored-posts`; until then every cold join reads.
func (a *App) storedReady(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ready, err := a.buf.StoredReady(cctx)
	if err != nil || ready {
		return // not known: joins read, as before
	}
	empty, err := a.store.Empty(cctx)
	switch {
	case err != nil:
		a.log.Warn("stored posts: the database could not be asked whether it is empty", "err", err)
	case empty:
		if err := a.buf.MarkStoredReady(cctx); err != nil {
			a.log.Warn("stored posts: sets not marked complete", "err", err)
		}
	default:
		a.log.Info("joins of new posts read the database until `commentd stored-posts` has run once")
	}
}

func (a *App) closeClients() {
	if a.bans != nil {
		a.bans.Close()
	}
	if a.buf != nil {
		a.buf.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a.store != nil {
		a.store.Close(ctx)
	}
	a.rdb.Close()
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyTimeout bounds /readyz: it must answer within a probe's timeout
// (Kubernetes' default is 1s) even when Redis or MongoDB hangs rather than
// refuses.
const readyTimeout = 800 * time.Millisecond

// readyz reports Redis and MongoDB, pinged at once, each within
// readyTimeout. Only Redis decides readiness: comments are still
// accepted, buffered, while MongoDB is down.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	var redisErr, mongoErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); redisErr = a.rdb.Ping(ctx).Err() }()
	go func() { defer wg.Done(); mongoErr = a.store.Ping(ctx) }()
	wg.Wait()
	res := map[string]string{"redis": "ok", "mongo": "ok"}
	status := http.StatusOK
	if redisErr != nil {
		res["redis"] = "unreachable: " + redisErr.Error()
		status = http.StatusServiceUnavailable
	}
	if mongoErr != nil {
		res["mongo"] = "unreachable: " + mongoErr.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(res)
}

// filters returns the words and links filters of cfg, reading
// moderation.words_file, and the list of words they hold.
func filters(cfg *config.Config) (comment.Filters, []string, error) {
	m := cfg.Moderation
	words := slices.Clone(m.Words)
	if m.WordsFile != "" {
		b, err := os.ReadFile(m.WordsFile)
		if err != nil {
			return comment.Filters{}, nil, fmt.Errorf("moderation.words_file: %w", err)
		}
		words = append(words, comment.ParseWordList(string(b))...)
	}
	w, err := comment.NewWords(words)
	if err != nil {
		return comment.Filters{}, nil, fmt.Errorf("moderation.words: %w", err)
	}
	return comment.Filters{Words: w, WordsAction: comment.Verdict(m.WordsAction), MaxLinks: m.MaxLinks}, words, nil
}

// applyFilters puts the filters of a reloaded config in force; if its words
// cannot be read, the previous ones stay.
func (a *App) applyFilters(cfg *config.Config) {
	f, words, err := filters(cfg)
	if err != nil {
		a.log.Warn("moderation filters not changed", "err", err)
		return
	}
	a.svc.SetFilters(f)
	a.filterMu.Lock()
	defer a.filterMu.Unlock()
	if !slices.Equal(words, a.filterWords) {
		a.filterWords = words
		a.log.Info("moderation words changed", "words", len(words))
	}
}

// editWindow maps comment.edit_window (0 = no limit) to the Service's
// (negative = no limit, 0 = its default).
func editWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func rateLimits(cfg *config.Config) api.Limits {
	return api.Limits{PerSecond: cfg.Limits.CommentsPerSecond, Burst: cfg.Limits.CommentsBurst}
}

// banNotifier returns pub as the api's BanNotifier, nil (not a nil
// pointer in an interface) without webhooks.
func banNotifier(pub *webhook.Publisher) api.BanNotifier {
	if pub == nil {
		return nil
	}
	return pub
}

// isLeaseLost maps the buffer's lease error for the flusher.
func isLeaseLost(err error) bool {
	return errors.Is(err, buffer.ErrLeaseLost) || errors.Is(err, flusher.ErrLeaseLost)
}

// counter counts posts' visible comments: Redis's counts, seeded from
// MongoDB's. In write-through mode, where Redis does not count, MongoDB's
// alone.
type counter struct {
	buf    *buffer.Buffer
	store  *store.Store
	direct bool
}

func (c counter) Cached(ctx context.Context, posts []string) (map[string]int, error) {
	if c.direct {
		return nil, nil
	}
	return c.buf.CachedCounts(ctx, posts)
}

func (c counter) Counts(ctx context.Context, posts []string) (map[string]int, error) {
	if c.direct {
		return c.store.CountVisible(ctx, posts)
	}
	return c.buf.Counts(ctx, posts, c.store.CountVisible)
}
