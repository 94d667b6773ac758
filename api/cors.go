package api

import (
	"net/http"
	"strings"
)

// ReadCORS lets pages on the allowed origins (cors.origins; "*" for any)
// read the public GET endpoints, /api/counts and a post's comments, as the
// embedded widget's <commentd-count> does. Nothing is sent with
// credentials: what a reader without a token may see, and nothing else.
func ReadCORS(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		if o != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && publicRead(r.URL.Path) && originListed(origins, o) {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

func publicRead(path string) bool {
	return path == "/api/counts" || (strings.HasPrefix(path, "/api/posts/") && strings.HasSuffix(path, "/comments"))
}

func originListed(origins []string, o string) bool {
	for _, allowed := range origins {
		if allowed == "*" || strings.TrimSuffix(allowed, "/") == o {
			return true
		}
	}
	return false
}
