package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func packetsEqual(a, b Packet) bool {
	return a.Type == b.Type && a.Namespace == b.Namespace && a.ID == b.ID &&
		a.Attachments == b.Attachments && bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil)
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// decodeCases are accepted packets. canon is the AppendEncode form when it
// differs from in.
var decodeCases = []struct {
	name, in string
	want     Packet
	canon    string
}{
	// socket.io-protocol test-suite, "connect" and "disconnect".
	{name: "connect main", in: "0", want: Packet{Type: PacketConnect, Namespace: "/", ID: -1}},
	{name: "connect main with payload", in: `0{"token":"123"}`,
		want: Packet{Type: PacketConnect, Namespace: "/", ID: -1, Data: raw(`{"token":"123"}`)}},
	{name: "connect custom", in: "0/custom,", want: Packet{Type: PacketConnect, Namespace: "/custom", ID: -1}},
	{name: "connect custom with payload", in: `0/custom,{"token":"abc"}`,
		want: Packet{Type: PacketConnect, Namespace: "/custom", ID: -1, Data: raw(`{"token":"abc"}`)}},
	// The reference decodes "0/random" as a CONNECT to /random (no comma
	// needed at the end), and the server answers 44/random,{...}.
	{name: "connect unknown namespace, no comma", in: "0/random", canon: "0/random,",
		want: Packet{Type: PacketConnect, Namespace: "/random", ID: -1}},
	{name: "connect admin with auth", in: `0/admin,{"token":"1"}`,
		want: Packet{Type: PacketConnect, Namespace: "/admin", ID: -1, Data: raw(`{"token":"1"}`)}},
	// Without the comma the namespace runs to the end, JSON included, as in
	// socket.io-parser; the server then refuses the odd namespace.
	{name: "connect, namespace swallows data", in: `0/admin{"token":"1"}`, canon: `0/admin{"token":"1"},`,
		want: Packet{Type: PacketConnect, Namespace: `/admin{"token":"1"}`, ID: -1}},
	{name: "connect root namespace spelled out", in: "0/,", canon: "0",
		want: Packet{Type: PacketConnect, Namespace: "/", ID: -1}},
	{name: "connect root namespace, no comma", in: "0/", canon: "0",
		want: Packet{Type: PacketConnect, Namespace: "/", ID: -1}},
	{name: "connect, space before data", in: "0 {}", want: Packet{Type: PacketConnect, Namespace: "/", ID: -1, Data: raw(" {}")}},
	{name: "connect recovery", in: `0{"pid":"p","offset":"o"}`,
		want: Packet{Type: PacketConnect, Namespace: "/", ID: -1, Data: raw(`{"pid":"p","offset":"o"}`)}},
	{name: "disconnect main", in: "1", want: Packet{Type: PacketDisconnect, Namespace: "/", ID: -1}},
	{name: "disconnect custom", in: "1/custom", canon: "1/custom,",
		want: Packet{Type: PacketDisconnect, Namespace: "/custom", ID: -1}},
	{name: "disconnect admin", in: "1/admin,", want: Packet{Type: PacketDisconnect, Namespace: "/admin", ID: -1}},

	// socket.io-protocol test-suite, "message".
	{name: "plain-text event", in: `2["message",1,"2",{"3":[true]}]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["message",1,"2",{"3":[true]}]`)}},
	{name: "event with ack", in: `2456["message-with-ack",1,"2",{"3":[false]}]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: 456, Data: raw(`["message-with-ack",1,"2",{"3":[false]}]`)}},
	{name: "binary event", in: `52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		want: Packet{Type: PacketBinaryEvent, Namespace: "/", ID: -1, Attachments: 2,
			Data: raw(`["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
	{name: "binary event with ack", in: `52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		want: Packet{Type: PacketBinaryEvent, Namespace: "/", ID: 789, Attachments: 2,
			Data: raw(`["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
	{name: "binary ack", in: `62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		want: Packet{Type: PacketBinaryAck, Namespace: "/", ID: 789, Attachments: 2,
			Data: raw(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
	{name: "ack", in: `3456[1,"2",{"3":[false]}]`,
		want: Packet{Type: PacketAck, Namespace: "/", ID: 456, Data: raw(`[1,"2",{"3":[false]}]`)}},

	// socket.io-protocol Readme examples and PROTOCOL.md.
	{name: "event in namespace with ack", in: `2/admin,1["x"]`,
		want: Packet{Type: PacketEvent, Namespace: "/admin", ID: 1, Data: raw(`["x"]`)}},
	{name: "event", in: `2["x"]`, want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x"]`)}},
	{name: "ack in namespace", in: `3/admin,13["bar"]`,
		want: Packet{Type: PacketAck, Namespace: "/admin", ID: 13, Data: raw(`["bar"]`)}},
	{name: "empty ack", in: `312[]`, want: Packet{Type: PacketAck, Namespace: "/", ID: 12, Data: raw(`[]`)}},
	{name: "binary event in namespace", in: `51-/admin,["baz",{"_placeholder":true,"num":0}]`,
		want: Packet{Type: PacketBinaryEvent, Namespace: "/admin", ID: -1, Attachments: 1,
			Data: raw(`["baz",{"_placeholder":true,"num":0}]`)}},
	{name: "connect error", in: `4{"message":"Not authorized"}`,
		want: Packet{Type: PacketConnectError, Namespace: "/", ID: -1, Data: raw(`{"message":"Not authorized"}`)}},
	{name: "connect error in namespace", in: `4/random,{"message":"Invalid namespace"}`,
		want: Packet{Type: PacketConnectError, Namespace: "/random", ID: -1, Data: raw(`{"message":"Invalid namespace"}`)}},
	{name: "connect error string", in: `4"oops"`, want: Packet{Type: PacketConnectError, Namespace: "/", ID: -1, Data: raw(`"oops"`)}},
	{name: "new_comment", in: `2["new_comment",{"userId":"u1","postId":"p1","content":"hi"}]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["new_comment",{"userId":"u1","postId":"p1","content":"hi"}]`)}},

	// Edges.
	{name: "ack id 0", in: `20["x"]`, want: Packet{Type: PacketEvent, Namespace: "/", ID: 0, Data: raw(`["x"]`)}},
	{name: "ack id leading zeros", in: `2007["x"]`, canon: `27["x"]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: 7, Data: raw(`["x"]`)}},
	{name: "largest ack id", in: `29007199254740991["x"]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: 1<<53 - 1, Data: raw(`["x"]`)}},
	{name: "event root namespace spelled out", in: `2/,["x"]`, canon: `2["x"]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x"]`)}},
	{name: "JSON whitespace", in: "2 [ \"x\" ,\t1\r\n] ",
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(" [ \"x\" ,\t1\r\n] ")}},
	{name: "escaped name", in: `2["a\"b\u00e9"]`, want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["a\"b\u00e9"]`)}},
	{name: "not quite reserved", in: `2["connect "]`, want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["connect "]`)}},
	{name: "reserved name as an argument", in: `2["x","connect"]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x","connect"]`)}},
	{name: "UTF-8", in: `2/café,["ünï","😀"]`, want: Packet{Type: PacketEvent, Namespace: "/café", ID: -1, Data: raw(`["ünï","😀"]`)}},
	{name: "ten attachments", in: `610-[]`, want: Packet{Type: PacketBinaryAck, Namespace: "/", ID: -1, Attachments: 10, Data: raw(`[]`)}},
	{name: "attachments leading zero", in: `601-[]`, canon: `61-[]`,
		want: Packet{Type: PacketBinaryAck, Namespace: "/", ID: -1, Attachments: 1, Data: raw(`[]`)}},
	{name: "numbers", in: `2["x",0,-1,1.5,-0.0e+10,2E-3,1e400]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x",0,-1,1.5,-0.0e+10,2E-3,1e400]`)}},
	{name: "literals", in: `2["x",true,false,null,{},[],{"a":{"b":[null]}}]`,
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x",true,false,null,{},[],{"a":{"b":[null]}}]`)}},
	{name: "depth 32", in: `2["x",` + strings.Repeat("[", 31) + strings.Repeat("]", 32),
		want: Packet{Type: PacketEvent, Namespace: "/", ID: -1, Data: raw(`["x",` + strings.Repeat("[", 31) + strings.Repeat("]", 32))}},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !packetsEqual(got, tt.want) {
				t.Fatalf("Decode(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.in
			}
			enc := AppendEncode(nil, &got)
			if string(enc) != canon {
				t.Fatalf("AppendEncode = %q, want %q", enc, canon)
			}
			again, err := Decode(enc, Limits{})
			if err != nil || !packetsEqual(again, got) {
				t.Fatalf("Decode(%q) = %+v, %v; want %+v", enc, again, err, got)
			}
		})
	}
}

// decodeRejects are packets the reference server closes the connection on.
var decodeRejects = []struct {
	name, in string
	lim      Limits
}{
	// socket.io-protocol test-suite: "should disallow connection with an
	// invalid handshake" and "should close the connection upon invalid
	// format (unknown packet type)" both send "4abc".
	{name: "test-suite unknown packet type", in: "abc"},
	// "should close the connection upon invalid format (invalid payload format)".
	{name: "test-suite invalid payload format", in: "2{}"},
	// "should close the connection upon invalid format (invalid ack id)".
	{name: "test-suite invalid ack id", in: `2abc["message-with-ack",1,"2",{"3":[false]}]`},

	{name: "empty", in: ""},
	{name: "type 7", in: "7"},
	{name: "type 9", in: `9["x"]`},
	{name: "type space", in: ` ["x"]`},
	{name: "type minus", in: `-1["x"]`},
	{name: "invalid UTF-8", in: "2[\"\xff\"]"},
	{name: "invalid UTF-8 namespace", in: "0/\xc3,"},

	// Attachments (socket.io-parser "Illegal attachments", "too many attachments").
	{name: "binary without count", in: `5-["x"]`},
	{name: "binary without dash", in: `51["x"]`},
	{name: "binary count only", in: `51`},
	{name: "binary type only", in: `5`},
	{name: "binary zero attachments", in: `50-["x"]`},
	{name: "binary 11 attachments", in: `511-["x"]`},
	{name: "binary huge count", in: `599999999999999999999999-["x"]`},
	{name: "binary count not digits", in: `5a-["x"]`},
	{name: "binary count with space", in: `5 1-["x"]`},
	{name: "attachments on an event", in: `21-["x"]`},
	{name: "attachments with limit", in: `63-[]`, lim: Limits{MaxAttachments: 2}},

	// Namespace.
	{name: "namespace too long", in: "0/" + strings.Repeat("a", 256) + ","},
	{name: "namespace too long by limit", in: "0/admin1,", lim: Limits{MaxNamespaceLen: 6}},

	// Ack id.
	{name: "ack id over 2^53-1", in: `29007199254740992["x"]`},
	{name: "ack id overflowing int64", in: `299999999999999999999999["x"]`},
	{name: "ack id over limit", in: `2101["x"]`, lim: Limits{MaxAckID: 100}},
	{name: "ack id on connect", in: `01{}`},
	{name: "ack id on connect in namespace", in: `0/admin,1`},
	{name: "ack id on disconnect", in: `15`},
	{name: "ack id on connect error", in: `41{"message":"x"}`},
	{name: "negative ack id", in: `2-1["x"]`},
	{name: "ack id with space", in: `2 1["x"]`},

	// Data per type (socket.io-parser isPayloadValid / isPacketValid).
	{name: "connect array", in: `0[]`},
	{name: "connect string", in: `0"x"`},
	{name: "connect null", in: `0null`},
	{name: "connect number", in: `0/admin,1.5`},
	{name: "disconnect with data", in: `1{}`},
	{name: "disconnect in namespace with data", in: `1/admin,{}`},
	{name: "event without data", in: `2`},
	{name: "event with ack id, without data", in: `212`},
	{name: "event in namespace without data", in: `2/admin,`},
	{name: "event, namespace without comma", in: `2/admin["x"]`},
	{name: "event empty array", in: `2[]`},
	{name: "event numeric name", in: `2[1]`},
	{name: "event object name", in: `2[{}]`},
	{name: "event null name", in: `2[null]`},
	{name: "event string", in: `2"x"`},
	{name: "binary event empty array", in: `51-[]`},
	{name: "ack without data", in: `3`},
	{name: "ack with id, without data", in: `312`},
	{name: "ack object", in: `312{}`},
	{name: "ack string", in: `3"x"`},
	{name: "binary ack object", in: `61-{}`},
	{name: "connect error without data", in: `4`},
	{name: "connect error array", in: `4[]`},
	{name: "connect error null", in: `4null`},
	{name: "connect error number", in: `4/admin,1`},

	// Reserved event names.
	{name: "reserved connect", in: `2["connect"]`},
	{name: "reserved connect_error", in: `2["connect_error"]`},
	{name: "reserved disconnect", in: `2["disconnect",1]`},
	{name: "reserved disconnecting", in: `21["disconnecting"]`},
	{name: "reserved newListener", in: `2/admin,["newListener"]`},
	{name: "reserved removeListener", in: `51-["removeListener",{"_placeholder":true,"num":0}]`},
	{name: "reserved, escaped", in: `2["\u0063onnect"]`},
	{name: "reserved, whitespace", in: `2[ "disconnect" ]`},

	// JSON.
	{name: "truncated", in: `2["x"`},
	{name: "truncated string", in: `2["x`},
	{name: "trailing bracket", in: `2["x"]]`},
	{name: "trailing garbage", in: `2["x"]x`},
	{name: "two values", in: `2["x"] ["y"]`},
	{name: "trailing comma", in: `2["x",]`},
	{name: "missing comma", in: `2["x" 1]`},
	{name: "object missing colon", in: `2["x",{"a" 1}]`},
	{name: "object trailing comma", in: `2["x",{"a":1,}]`},
	{name: "object non-string key", in: `2["x",{1:1}]`},
	{name: "bad number", in: `2["x",1.]`},
	{name: "leading zero", in: `2["x",01]`},
	{name: "plus sign", in: `2["x",+1]`},
	{name: "bare exponent", in: `2["x",1e]`},
	{name: "bad literal", in: `2["x",tru]`},
	{name: "bad escape", in: `2["x","\q"]`},
	{name: "short unicode escape", in: `2["x","\u12"]`},
	{name: "non-hex unicode escape", in: `2["x","\u12g4"]`},
	{name: "control character", in: "2[\"x\",\"a\x01\"]"},
	{name: "single quotes", in: `2['x']`},
	{name: "depth 33", in: `2["x",` + strings.Repeat("[", 32) + strings.Repeat("]", 33)},
	{name: "deep object", in: `0` + strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat("}", 33)},
	{name: "depth over limit", in: `2["x",[[1]]]`, lim: Limits{MaxDepth: 2}},
	{name: "very deep", in: `2["x",` + strings.Repeat("[", 100000)},
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range decodeRejects {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode([]byte(tt.in), tt.lim)
			if !errors.Is(err, ErrBadPacket) {
				t.Fatalf("Decode(%.60q) = %+v, %v; want ErrBadPacket", tt.in, p, err)
			}
		})
	}
}

func TestDecodeLimitsAccept(t *testing.T) {
	tests := []struct {
		in  string
		lim Limits
	}{
		{`2100["x"]`, Limits{MaxAckID: 100}},
		{"0/admin,", Limits{MaxNamespaceLen: 6}},
		{"0/" + strings.Repeat("a", 255) + ",", Limits{}},
		{`2["x",[1]]`, Limits{MaxDepth: 2}},
		{`62-[]`, Limits{MaxAttachments: 2}},
		{`2["x",` + strings.Repeat("[", 99) + strings.Repeat("]", 100), Limits{MaxDepth: 100}},
	}
	for _, tt := range tests {
		if _, err := Decode([]byte(tt.in), tt.lim); err != nil {
			t.Errorf("Decode(%.40q, %+v): %v", tt.in, tt.lim, err)
		}
	}
}

func TestDecodeDataAliases(t *testing.T) {
	b := []byte(`2["x",1]`)
	p, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b[6] = '2'
	if string(p.Data) != `["x",2]` {
		t.Fatalf("Data = %s, want it to alias the input", p.Data)
	}
}

func TestDecodeAllocs(t *testing.T) {
	b := []byte(`2["new_comment",{"userId":"u1","postId":"p1","content":"hello"}]`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Decode(b, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode of an event allocates %v times, want 0", allocs)
	}
}

func TestAppendEncode(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		{Packet{Type: PacketConnect, Namespace: "/", ID: -1, Data: raw(`{"sid":"abc"}`)}, `0{"sid":"abc"}`},
		{Packet{Type: PacketConnect, Namespace: "", ID: -1}, `0`},
		{Packet{Type: PacketConnectError, Namespace: "/random", ID: -1, Data: raw(`{"message":"Invalid namespace"}`)},
			`4/random,{"message":"Invalid namespace"}`},
		{Packet{Type: PacketDisconnect, Namespace: "/admin", ID: -1}, `1/admin,`},
		{Packet{Type: PacketEvent, Namespace: "/", ID: 0, Data: raw(`["x"]`)}, `20["x"]`},
		{Packet{Type: PacketAck, Namespace: "/admin", ID: 13, Data: raw(`["bar"]`)}, `3/admin,13["bar"]`},
		{Packet{Type: PacketBinaryEvent, Namespace: "/", ID: -1, Attachments: 1, Data: raw(`["baz",{"_placeholder":true,"num":0}]`)},
			`51-["baz",{"_placeholder":true,"num":0}]`},
		{Packet{Type: PacketBinaryAck, Namespace: "/admin", ID: 15, Attachments: 2, Data: raw(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)},
			`62-/admin,15[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
	}
	for _, tt := range tests {
		got := AppendEncode([]byte("4"), &tt.p)
		if string(got) != "4"+tt.want {
			t.Errorf("AppendEncode(%+v) = %q, want %q", tt.p, got, "4"+tt.want)
		}
		p, err := Decode(got[1:], Limits{})
		if err != nil {
			t.Errorf("Decode(%q): %v", got[1:], err)
			continue
		}
		want := tt.p
		if want.Namespace == "" {
			want.Namespace = "/"
		}
		if !packetsEqual(p, want) {
			t.Errorf("Decode(%q) = %+v, want %+v", got[1:], p, want)
		}
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		in   string
		name string
		args []string
	}{
		{`["x"]`, "x", nil},
		{`["message",1,"2",{"3":[true]}]`, "message", []string{`1`, `"2"`, `{"3":[true]}`}},
		{` [ "a\u0062\"" , 2 , [ ] ] `, `ab"`, []string{`2`, `[ ]`}},
		{`["new_comment",{"content":"a, b]"}]`, "new_comment", []string{`{"content":"a, b]"}`}},
		{`["",null]`, "", []string{`null`}},
	}
	for _, tt := range tests {
		name, args, err := EventName(json.RawMessage(tt.in))
		if err != nil {
			t.Errorf("EventName(%s): %v", tt.in, err)
			continue
		}
		if name != tt.name || len(args) != len(tt.args) {
			t.Errorf("EventName(%s) = %q, %q; want %q, %q", tt.in, name, args, tt.name, tt.args)
			continue
		}
		for i := range args {
			if string(args[i]) != tt.args[i] {
				t.Errorf("EventName(%s) arg %d = %s, want %s", tt.in, i, args[i], tt.args[i])
			}
		}
	}
}

func TestEventNameRejects(t *testing.T) {
	for _, in := range []string{
		``, ` `, `[]`, `[ ]`, `[1]`, `[null,"x"]`, `{}`, `"x"`, `["x"`, `["x",]`, `["x" 1]`,
		`["x"]x`, `["x"]]`, `["x",{]`, `["x",tru]`, `["\q"]`, `["x`, `[`,
	} {
		if name, args, err := EventName(json.RawMessage(in)); !errors.Is(err, ErrBadPacket) {
			t.Errorf("EventName(%s) = %q, %q, %v; want ErrBadPacket", in, name, args, err)
		}
	}
}

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		nsp  string
		id   int64
		name string
		args []json.RawMessage
		want string
	}{
		{"/", -1, "new_comment", []json.RawMessage{raw(`{"a":1}`)}, `2["new_comment",{"a":1}]`},
		{"", -1, "x", nil, `2["x"]`},
		{"/admin", 12, "x", []json.RawMessage{raw(`1`), raw(`"2"`)}, `2/admin,12["x",1,"2"]`},
		{"/", 0, "x", []json.RawMessage{nil}, `20["x",null]`},
		{"/", -1, "a\"b\\c\n\r\t\x01\x1f</>&é😀", nil, `2["a\"b\\c\n\r\t\u0001\u001f</>&é😀"]`},
		{"/", -1, "bad\xffutf8\xc3", nil, `2["bad\ufffdutf8\ufffd"]`},
	}
	for _, tt := range tests {
		got := AppendEvent(nil, tt.nsp, tt.id, tt.name, tt.args...)
		if string(got) != tt.want {
			t.Errorf("AppendEvent = %q, want %q", got, tt.want)
			continue
		}
		p, err := Decode(got, Limits{})
		if err != nil {
			t.Errorf("Decode(%q): %v", got, err)
			continue
		}
		name, args, err := EventName(p.Data)
		if err != nil {
			t.Errorf("EventName(%s): %v", p.Data, err)
			continue
		}
		want := strings.ToValidUTF8(tt.name, "\ufffd")
		if name != want || len(args) != len(tt.args) {
			t.Errorf("EventName(%s) = %q, %d args; want %q, %d", p.Data, name, len(args), want, len(tt.args))
		}
	}
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	for _, name := range []string{"x", "a\"b", "tab\there", "\x00\x7f", "é😀", "\u2028", ""} {
		got := AppendEvent(nil, "/", -1, name)
		name2, _, err := EventName(got[1:])
		if err != nil || name2 != name {
			t.Errorf("AppendEvent(%q) = %q: name %q, %v", name, got, name2, err)
		}
	}
}

func TestAppendEventAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	arg := json.RawMessage(`{"userId":"u1","postId":"p1","content":"hello"}`)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendEvent(dst[:0], "/admin", 7, "comment_added", arg, arg)
	})
	if allocs != 0 {
		t.Fatalf("AppendEvent allocates %v times, want 0", allocs)
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	in := []byte(`2["new_comment",{"userId":"6650f1c2a1b2c3d4e5f60718","postId":"6650f1c2a1b2c3d4e5f60719","content":"Great post, thanks for writing it!"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Decode(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	arg := json.RawMessage(`{"_id":"6650f1c2a1b2c3d4e5f6071a","userId":"6650f1c2a1b2c3d4e5f60718","postId":"6650f1c2a1b2c3d4e5f60719","content":"Great post, thanks for writing it!","createdAt":"2024-05-24T10:00:00Z"}`)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEvent(dst[:0], "/", -1, "comment_added", arg)
	}
	b.SetBytes(int64(len(dst)))
}
