package engineio

import "encoding/binary"

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// wsHeaderLen returns the length of the header of an unmasked frame with a
// payload of n bytes.
func wsHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n < 1<<16:
		return 4
	default:
		return 10
	}
}

// appendWSHeader appends the header of a final, unmasked (server) frame.
func appendWSHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// Prepared is a packet encoded once, ready to be queued on any number of
// connections (a broadcast). It must not be changed once made.
type Prepared struct {
	pkt Packet
	ws  []byte // the whole WebSocket frame
}

// Prepare encodes p for sending. The Prepared keeps p.Data; the caller must
// not change it afterwards.
func Prepare(p Packet) *Prepared {
	if p.Binary {
		ws := make([]byte, 0, wsHeaderLen(len(p.Data))+len(p.Data))
		ws = appendWSHeader(ws, opBinary, len(p.Data))
		return &Prepared{pkt: p, ws: append(ws, p.Data...)}
	}
	n := 1 + len(p.Data)
	ws := make([]byte, 0, wsHeaderLen(n)+n)
	ws = appendWSHeader(ws, opText, n)
	ws = AppendText(ws, p)
	return &Prepared{pkt: p, ws: ws}
}

// maxWSHeader is the longest header of a server frame.
const maxWSHeader = 10

// MessageBuffer returns a buffer to append a text message's data to (a
// Socket.IO packet), with room for the frame's header in front, so that
// PrepareBuffer then makes the frame in place: the data and its frame take
// one allocation instead of two copies.
func MessageBuffer(sizeHint int) []byte {
	b := make([]byte, maxWSHeader+1, maxWSHeader+1+sizeHint)
	b[maxWSHeader] = '0' + byte(Message)
	return b
}

// PrepareBuffer prepares the text message whose data was appended to b, a
// MessageBuffer. b must not be changed afterwards.
func PrepareBuffer(b []byte) *Prepared {
	n := len(b) - maxWSHeader // the packet: type and data
	start := maxWSHeader - wsHeaderLen(n)
	appendWSHeader(b[start:start], opText, n)
	return &Prepared{pkt: Packet{Type: Message, Data: b[maxWSHeader+1:]}, ws: b[start:]}
}

// PrepareMessage is Prepare of a text message packet: the usual case, a
// Socket.IO packet.
func PrepareMessage(data []byte) *Prepared {
	return Prepare(Packet{Type: Message, Data: data})
}

// Packet returns the packet.
func (m *Prepared) Packet() Packet { return m.pkt }

// Size returns how many bytes m takes in a queue.
func (m *Prepared) Size() int { return len(m.ws) }

// controlFrame returns a raw control frame (pong, close) for the queue.
func controlFrame(op byte, payload []byte) *Prepared {
	ws := appendWSHeader(make([]byte, 0, 2+len(payload)), op, len(payload))
	return &Prepared{pkt: Packet{Type: Noop}, ws: append(ws, payload...)}
}

var (
	pingPrepared = Prepare(Packet{Type: Ping})
	noopPrepared = Prepare(Packet{Type: Noop})
	probeReply   = Prepare(Packet{Type: Pong, Data: []byte("probe")})
)
