package engineio

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are real frames and payloads (from the protocol README and its
// test suite), and cut-off versions of them.
var fuzzSeeds = []string{
	"0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
	"1", "2", "3", "2probe", "3probe", "5", "6",
	"4hello", "4hello\x1e2\x1e4world", "4test1\x1e4test2\x1e4test3",
	"4hello\x1ebAQIDBA==", "bAQIDBA==", "bAQIDBA", "b", "bA", "abc",
	"40", "42[\"new_comment\",{\"postId\":\"p1\",\"content\":\"hi\"}]",
	"451-[\"baz\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
	"4hello\x1e", "\x1e", "", "4a\x1e\x1e4b", "b!!!!", "bAQID\nBA==",
}

// FuzzDecode checks that DecodeText and DecodePayload never panic, that
// whatever they accept encodes back to the same packets, and that errors
// are ErrBadPacket.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
		for _, cut := range []int{1, 2, len(s) / 2, len(s) - 1} {
			if cut > 0 && cut < len(s) {
				f.Add([]byte(s[:cut]))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)

		p, err := DecodeText(in)
		if err != nil {
			if !errors.Is(err, ErrBadPacket) {
				t.Fatalf("DecodeText(%q): error %v is not ErrBadPacket", in, err)
			}
		} else if enc := AppendText(nil, p); !bytes.Equal(enc, in) {
			t.Fatalf("AppendText(DecodeText(%q)) = %q", in, enc)
		}

		const max = 16
		ps, err := DecodePayload(in, max)
		if !bytes.Equal(in, orig) {
			t.Fatalf("DecodePayload modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrBadPacket) {
				t.Fatalf("DecodePayload(%q): error %v is not ErrBadPacket", in, err)
			}
			return
		}
		if len(ps) == 0 || len(ps) > max {
			t.Fatalf("DecodePayload(%q): %d packets", in, len(ps))
		}
		enc := AppendPayload(nil, ps)
		ps2, err := DecodePayload(enc, max)
		if err != nil {
			t.Fatalf("DecodePayload(%q) = %+v; its encoding %q does not decode: %v", in, ps, enc, err)
		}
		if len(ps2) != len(ps) {
			t.Fatalf("round trip of %q: %d packets, then %d", in, len(ps), len(ps2))
		}
		for i := range ps {
			if !packetsEqual(ps[i], ps2[i]) {
				t.Fatalf("round trip of %q: packet %d %+v became %+v", in, i, ps[i], ps2[i])
			}
		}
		if enc2 := AppendPayload(nil, ps2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
	})
}
