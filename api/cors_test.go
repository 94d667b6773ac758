package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadCORS(t *testing.T) {
	h := ReadCORS([]string{"https://site.example/"}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct {
		method, path, origin, want string
	}{
		{"GET", "/api/counts", "https://site.example", "https://site.example"},
		{"GET", "/api/posts/p1/comments", "https://site.example", "https://site.example"},
		{"GET", "/api/counts", "https://other.example", ""},
		{"POST", "/api/posts/p1/comments", "https://site.example", ""},
		{"GET", "/api/moderation/queue", "https://site.example", ""},
		{"GET", "/api/users/u1/comments", "https://site.example", ""},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("Origin", c.origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != c.want {
			t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q, want %q", c.method, c.path, c.origin, got, c.want)
		}
	}
}
