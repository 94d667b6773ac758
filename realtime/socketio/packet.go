package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/jsonenc"
)

// PacketType is a Socket.IO packet type, sent as one ASCII digit.
type PacketType byte

// Socket.IO packet types; the wire digit is '0'+type.
const (
	PacketConnect      PacketType = iota // open a namespace; data: auth object
	PacketDisconnect                     // leave a namespace; no data
	PacketEvent                          // data: ["name", args...]
	PacketAck                            // reply to an event; data: [args...]
	PacketConnectError                   // namespace refused; data: object or string
	PacketBinaryEvent                    // Event whose attachments follow as binary messages
	PacketBinaryAck                      // Ack whose attachments follow as binary messages
)

// ErrBadPacket is returned, wrapped with detail, for a packet the reference
// server would close the connection on.
var ErrBadPacket = errors.New("socketio: bad packet")

// ReservedEvents are the event names a client may not send (socket.io-parser
// RESERVED_EVENTS); Decode rejects an EVENT named so.
var ReservedEvents = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// Packet is one Socket.IO packet, binary attachments excluded.
type Packet struct {
	Type        PacketType
	Namespace   string          // "/" when omitted on the wire; never contains ','
	ID          int64           // ack id; -1 when absent (0 is a valid id)
	Data        json.RawMessage // nil when absent
	Attachments int             // BinaryEvent/BinaryAck: binary messages that follow
}

// Limits bounds what Decode accepts. A zero (or negative) field takes its
// default.
type Limits struct {
	MaxAckID        int64 // largest ack id; default 1<<53-1, JavaScript's Number.MAX_SAFE_INTEGER
	MaxNamespaceLen int   // bytes, leading '/' included; default 256
	MaxDepth        int   // nesting of arrays and objects in Data; default 32
	MaxAttachments  int   // per binary packet; default 10, socket.io-parser's maxAttachments
}

func (l Limits) withDefaults() Limits {
	if l.MaxAckID <= 0 {
		l.MaxAckID = 1<<53 - 1
	}
	if l.MaxNamespaceLen <= 0 {
		l.MaxNamespaceLen = 256
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = 10
	}
	return l
}

func badPacket(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadPacket}, args...)...)
}

// Decode decodes one text packet, the data of an Engine.IO message:
// <type>[<attachments>-][<namespace>,][<ack id>][JSON]. p.Data aliases b.
//
// It parses as socket.io-parser's Decoder.decodeString does (a namespace
// runs from '/' to the first ',' or to the end, so "0/admin" is a CONNECT
// to /admin), then checks the data as its isPacketValid does, which also
// requires data where the type needs it. It is stricter where the reference
// relies on JavaScript's loose Number(): counts and ids are plain digits,
// and b must be UTF-8, as the ws library ensures for text frames.
func Decode(b []byte, lim Limits) (Packet, error) {
	lim = lim.withDefaults()
	if len(b) == 0 {
		return Packet{}, badPacket("empty packet")
	}
	if b[0] < '0' || b[0] > '0'+byte(PacketBinaryAck) {
		return Packet{}, badPacket("unknown packet type %q", b[0])
	}
	if !utf8.Valid(b) {
		return Packet{}, badPacket("invalid UTF-8")
	}
	p := Packet{Type: PacketType(b[0] - '0'), Namespace: "/", ID: -1}
	i := 1

	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		n, j, ok := parseDigits(b, i, int64(lim.MaxAttachments))
		if !ok {
			return Packet{}, badPacket("more than %d attachments", lim.MaxAttachments)
		}
		if j == i || j == len(b) || b[j] != '-' || n < 1 {
			return Packet{}, badPacket("illegal attachments")
		}
		p.Attachments = int(n)
		i = j + 1
	}

	if i < len(b) && b[i] == '/' {
		end := len(b)
		if j := bytes.IndexByte(b[i:], ','); j >= 0 {
			end = i + j
		}
		if end-i > lim.MaxNamespaceLen {
			return Packet{}, badPacket("namespace longer than %d bytes", lim.MaxNamespaceLen)
		}
		p.Namespace = string(b[i:end])
		i = min(end+1, len(b))
	}

	if i < len(b) && isDigit(b[i]) {
		if p.Type == PacketConnect || p.Type == PacketDisconnect || p.Type == PacketConnectError {
			return Packet{}, badPacket("ack id on packet type %d", p.Type)
		}
		id, j, ok := parseDigits(b, i, lim.MaxAckID)
		if !ok {
			return Packet{}, badPacket("ack id over %d", lim.MaxAckID)
		}
		p.ID = id
		i = j
	}

	if i < len(b) {
		p.Data = b[i:]
	}
	if err := checkData(p.Type, p.Data, lim.MaxDepth); err != nil {
		return Packet{}, err
	}
	return p, nil
}

// checkData applies socket.io-parser's isPacketValid data rules.
func checkData(t PacketType, data []byte, maxDepth int) error {
	if data == nil {
		switch t {
		case PacketConnect, PacketDisconnect:
			return nil
		}
		return badPacket("packet type %d needs data", t)
	}
	if t == PacketDisconnect {
		return badPacket("data on a DISCONNECT")
	}
	start := skipWS(data, 0)
	end, ok := scanValue(data, start, maxDepth)
	if !ok || skipWS(data, end) != len(data) {
		return badPacket("data is not JSON nested at most %d deep", maxDepth)
	}
	switch kind := data[start]; t {
	case PacketConnect:
		if kind != '{' {
			return badPacket("CONNECT data is not an object")
		}
	case PacketConnectError:
		if kind != '{' && kind != '"' {
			return badPacket("CONNECT_ERROR data is not an object or a string")
		}
	case PacketAck, PacketBinaryAck:
		if kind != '[' {
			return badPacket("ACK data is not an array")
		}
	case PacketEvent, PacketBinaryEvent:
		if kind != '[' {
			return badPacket("EVENT data is not an array")
		}
		j := skipWS(data, start+1)
		if data[j] == ']' {
			return badPacket("empty EVENT data")
		}
		if data[j] != '"' {
			return badPacket("event name is not a string")
		}
		k, _ := scanString(data, j)
		if isReserved(data[j:k]) {
			return badPacket("reserved event name %s", data[j:k])
		}
	}
	return nil
}

// isReserved reports whether the JSON string tok names a reserved event.
func isReserved(tok []byte) bool {
	if bytes.IndexByte(tok, '\\') < 0 {
		return ReservedEvents[string(tok[1:len(tok)-1])]
	}
	var s string
	return json.Unmarshal(tok, &s) == nil && ReservedEvents[s]
}

// AppendEncode appends the wire form of p to dst. p.ID < 0 means no ack id.
// The namespace is omitted when "" or "/"; it must not contain ','. p.Data
// is copied as is and must be valid for p.Type (see Decode).
func AppendEncode(dst []byte, p *Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	dst = appendNamespace(dst, p.Namespace)
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

func appendNamespace(dst []byte, nsp string) []byte {
	if nsp == "" || nsp == "/" {
		return dst
	}
	dst = append(dst, nsp...)
	return append(dst, ',')
}

// EventName splits EVENT data, a non-empty JSON array whose first element is
// a string, into the event name and the other elements. The args alias data.
func EventName(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	i := skipWS(data, 0)
	if i == len(data) || data[i] != '[' {
		return "", nil, badPacket("event data is not an array")
	}
	i = skipWS(data, i+1)
	if i == len(data) || data[i] != '"' {
		return "", nil, badPacket("event name is not a string")
	}
	for first := true; ; first = false {
		start := i
		end, ok := scanValue(data, i, maxEventDepth)
		if !ok {
			return "", nil, badPacket("event data is not JSON")
		}
		if first {
			name, err = unquote(data[start:end])
			if err != nil {
				return "", nil, err
			}
		} else {
			args = append(args, data[start:end:end])
		}
		i = skipWS(data, end)
		if i == len(data) {
			return "", nil, badPacket("event data is not JSON")
		}
		if data[i] == ']' {
			break
		}
		if data[i] != ',' {
			return "", nil, badPacket("event data is not JSON")
		}
		i = skipWS(data, i+1)
	}
	if skipWS(data, i+1) != len(data) {
		return "", nil, badPacket("event data is not JSON")
	}
	return name, args, nil
}

// maxEventDepth bounds nesting for EventName, whose input Decode has
// normally checked against Limits.MaxDepth already.
const maxEventDepth = 10000

// unquote returns the value of the JSON string tok.
func unquote(tok []byte) (string, error) {
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", badPacket("event name: %v", err)
	}
	return s, nil
}

// AppendEvent appends an EVENT packet, [name, args...] in namespace nsp
// with ack id id (-1: none), to dst. Each arg must be valid JSON; an empty
// one is written as null. It allocates only to grow dst.
func AppendEvent(dst []byte, nsp string, id int64, name string, args ...json.RawMessage) []byte {
	dst = append(dst, '0'+byte(PacketEvent))
	dst = appendNamespace(dst, nsp)
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	dst = append(dst, '[')
	dst = jsonenc.AppendString(dst, name, false)
	for _, a := range args {
		dst = append(dst, ',')
		if len(a) == 0 {
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseDigits parses the decimal digits of b from i. It returns the value,
// the index after the digits, and false if the value is over max.
func parseDigits(b []byte, i int, max int64) (n int64, end int, ok bool) {
	for ; i < len(b) && isDigit(b[i]); i++ {
		d := int64(b[i] - '0')
		if max-d < 0 || n > (max-d)/10 {
			return 0, i, false
		}
		n = n*10 + d
	}
	return n, i, true
}

// skipWS returns the index of the first non-whitespace byte of b from i.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanValue checks the JSON value starting at b[i] (RFC 8259 grammar, no
// leading whitespace) with arrays and objects nested at most maxDepth deep,
// and returns the index after it. It runs in a loop, not by recursion, so
// deep input costs no stack.
func scanValue(b []byte, i, maxDepth int) (int, bool) {
	var buf [32]byte
	stack := buf[:0] // open containers, '[' or '{'
	for {
		// A value is expected at b[i].
		if i >= len(b) {
			return i, false
		}
		var ok bool
		switch c := b[i]; c {
		case '[', '{':
			if len(stack) >= maxDepth {
				return i, false
			}
			stack = append(stack, c)
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // ']' is '['+2, '}' is '{'+2
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i, ok = scanKey(b, i); !ok {
					return i, false
				}
			}
			continue
		case '"':
			if i, ok = scanString(b, i); !ok {
				return i, false
			}
		case 't':
			if i, ok = scanLiteral(b, i, "true"); !ok {
				return i, false
			}
		case 'f':
			if i, ok = scanLiteral(b, i, "false"); !ok {
				return i, false
			}
		case 'n':
			if i, ok = scanLiteral(b, i, "null"); !ok {
				return i, false
			}
		default:
			if i, ok = scanNumber(b, i); !ok {
				return i, false
			}
		}
		// A value ended: close containers until one takes another value.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipWS(b, i+1)
			if top == '{' {
				if i, ok = scanKey(b, i); !ok {
					return i, false
				}
			}
			break
		}
	}
}

// scanKey scans `"key" :` and the whitespace after it.
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipWS(b, i+1), true
}

// scanString scans the JSON string starting at the quote b[i].
func scanString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return i, false
	}
	return i + len(lit), true
}

// scanNumber scans -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b) || !isDigit(b[i]):
		return i, false
	case b[i] == '0':
		i++
	default:
		i = skipDigits(b, i)
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
