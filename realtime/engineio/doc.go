// Package engineio is an Engine.IO protocol 4 server: the transport layer
// under Socket.IO. It knows nothing of what the messages mean.
//
// Concurrency contract, per connection:
//
//   - One reader goroutine reads frames and calls the Handler's Message in
//     order; Closed is called once, by that goroutine, after the last
//     Message.
//   - Exactly one writer at a time. Send only queues (into the connection's
//     writer, writer.go); when the queue becomes non-empty a writer
//     goroutine takes the connection, writes until the queue is empty and
//     moves on. Writers are shared by the server's
//     connections and exit after a second without work, so an idle
//     connection costs no goroutine and a busy server starts none per
//     message. A writer sends everything queued with one writev where it
//     can: the per-frame system call, not encoding, is what limits fan-out.
//   - Broadcasts (SendBroadcast) linger: up to Config.Linger, so that the
//     broadcasts after them share their write, on a connection written to
//     within the last Linger (a quiet one gets a broadcast at once). Any
//     other packet is written at once and takes what is queued before it
//     along; order is kept.
//   - The queue is bounded in bytes. A connection whose queue is full is
//     closed ("slow consumer"); Send never blocks and never waits for a
//     slow reader.
//   - Server pings every PingInterval; a client that does not answer within
//     PingTimeout is closed ("ping timeout").
//
// Send, Close and the accessors are safe for concurrent use. No goroutine
// outlives its connection; Server.Close closes every connection and waits.
package engineio
