// Package socketio is a Socket.IO protocol 5 server on top of package
// engineio: namespaces, rooms, events, acknowledgements both ways and binary
// attachments. The official socket.io-client (v3, v4) talks to it unchanged.
//
// Concurrency contract:
//
//   - Handlers of one connection run on its reader goroutine, one at a time,
//     in the order the client sent the packets. A slow handler delays only
//     that connection.
//   - Emit, broadcast, Join and Leave are safe from any goroutine. A
//     broadcast encodes its packet once and queues the same bytes on every
//     receiver; no lock is held while queueing, and a receiver whose queue
//     is full is disconnected, never waited for.
package socketio
