package api

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// maxChatRunes bounds a chat message.
const maxChatRunes = 2000

// BindChat serves the tutorial chat room of the system commentd replaces,
// on its own namespace (/chat). It is ephemeral: nothing is stored, and
// messages reach the clients of this node only.
//
//	connect            everyone gets message "<id> connected"
//	message text       everyone gets message "<id>: <text>"
//	event1             the caller gets getID with its socket id
//	input text         everyone gets msg {id, message}
//	inputWM text       everyone but the sender gets msg {id, message}
//	private id, text   socket id gets msg {id, message}
//	disconnect         the others get message "<id> disconnected"
func BindChat(nsp *socketio.Namespace) {
	nsp.OnConnection(func(s *socketio.Socket) {
		nsp.Emit("message", s.ID()+" connected")
	})
	nsp.OnDisconnect(func(s *socketio.Socket, reason string) {
		nsp.Emit("message", s.ID()+" disconnected")
	})
	nsp.On("message", func(s *socketio.Socket, ev *socketio.Event) {
		if text, ok := chatText(s, ev, 0); ok {
			nsp.Emit("message", s.ID()+": "+text)
		}
	})
	nsp.On("event1", func(s *socketio.Socket, ev *socketio.Event) {
		s.Emit("getID", s.ID())
		ev.Ack(s.ID())
	})
	nsp.On("input", func(s *socketio.Socket, ev *socketio.Event) {
		if text, ok := chatText(s, ev, 0); ok {
			nsp.Emit("msg", chatMsg{ID: s.ID(), Message: text})
		}
	})
	nsp.On("inputWM", func(s *socketio.Socket, ev *socketio.Event) {
		if text, ok := chatText(s, ev, 0); ok {
			nsp.EmitExcept(s, "msg", chatMsg{ID: s.ID(), Message: text})
		}
	})
	nsp.On("private", func(s *socketio.Socket, ev *socketio.Event) {
		var target string
		if len(ev.Args) < 2 || json.Unmarshal(ev.Args[0], &target) != nil {
			chatError(s, ev, "private takes a socket id and a message")
			return
		}
		text, ok := chatText(s, ev, 1)
		if !ok {
			return
		}
		to := nsp.Socket(target)
		if to == nil {
			chatError(s, ev, "no such socket: "+target)
			return
		}
		to.Emit("msg", chatMsg{ID: s.ID(), Message: text})
		ev.Ack(map[string]bool{"ok": true})
	})
}

type chatMsg struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// chatText returns argument i as chat text: a string of valid UTF-8,
// without control characters but newline and tab, 1 to maxChatRunes runes.
func chatText(s *socketio.Socket, ev *socketio.Event, i int) (string, bool) {
	var text string
	if len(ev.Args) <= i || json.Unmarshal(ev.Args[i], &text) != nil {
		chatError(s, ev, "a chat message is a string")
		return "", false
	}
	if err := comment.ValidateContent(text, maxChatRunes); err != nil {
		chatError(s, ev, err.(*comment.Error).Message)
		return "", false
	}
	return text, utf8.ValidString(text)
}

func chatError(s *socketio.Socket, ev *socketio.Event, msg string) {
	s.Emit("chat_error", map[string]string{"message": msg})
	ev.Ack(map[string]any{"ok": false, "error": msg})
}
