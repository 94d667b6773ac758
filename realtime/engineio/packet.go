package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
)

// PacketType is an Engine.IO packet type, sent as one ASCII digit.
type PacketType byte

// Engine.IO packet types; the wire digit is '0'+type.
const (
	Open    PacketType = iota // handshake, server to client
	Close                     // close the session
	Ping                      // heartbeat; the server pings in protocol 4
	Pong                      // heartbeat reply
	Message                   // application data
	Upgrade                   // client switches to WebSocket
	Noop                      // nothing; releases a pending polling GET
)

// separator joins the packets of a polling payload (ASCII record separator).
const separator = 0x1e

// ErrBadPacket is returned, wrapped with detail, for a malformed packet or
// payload. The reference server closes the session on it ("parse error").
var ErrBadPacket = errors.New("engineio: bad packet")

// Packet is one Engine.IO packet.
type Packet struct {
	Type PacketType
	Data []byte // nil when absent
	// Binary marks binary data: a WebSocket binary frame, or a "b"+base64
	// entry of a polling payload. Only Message packets are binary.
	Binary bool
}

// DecodeText decodes a WebSocket text frame: a type digit, then the data.
// p.Data aliases frame. The "b" prefix is not a type here: binary data
// travels in binary frames, and only DecodePayload accepts it.
func DecodeText(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, fmt.Errorf("%w: empty packet", ErrBadPacket)
	}
	c := frame[0]
	if c < '0' || c > '0'+byte(Noop) {
		return Packet{}, fmt.Errorf("%w: unknown packet type %q", ErrBadPacket, c)
	}
	p := Packet{Type: PacketType(c - '0')}
	if len(frame) > 1 {
		p.Data = frame[1:]
	}
	return p, nil
}

// AppendText appends the text form of p, its type digit and data, to dst.
// p.Binary is ignored: binary data goes raw in a binary frame, or through
// AppendPayload on polling.
func AppendText(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// DecodePayload decodes the body of a polling POST: packets joined by 0x1e,
// a "b"+base64 entry being a binary message. An empty body or entry, or more
// than maxPackets entries, is an error; maxPackets <= 0 means no limit.
// Text packets' Data aliases body; binary Data is newly allocated.
func DecodePayload(body []byte, maxPackets int) ([]Packet, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrBadPacket)
	}
	n := bytes.Count(body, []byte{separator}) + 1
	if maxPackets > 0 && n > maxPackets {
		return nil, fmt.Errorf("%w: %d packets in payload, limit %d", ErrBadPacket, n, maxPackets)
	}
	ps := make([]Packet, 0, n)
	for i := range n {
		entry := body
		if j := bytes.IndexByte(body, separator); j >= 0 {
			entry, body = body[:j], body[j+1:]
		}
		p, err := decodeEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// decodeEntry decodes one entry of a polling payload.
func decodeEntry(entry []byte) (Packet, error) {
	if len(entry) == 0 || entry[0] != 'b' {
		return DecodeText(entry)
	}
	src := entry[1:]
	// Go's decoder skips CR and LF; they are not base64, so refuse them.
	if bytes.ContainsAny(src, "\r\n") {
		return Packet{}, fmt.Errorf("%w: binary packet: newline in base64", ErrBadPacket)
	}
	// Node's Buffer.from(s, "base64") also takes unpadded input; so do we.
	enc := base64.StdEncoding
	if len(src)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	data := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(data, src)
	if err != nil {
		return Packet{}, fmt.Errorf("%w: binary packet: %v", ErrBadPacket, err)
	}
	return Packet{Type: Message, Data: data[:n], Binary: true}, nil
}

// AppendPayload appends the body of a polling GET to dst: the packets joined
// by 0x1e, binary ones as "b"+base64 (their type is implied: Message).
func AppendPayload(dst []byte, ps []Packet) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, separator)
		}
		if p.Binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, p.Data)
			continue
		}
		dst = AppendText(dst, p)
	}
	return dst
}
