package engineio

import (
	"errors"
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
