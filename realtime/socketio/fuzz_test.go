package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that what it accepts encodes
// back to the same packet, that its JSON check agrees with encoding/json,
// and that EventName never panics. Seeds are real packets (the test tables
// come from the protocol and its test suite) and cut-off versions of them.
func FuzzDecode(f *testing.F) {
	var seeds []string
	for _, tt := range decodeCases {
		seeds = append(seeds, tt.in)
	}
	for _, tt := range decodeRejects {
		if len(tt.in) < 1000 {
			seeds = append(seeds, tt.in)
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
		for _, cut := range []int{1, 2, 3, len(s) / 2, len(s) - 1} {
			if cut > 0 && cut < len(s) {
				f.Add([]byte(s[:cut]))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		p, err := Decode(in, Limits{})
		if !bytes.Equal(in, orig) {
			t.Fatalf("Decode modified its input")
		}

		// EventName must not panic on anything, and what it accepts is JSON.
		if _, _, err := EventName(in); err == nil && !json.Valid(in) {
			t.Fatalf("EventName accepted invalid JSON %q", in)
		}
		// The JSON scanner agrees with encoding/json (depth aside).
		end, ok := scanValue(in, skipWS(in, 0), 1<<30)
		if mine := ok && skipWS(in, end) == len(in); mine != json.Valid(in) {
			t.Fatalf("scanValue(%q) = %v, json.Valid = %v", in, mine, !mine)
		}

		if err != nil {
			if !errors.Is(err, ErrBadPacket) {
				t.Fatalf("Decode(%q): error %v is not ErrBadPacket", in, err)
			}
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q) accepted invalid JSON data", in)
		}
		if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
			name, _, err := EventName(p.Data)
			if err != nil || ReservedEvents[name] {
				t.Fatalf("Decode(%q) accepted an event EventName refuses: %q, %v", in, name, err)
			}
		}
		enc := AppendEncode(nil, &p)
		p2, err := Decode(enc, Limits{})
		if err != nil {
			t.Fatalf("Decode(%q) = %+v; its encoding %q does not decode: %v", in, p, enc, err)
		}
		if !packetsEqual(p, p2) {
			t.Fatalf("round trip of %q: %+v became %+v (via %q)", in, p, p2, enc)
		}
		if enc2 := AppendEncode(nil, &p2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
	})
}
