package main

import (
	"context"
	"log/slog"
	"strings"
)

// quiet wraps a slog.Handler and demotes to debug a few warnings that
// FerretDB v1 logs for harmless events, so that the default -log-level warn
// shows only what matters:
//   - "Failed to set deadline: ... use of closed network connection", a race
//     in FerretDB's connection teardown that fires on ordinary disconnects;
//   - "Response header: ...", logged at warn before every failed command's
//     "Response message" (which stays at warn and carries the useful part);
//   - the failed "endSessions" command, which FerretDB does not implement and
//     the Go driver sends on every Client.Disconnect.
type quiet struct{ slog.Handler }

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && noise(r.Message) {
		if !q.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(as)} }
func (q quiet) WithGroup(name string) slog.Handler    { return quiet{q.Handler.WithGroup(name)} }

func noise(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "Failed to set deadline"):
		return true
	case strings.HasPrefix(msg, "Response header:"):
		return true
	case strings.HasPrefix(msg, "Response message:") && strings.Contains(msg, "no such command: 'endSessions'"):
		return true
	}
	return false
}
