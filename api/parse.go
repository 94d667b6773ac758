package api

import "unicode/utf8"

// decodePlain decodes the usual new_comment object, the keys of
// newCommentRequest with plain string values, into req, as json.Unmarshal
// would, without reflection: the handler's costliest step was decoding.
// It returns false, req untouched, for anything else (escapes, other keys
// or value types, invalid UTF-8, bad JSON), which is left to encoding/json
// (FuzzDecodePlain compares the two).
func decodePlain(b []byte, req *newCommentRequest) bool {
	var out newCommentRequest
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return false
		}
		*req = out
		return true
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		val, j, ok := plainString(b, skipSpace(b, i+1))
		if !ok {
			return false
		}
		switch key {
		case "postId":
			out.PostID = val
		case "content":
			out.Content = val
		case "userId":
			out.UserID = val
		case "clientId":
			out.ClientID = val
		case "parentId":
			out.ParentID = val
		default:
			return false // encoding/json matches keys without case, and skips unknown ones
		}
		i = skipSpace(b, j)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return false
			}
			*req = out
			return true
		default:
			return false
		}
	}
}

// plainString reads a JSON string at b[i] that needs no unescaping: no
// backslash, no control character, valid UTF-8.
func plainString(b []byte, i int) (s string, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			v := b[i+1 : j]
			if !ascii && !utf8.Valid(v) {
				return "", 0, false
			}
			return string(v), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
