package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func get(t *testing.T, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

// TestEmbedCaching: /embed.js is a short-cached alias naming the
// content-addressed copy, which is immutable; both answer If-None-Match.
func TestEmbedCaching(t *testing.T) {
	if !regexp.MustCompile(`^/embed\.[0-9a-f]{12}\.js$`).MatchString(EmbedPath) {
		t.Fatalf("EmbedPath = %q", EmbedPath)
	}
	alias := get(t, "/embed.js")
	if alias.Code != http.StatusOK || alias.Body.Len() != len(embedJS) {
		t.Fatalf("/embed.js: %d, %d bytes", alias.Code, alias.Body.Len())
	}
	for k, want := range map[string]string{
		"Cache-Control": "public, max-age=300",
		"Link":          "<" + EmbedPath + `>; rel="canonical"`,
		"Content-Type":  "text/javascript; charset=utf-8",
	} {
		if got := alias.Header().Get(k); got != want {
			t.Errorf("/embed.js %s = %q, want %q", k, got, want)
		}
	}
	if alias.Header().Get("Content-Security-Policy") != "" {
		t.Error("the script carries a page's CSP")
	}
	hashed := get(t, EmbedPath)
	if got := hashed.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("%s Cache-Control = %q", EmbedPath, got)
	}
	if hashed.Body.String() != alias.Body.String() {
		t.Error("the alias and the hashed path differ")
	}
	if w := get(t, "/embed.js", "If-None-Match", alias.Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
	if w := get(t, "/embed.0123456789ab.js"); w.Code != http.StatusNotFound {
		t.Errorf("another hash: %d, want 404", w.Code)
	}
	if w := get(t, "/"); w.Header().Get("Content-Security-Policy") == "" {
		t.Error("the demo page has no CSP")
	}
}
