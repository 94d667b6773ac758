package main

import (
	"cmp"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// widgetSuiteTimeout bounds the widget's browser run.
const widgetSuiteTimeout = 4 * time.Minute

// TestWidget runs the embeddable widget (/embed.js) in headless chromium,
// the node:test suite of web/test/widget, on host pages served from other
// origins than commentd: http://localhost:<port> is in cors.origins,
// http://127.0.0.1:<another port> is not. Auth is jwt with guests, so the
// suite mints tokens (users, a moderator, names that are XSS payloads).
// Screenshots go to web/test/out/widget (ignored by git). WIDGET_TESTS
// (a glob under web/test, e.g. widget/xss.test.mjs) runs part of the suite.
func TestWidget(t *testing.T) {
	host := hostPages(t, "localhost")
	foreign := hostPages(t, "127.0.0.1")

	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.CORS.Origins = []string{host}
	cfg.Auth.Mode = "jwt"
	cfg.Auth.JWTSecret = "widget-test-secret-of-32-bytes!!"
	cfg.Auth.Guests = true
	cfg.Auth.AnonymousRead = true
	cfg.History.Limit = 20 // widget.test.mjs loads older comments
	app, stop := startApp(t, cfg)
	t.Cleanup(stop)

	out := filepath.Join(commentdRoot(t), "web", "test", "out", "widget")
	require.NoError(t, os.MkdirAll(out, 0o755))
	runBrowserSuite(t, cmp.Or(os.Getenv("WIDGET_TESTS"), "widget/*.test.mjs"), widgetSuiteTimeout,
		"COMMENTD_URL=http://"+app.Addr(),
		"HOST_URL="+host,
		"FOREIGN_URL="+foreign,
		"JWT_SECRET="+cfg.Auth.JWTSecret,
		"WIDGET_OUT="+out,
	)
	t.Logf("screenshots and sizes: %s", out)
}

// hostPage is a site that embeds the widget; the query sets it up:
// server, post, lang, theme, sort, token, css=evil (hostile page styles),
// maxh (the list's height), counts (posts of <commentd-count> elements),
// live (those counts stay live).
var hostPage = template.Must(template.New("host").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>host page</title>
<script>window.__canary = 0;</script>
{{if .Evil}}<style>
* { display: none !important; }
html, body, commentd-thread, commentd-count { display: block !important; }
body { color: red; font: 40px/3 serif; background: #ccc; }
div, p, li, span, button, a, time, strong { color: red !important; font-size: 40px !important; border: 5px solid red !important; }
button { display: none !important; }
</style>{{end}}
{{if .MaxH}}<style>commentd-thread { --commentd-max-height: {{.MaxH}}; }</style>{{end}}
</head><body>
{{range .Counts}}<p>{{.}}: <commentd-count post="{{.}}" server="{{$.Server}}"{{if $.Live}} live{{end}}></commentd-count></p>{{end}}
{{if .Post}}<commentd-thread server="{{.Server}}" post="{{.Post}}" lang="{{.Lang}}" theme="{{.Theme}}" sort="{{.Sort}}"{{if .Token}} token="{{.Token}}"{{end}}></commentd-thread>{{end}}
<script src="{{.Server}}/embed.js"></script>
</body></html>`))

// hostPages serves hostPage on a loopback port and returns its origin,
// named with hostname (localhost or 127.0.0.1: two origins on one machine).
func hostPages(t *testing.T, hostname string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var counts []string
		if c := q.Get("counts"); c != "" {
			counts = strings.Split(c, ",")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = hostPage.Execute(w, map[string]any{
			"Server": q.Get("server"), "Post": q.Get("post"), "Lang": cmp.Or(q.Get("lang"), "en"),
			"Theme": cmp.Or(q.Get("theme"), "light"), "Sort": q.Get("sort"), "Token": q.Get("token"),
			"Evil": q.Get("css") == "evil", "MaxH": q.Get("maxh"), "Counts": counts, "Live": q.Get("live") != "",
		})
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "http://" + hostname + ":" + port
}
