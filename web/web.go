// Package web serves the pages and the embeddable widget, embedded in the
// binary: the demo page (/, the widget on a page), the protocol demo
// (/protocol.html, with the socket.io client bundle taken from the npm
// package socket.io-client, MIT, see static/vendor/socket.io-client.LICENSE),
// the admin page (/admin/) and /embed.js. The admin page holds no secret:
// it asks for a moderator token and every request it makes is checked by
// the server.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Cache lifetimes of the widget script.
const (
	// embedAliasMaxAge is how long a browser keeps /embed.js before asking
	// again (with its ETag): a new release reaches sites within it.
	embedAliasMaxAge = 5 * time.Minute
	// embedHashedMaxAge is for /embed.<hash>.js, whose content never changes.
	embedHashedMaxAge = 365 * 24 * time.Hour
)

var embedJS = mustRead("static/embed.js")

// EmbedPath is the content-addressed path of the widget script,
// /embed.<first 12 hex digits of its SHA-256>.js.
var EmbedPath = "/embed." + hashOf(embedJS) + ".js"

func mustRead(name string) []byte {
	b, err := static.ReadFile(name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return b
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// Handler serves the pages at /, /protocol.html and /admin/, their assets,
// and the widget at /embed.js (short cache, names EmbedPath in a Link
// header) and EmbedPath (immutable).
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	etag := `"` + hashOf(embedJS) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		switch r.URL.Path {
		case "/embed.js", EmbedPath:
			// Loaded by other sites' pages: no page policy of ours applies.
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			h.Set("Cross-Origin-Resource-Policy", "cross-origin")
			h.Set("ETag", etag)
			if r.URL.Path == EmbedPath {
				h.Set("Cache-Control", "public, max-age="+seconds(embedHashedMaxAge)+", immutable")
			} else {
				h.Set("Cache-Control", "public, max-age="+seconds(embedAliasMaxAge))
				h.Set("Link", "<"+EmbedPath+">; rel=\"canonical\"")
			}
			if strings.Contains(r.Header.Get("If-None-Match"), etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			_, _ = w.Write(embedJS)
			return
		}
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int(d / time.Second))
}
