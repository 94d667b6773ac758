// Package web serves the demo page and the admin page (/admin/), embedded
// in the binary: they work offline, with the socket.io client bundle taken
// from the npm package socket.io-client (MIT, see
// static/vendor/socket.io-client.LICENSE). The admin page holds no secret:
// it asks for a moderator token and every request it makes is checked by
// the server.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the demo page at /, the admin page at /admin/, and their
// assets.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
