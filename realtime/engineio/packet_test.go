package engineio

import (
	"bytes"
	"errors"
	"testing"
)

func packetsEqual(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   string
		want Packet
	}{
		{"0{\"sid\":\"x\"}", Packet{Type: Open, Data: []byte(`{"sid":"x"}`)}},
		{"1", Packet{Type: Close}},
		{"2", Packet{Type: Ping}},
		{"2probe", Packet{Type: Ping, Data: []byte("probe")}},
		{"3", Packet{Type: Pong}},
		{"3probe", Packet{Type: Pong, Data: []byte("probe")}},
		{"4hello", Packet{Type: Message, Data: []byte("hello")}},
		{"4", Packet{Type: Message}},
		{"42[\"x\"]", Packet{Type: Message, Data: []byte(`2["x"]`)}},
		{"5", Packet{Type: Upgrade}},
		{"6", Packet{Type: Noop}},
		{"4\x1e\x00\xff", Packet{Type: Message, Data: []byte("\x1e\x00\xff")}},
	}
	for _, tt := range tests {
		got, err := DecodeText([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeText(%q): %v", tt.in, err)
			continue
		}
		if !packetsEqual(got, tt.want) {
			t.Errorf("DecodeText(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if enc := AppendText(nil, got); string(enc) != tt.in {
			t.Errorf("AppendText(DecodeText(%q)) = %q", tt.in, enc)
		}
	}
}

func TestDecodeTextRejects(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty frame", ""},
		// engine.io-protocol test-suite: "closes the session upon invalid packet format".
		{"test-suite invalid packet format", "abc"},
		{"type 7", "7"},
		{"type 9", "9hello"},
		{"type before 0", "/x"},
		{"base64 is not a text type", "bAQIDBA=="},
		{"space", " 4hello"},
	}
	for _, tt := range tests {
		if p, err := DecodeText([]byte(tt.in)); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: DecodeText(%q) = %+v, %v; want ErrBadPacket", tt.name, tt.in, p, err)
		}
	}
}

func TestDecodeTextAliases(t *testing.T) {
	frame := []byte("4hello")
	p, err := DecodeText(frame)
	if err != nil {
		t.Fatal(err)
	}
	frame[1] = 'j'
	if string(p.Data) != "jello" {
		t.Fatalf("Data = %q, want it to alias the frame", p.Data)
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Packet
		// canon is the AppendPayload form when it differs from in.
		canon string
	}{
		// The bodies of the engine.io-protocol test-suite "message" cases.
		{name: "one text", in: "4hello", want: []Packet{{Type: Message, Data: []byte("hello")}}},
		{name: "several text", in: "4test1\x1e4test2\x1e4test3", want: []Packet{
			{Type: Message, Data: []byte("test1")},
			{Type: Message, Data: []byte("test2")},
			{Type: Message, Data: []byte("test3")},
		}},
		{name: "text and binary", in: "4hello\x1ebAQIDBA==", want: []Packet{
			{Type: Message, Data: []byte("hello")},
			{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true},
		}},
		{name: "pong", in: "3", want: []Packet{{Type: Pong}}},
		{name: "close", in: "1", want: []Packet{{Type: Close}}},
		{name: "empty binary", in: "b", want: []Packet{{Type: Message, Data: []byte{}, Binary: true}}},
		{name: "unpadded binary", in: "bAQIDBA", canon: "bAQIDBA==",
			want: []Packet{{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true}}},
		{name: "binary then text", in: "bAQID\x1e6\x1e4", want: []Packet{
			{Type: Message, Data: []byte{1, 2, 3}, Binary: true},
			{Type: Noop},
			{Type: Message},
		}},
		{name: "socket.io packets", in: "40\x1e42[\"a\",1]\x1e451-[\"b\",{\"_placeholder\":true,\"num\":0}]\x1ebAQ==",
			want: []Packet{
				{Type: Message, Data: []byte("0")},
				{Type: Message, Data: []byte(`2["a",1]`)},
				{Type: Message, Data: []byte(`51-["b",{"_placeholder":true,"num":0}]`)},
				{Type: Message, Data: []byte{1}, Binary: true},
			}},
	}
	for _, tt := range tests {
		got, err := DecodePayload([]byte(tt.in), 10)
		if err != nil {
			t.Errorf("%s: DecodePayload(%q): %v", tt.name, tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %d packets %+v, want %d", tt.name, len(got), got, len(tt.want))
			continue
		}
		for i := range got {
			if !packetsEqual(got[i], tt.want[i]) {
				t.Errorf("%s: packet %d = %+v, want %+v", tt.name, i, got[i], tt.want[i])
			}
		}
		canon := tt.canon
		if canon == "" {
			canon = tt.in
		}
		if enc := AppendPayload(nil, got); string(enc) != canon {
			t.Errorf("%s: AppendPayload = %q, want %q", tt.name, enc, canon)
		}
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
	}{
		{"empty body", "", 10},
		// engine.io-protocol test-suite: "closes the session upon invalid packet format" (polling).
		{"test-suite invalid packet format", "abc", 10},
		{"empty entry in the middle", "4a\x1e\x1e4b", 10},
		{"empty last entry", "4a\x1e", 10},
		{"empty first entry", "\x1e4a", 10},
		{"only a separator", "\x1e", 10},
		{"unknown type after good ones", "4a\x1e4b\x1e9c", 10},
		{"invalid base64 char", "b!!!!", 10},
		{"invalid base64 padding", "bAQ=I", 10},
		{"base64 too short", "bA", 10},
		{"base64 with newline", "bAQID\nBA==", 10},
		{"url-safe base64", "b-_-_", 10},
		{"too many packets", "2\x1e2\x1e2", 2},
		{"too many packets, limit 1", "4a\x1e4b", 1},
	}
	for _, tt := range tests {
		if ps, err := DecodePayload([]byte(tt.in), tt.max); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: DecodePayload(%q) = %+v, %v; want ErrBadPacket", tt.name, tt.in, ps, err)
		}
	}
}

func TestDecodePayloadLimit(t *testing.T) {
	body := []byte("2\x1e2\x1e2")
	if ps, err := DecodePayload(body, 3); err != nil || len(ps) != 3 {
		t.Fatalf("at the limit: %d packets, %v", len(ps), err)
	}
	if ps, err := DecodePayload(body, 0); err != nil || len(ps) != 3 {
		t.Fatalf("no limit: %d packets, %v", len(ps), err)
	}
}

func TestAppendPayloadAppends(t *testing.T) {
	got := AppendPayload([]byte("x"), []Packet{{Type: Ping}, {Type: Message, Data: []byte{0xff}, Binary: true}})
	if string(got) != "x2\x1eb/w==" {
		t.Fatalf("AppendPayload = %q", got)
	}
	if got := AppendPayload(nil, nil); len(got) != 0 {
		t.Fatalf("AppendPayload(nil) = %q", got)
	}
}

// A frame made in a MessageBuffer is the frame Prepare makes, for payloads
// on both sides of the header size steps.
func TestPrepareBuffer(t *testing.T) {
	for _, n := range []int{0, 1, 124, 125, 126, 65534, 65535, 65536, 70000} {
		data := bytes.Repeat([]byte{'x'}, n)
		want := PrepareMessage(data)
		got := PrepareBuffer(append(MessageBuffer(0), data...))
		if !bytes.Equal(got.ws, want.ws) || !bytes.Equal(got.pkt.Data, want.pkt.Data) || got.pkt.Type != Message {
			t.Fatalf("%d bytes: frame %x... differs from %x...", n, got.ws[:min(12, len(got.ws))], want.ws[:min(12, len(want.ws))])
		}
	}
}
