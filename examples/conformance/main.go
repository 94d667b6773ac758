// Command conformance serves what the official protocol test suites
// (test-suite/ of socketio/engine.io-protocol and socketio/socket.io-protocol)
// expect, on package realtime:
//
//	conformance -mode engineio   # an Engine.IO echo server at /engine.io/
//	conformance -mode socketio   # a Socket.IO server at /socket.io/
//
// Both listen on 127.0.0.1:3000 (-addr) with pingInterval 300ms,
// pingTimeout 200ms, maxPayload 1e6, connectTimeout 1s and any origin.
// The Socket.IO server emits "auth" with the CONNECT payload, answers
// "message" with "message-back" and acks "message-with-ack", on "/" and
// "/custom".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	mode := flag.String("mode", "socketio", "engineio or socketio")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ecfg := engineio.Config{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1_000_000,
		Origins:      []string{"*"},
		Logger:       log,
	}
	mux := http.NewServeMux()
	var closer func()
	switch *mode {
	case "engineio":
		srv := engineio.NewServer(ecfg, echo{})
		mux.Handle("/engine.io/", srv)
		closer = srv.Close
	case "socketio":
		srv := socketio.NewServer(socketio.Config{Engine: ecfg, ConnectTimeout: time.Second, Logger: log})
		for _, name := range []string{"/", "/custom"} {
			serve(srv.Of(name))
		}
		mux.Handle("/socket.io/", srv)
		closer = srv.Close
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	hs := &http.Server{Addr: *addr, Handler: mux}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	fmt.Printf("conformance (%s) listening on http://%s/\n", *mode, *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	hs.Shutdown(context.Background())
	closer()
	return nil
}

// echo sends every message back.
type echo struct{}

func (echo) Open(*engineio.Conn) {}

func (echo) Message(c *engineio.Conn, data []byte, binary bool) {
	c.SendPrepared(engineio.Prepare(engineio.Packet{Type: engineio.Message, Data: data, Binary: binary}))
}

func (echo) Closed(*engineio.Conn, string) {}

func serve(nsp *socketio.Namespace) {
	nsp.OnConnection(func(s *socketio.Socket) {
		// The suites read one packet per event loop turn: a packet that
		// arrives in the same TCP read as the CONNECT reply is missed. The
		// reference server's writes happen to be a turn apart; ours are
		// batched, so the example waits a little before its first emit.
		time.AfterFunc(20*time.Millisecond, func() { s.Emit("auth", s.Auth()) })
	})
	nsp.On("message", func(s *socketio.Socket, ev *socketio.Event) {
		if len(ev.Attachments) > 0 {
			s.EmitBinary("message-back", ev.Attachments, ev.Args...)
			return
		}
		args := make([]any, len(ev.Args))
		for i, a := range ev.Args {
			args[i] = a
		}
		s.Emit("message-back", args...)
	})
	nsp.On("message-with-ack", func(s *socketio.Socket, ev *socketio.Event) {
		if len(ev.Attachments) > 0 {
			ev.AckBinary(ev.Attachments, ev.Args...)
			return
		}
		args := make([]any, len(ev.Args))
		for i, a := range ev.Args {
			args[i] = a
		}
		ev.Ack(args...)
	})
}
