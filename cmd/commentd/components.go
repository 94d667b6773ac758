package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/flusher"
	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/commentd/commentd/store"
	"github.com/commentd/commentd/webhook"
	"github.com/redis/go-redis/v9"
)

// newLogger returns the slog logger of log.level and log.format.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(cfg.Log.Level))) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if cfg.Log.Format == "json" {
		log = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		log = slog.New(slog.NewTextHandler(w, opts))
	}
	redis.SetLogger(redisLogger{log})
	return log
}

// redisLogger sends go-redis's internal messages to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

// newRedis returns a client for one address, or a cluster client for several.
func newRedis(cfg *config.Config) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 cfg.Redis.Addrs,
		Password:              cfg.Redis.Password,
		DB:                    cfg.Redis.DB,
		ContextTimeoutEnabled: true,
		IsClusterMode:         len(cfg.Redis.Addrs) > 1,
	})
}

func newBuffer(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger) *buffer.Buffer {
	return buffer.New(rdb, buffer.Config{
		Prefix:       cfg.Redis.Prefix,
		Shards:       cfg.Buffer.Shards,
		MaxLen:       cfg.Buffer.MaxLen,
		RecentLen:    cfg.History.RecentLen,
		RecentTTL:    cfg.History.RecentTTL,
		LogLen:       cfg.History.LogLen,
		DedupeWindow: cfg.Comment.DedupeWindow,
		AuditLen:     cfg.Moderation.AuditLen,
		Logger:       log,
	})
}

// persistedPublisher tells readers which comments reached MongoDB
// (*buffer.Buffer).
type persistedPublisher interface {
	PublishPersisted(ctx context.Context, byPost map[string][]string) error
}

// newFlusher returns the flusher of the flush.* keys; m may be nil.
func newFlusher(cfg *config.Config, src flusher.Source, sink flusher.Sink, log *slog.Logger, m *metrics) *flusher.Flusher {
	fc := flusher.Config{
		BatchSize:    cfg.Flush.BatchSize,
		Interval:     cfg.Flush.Interval,
		LeaseTTL:     cfg.Flush.LeaseTTL,
		DrainTimeout: cfg.Flush.DrainTimeout,
		MaxAttempts:  cfg.Flush.MaxAttempts,
		Logger:       log,
		IsLeaseLost:  isLeaseLost,
	}
	pub, _ := src.(persistedPublisher)
	fc.OnFlush = func(shard int, stored []comment.Change, dead []comment.Rejected, took time.Duration) {
		if m != nil {
			m.onFlush(shard, stored, dead, took)
		}
		if pub != nil && len(stored) > 0 {
			// Readers learn which comments are saved: comment_persisted.
			byPost := make(map[string][]string)
			seen := make(map[string]bool, len(stored))
			for _, ch := range stored {
				if !seen[ch.CommentID] {
					seen[ch.CommentID] = true
					byPost[ch.PostID] = append(byPost[ch.PostID], ch.CommentID)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := pub.PublishPersisted(ctx, byPost); err != nil {
				log.Warn("comment_persisted not published", "err", err)
			}
			cancel()
		}
	}
	if m != nil {
		fc.OnInsertError = m.onInsertError
	}
	return flusher.New(src, sink, fc)
}

// newSocketIO returns the Socket.IO server of the socketio.* and cors.* keys.
func newSocketIO(cfg *config.Config, log *slog.Logger, dir engineio.Directory) *socketio.Server {
	return socketio.NewServer(socketio.Config{
		Engine: engineio.Config{
			PingInterval:   cfg.SocketIO.PingInterval,
			PingTimeout:    cfg.SocketIO.PingTimeout,
			MaxPayload:     cfg.SocketIO.MaxPayload,
			MaxPollBody:    cfg.SocketIO.MaxPollBody,
			MaxPollPackets: cfg.SocketIO.MaxPollPackets,
			MaxConnsPerIP:  cfg.Limits.ConnectionsPerIP,
			Directory:      dir,
			Origins:        cfg.CORS.Origins,
			Logger:         log,
		},
		ConnectTimeout: cfg.SocketIO.ConnectTimeout,
		Logger:         log,
	})
}

func openStore(cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(store.Config{URI: cfg.Mongo.URI, Database: cfg.Mongo.Database, Collection: cfg.Mongo.Collection})
	if err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	return st, nil
}

// webhookSink wraps sink so that each stored batch publishes its webhook
// events, when webhooks.endpoints has any; else it returns sink.
func webhookSink(cfg *config.Config, rdb redis.UniversalClient, sink flusher.Sink) (flusher.Sink, *webhook.Publisher) {
	if len(cfg.Webhooks.Endpoints) == 0 {
		return sink, nil
	}
	pub := webhook.NewPublisher(rdb, cfg.Redis.Prefix, cfg.Webhooks.MaxLen)
	return webhook.NewSink(sink, pub), pub
}

// newDispatcher returns the webhook deliverer of the webhooks.* keys; nil
// without endpoints. obs may be nil.
func newDispatcher(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger, obs webhook.Observer) (*webhook.Dispatcher, error) {
	w := cfg.Webhooks
	if len(w.Endpoints) == 0 {
		return nil, nil
	}
	eps := make([]webhook.Endpoint, len(w.Endpoints))
	for i, ep := range w.Endpoints {
		eps[i] = webhook.Endpoint{Name: ep.Name, URL: ep.URL, Secret: ep.Secret, Events: ep.Events, Moderation: ep.Moderation}
	}
	return webhook.NewDispatcher(rdb, webhook.Config{
		Prefix:      cfg.Redis.Prefix,
		Endpoints:   eps,
		BatchSize:   w.BatchSize,
		MaxAttempts: w.MaxAttempts,
		Timeout:     w.Timeout,
		MinBackoff:  w.MinBackoff,
		MaxBackoff:  w.MaxBackoff,
		LeaseTTL:    w.LeaseTTL,
		Observer:    obs,
		Logger:      log,
	})
}
