package engineio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// clientFrame is a masked client frame (RFC 6455 section 5.3).
func clientFrame(b0 byte, payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{b0, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i := range len(payload) {
		f = append(f, payload[i]^key[i&3])
	}
	return f
}

// A fragmented message with a ping between its fragments is reassembled,
// the ping answered, and the reader holds no buffer once it waits again.
func TestWSReaderFragmentsAndIdleBuffer(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	var pings []string
	r := newWSReader(server, 100, func(p []byte) { pings = append(pings, string(p)) })
	go func() {
		var b []byte
		b = append(b, clientFrame(opText, "4hel")...)
		b = append(b, clientFrame(0x80|opPing, "x")...)
		b = append(b, clientFrame(0x80|opContinuation, "lo")...)
		client.Write(b)
		client.Write(clientFrame(0x80|opBinary, string(make([]byte, 101))))
		client.Close()
	}()
	op, msg, err := r.next()
	if err != nil || op != opText || string(msg) != "4hello" {
		t.Fatalf("next = %d %q %v, want text 4hello", op, msg, err)
	}
	if len(pings) != 1 || pings[0] != "x" {
		t.Fatalf("pings = %q", pings)
	}
	if r.br != nil {
		t.Fatal("the reader holds a buffer while nothing is buffered")
	}
	_, _, err = r.next()
	var fe *frameError
	if !errors.As(err, &fe) || fe.code != closeTooBig {
		t.Fatalf("message over the limit: err = %v, want close code %d", err, closeTooBig)
	}
}

// bytesConn is a net.Conn that reads from a fixed byte string.
type bytesConn struct {
	net.Conn
	r *bytes.Reader
}

func (c bytesConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzWSReader feeds arbitrary bytes to the frame reader: it never panics,
// never returns a message over its limit or with an opcode other than text
// or binary, and every error is a frame error, a close frame or the end of
// the input.
func FuzzWSReader(f *testing.F) {
	f.Add(clientFrame(0x80|opText, "4hello"))
	f.Add(append(clientFrame(opText, "4hel"), clientFrame(0x80|opContinuation, "lo")...))
	f.Add(append(clientFrame(0x80|opPing, "x"), clientFrame(0x80|opBinary, "\x01\x02")...))
	f.Add(clientFrame(0x80|opClose, "\x03\xe8"))
	f.Add([]byte{0x81, 0xfe, 0x00, 0x10, 1, 2, 3, 4})
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})
	const limit = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newWSReader(bytesConn{r: bytes.NewReader(in)}, limit, func([]byte) {})
		for {
			op, msg, err := r.next()
			if err != nil {
				var fe *frameError
				if !errors.As(err, &fe) && !errors.Is(err, errCloseFrame) &&
					!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if op != opText && op != opBinary {
				t.Fatalf("message with opcode %d", op)
			}
			if len(msg) > limit {
				t.Fatalf("message of %d bytes over the limit %d", len(msg), limit)
			}
		}
	})
}
