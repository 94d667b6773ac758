package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
	"github.com/commentd/commentd/realtime/socketio"
)

// handshakeTimeout bounds the WebSocket upgrade and the Engine.IO and
// Socket.IO handshakes of one connection.
const handshakeTimeout = 20 * time.Second

// dialer makes Socket.IO connections to one server, optionally from a given
// loopback source address (to spread many connections over 127.0.0.x).
type dialer struct {
	base string // http://host:port
	// bufSize is the read and write buffer size of each connection; small
	// for many idle connections.
	bufSize int
}

func newDialer(base string) dialer { return dialer{base: base, bufSize: 4096} }

// dial connects to namespace "/" from local (nil for any address).
func (d dialer) dial(ctx context.Context, local net.IP) (*sioclient.Conn, error) {
	return sioclient.Dial(ctx, d.base, sioclient.Options{LocalAddr: local, BufSize: d.bufSize, Timeout: handshakeTimeout})
}

// The client reads about ten deliveries for each comment it sends and
// shares the machine with the server: decoding them with encoding/json
// took a third of its CPU, which the server then lacked. So it peeks at
// packets instead of decoding them, which the server's fixed framing allows
// (namespace "/", compact JSON, comment fields from comment.Comment).

// decodeAck returns the ack id and data of an ACK packet ("3<id>[...]").
func decodeAck(data []byte) (id int64, payload []byte, ok bool) {
	if len(data) < 3 || data[0] != byte('0'+socketio.PacketAck) {
		return 0, nil, false
	}
	i := 1
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		id = id*10 + int64(data[i]-'0')
	}
	if i == 1 || i == len(data) || data[i] != '[' {
		return 0, nil, false
	}
	return id, data[i:], true
}

var (
	addedPrefix  = []byte(`2["comment_added",{`)
	createdAtKey = []byte(`"createdAt":"`)
)

// decodeAdded tells whether data is a comment_added event and returns the
// comment's createdAt (zero if it has none). A quote inside a JSON string
// is escaped, so the key cannot be matched inside the content.
func decodeAdded(data []byte) (createdAt time.Time, ok bool) {
	if !bytes.HasPrefix(data, addedPrefix) {
		return time.Time{}, false
	}
	i := bytes.Index(data, createdAtKey)
	if i < 0 {
		return time.Time{}, true
	}
	rest := data[i+len(createdAtKey):]
	if j := bytes.IndexByte(rest, '"'); j > 0 {
		createdAt, _ = time.Parse(time.RFC3339Nano, string(rest[:j]))
	}
	return createdAt, true
}

// ackOK tells whether an ack to new_comment or join_post reports success.
func ackOK(payload []byte) bool { return strings.Contains(string(payload), `"ok":true`) }

// quoted returns s as a JSON string.
func quoted(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

var (
	idKey = []byte(`"_id":"`)
	vKey  = []byte(`"v":`)
)

// decodeAckedComment returns the id and version of the comment in an ack
// to new_comment or a change ({ok:true, comment}); a comment without v is
// at version 1. Quotes inside a JSON string are escaped, so neither key can
// be matched inside the content.
func decodeAckedComment(payload []byte) (id string, v int, ok bool) {
	i := bytes.Index(payload, idKey)
	if i < 0 || len(payload) < i+len(idKey)+24 {
		return "", 0, false
	}
	id = string(payload[i+len(idKey) : i+len(idKey)+24])
	v = 1
	if j := bytes.Index(payload, vKey); j >= 0 {
		n, k := 0, j+len(vKey)
		for ; k < len(payload) && payload[k] >= '0' && payload[k] <= '9'; k++ {
			n = n*10 + int(payload[k]-'0')
		}
		if k > j+len(vKey) {
			v = n
		}
	}
	return id, v, true
}

var codeKey = []byte(`"code":"`)

// decodeErrorCode returns the code of a refusal ({ok:false, error:{code,
// message}}), or "unknown".
func decodeErrorCode(payload []byte) string {
	i := bytes.Index(payload, codeKey)
	if i < 0 {
		return "unknown"
	}
	rest := payload[i+len(codeKey):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 40 {
		return "unknown"
	}
	return string(rest[:j])
}
