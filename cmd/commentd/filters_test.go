package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/hook"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// postAck posts content to post as user over c and returns the ack.
func postAck(t *testing.T, c *sioClient, post, user, content string) changeAck {
	t.Helper()
	ack, err := ackOf(c.ack("new_comment", map[string]string{"postId": post, "userId": user, "content": content}))
	require.NoError(t, err)
	return ack
}

// tryPostAck is postAck for a goroutine other than the test's (a condition of
// require.Eventually): a failure is a zero ack.
func tryPostAck(c *sioClient, post, user, content string) changeAck {
	ack, _ := ackOf(c.ack("new_comment", map[string]string{"postId": post, "userId": user, "content": content}))
	return ack
}

// requireRejected checks an ack is REJECTED without echoing what refused it.
func requireRejected(t *testing.T, ack changeAck, word string) {
	t.Helper()
	require.False(t, ack.OK, "%+v", ack)
	require.Equal(t, comment.CodeRejected, ack.Error.Code)
	require.NotContains(t, strings.ToLower(ack.Error.Message), strings.ToLower(word))
}

// moderation.words with words_action hold and reject: a new comment with a
// listed word (any case, whole words, phrases) is held or refused; a word
// inside another word is not a match; moderators skip the filter; an edit
// adding a listed word is refused in both modes; REST answers 422.
func TestFilterWords(t *testing.T) {
	e := newEnv(t, 1)
	for _, action := range []string{"hold", "reject"} {
		t.Run(action, func(t *testing.T) {
			cfg := e.config(1)
			cfg.Moderation.Words = []string{"spam", "buy now"}
			cfg.Moderation.WordsAction = action
			cfg.Admin.Token = modToken
			app, stop := startApp(t, cfg)
			defer stop()
			post := "words-" + action
			c := dialSIO(t, app.Addr())
			mod := dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`)

			for _, text := range []string{"This is SPAM.", "Please buy   NOW!"} {
				ack := postAck(t, c, post, "alice", text)
				if action == "hold" {
					require.True(t, ack.OK, "%+v", ack)
					require.Equal(t, comment.StatusPending, ack.Comment.Status, text)
				} else {
					requireRejected(t, ack, "spam")
				}
			}
			fine := postAck(t, c, post, "alice", "no spammer, antispam, buy it now")
			require.True(t, fine.OK, "%+v", fine)
			require.Empty(t, fine.Comment.Status, "words inside other words, or apart, do not match")
			own := postAck(t, mod, post, "mia", "spam, said the moderator")
			require.True(t, own.OK, "%+v", own)
			require.Empty(t, own.Comment.Status, "moderators skip the filters")

			edit, err := ackOf(c.ack("edit_comment", map[string]any{"postId": post, "commentId": fine.Comment.ID,
				"userId": "alice", "content": "now with spam"}))
			require.NoError(t, err)
			requireRejected(t, edit, "spam")

			resp, err := http.Post("http://"+app.Addr()+"/api/posts/"+post+"/comments", "application/json",
				strings.NewReader(`{"userId":"bob","content":"spam over REST"}`))
			require.NoError(t, err)
			defer resp.Body.Close()
			if action == "reject" {
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
				var body changeAck
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				requireRejected(t, body, "spam")
			} else {
				var body changeAck
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				require.Equal(t, comment.StatusPending, body.Comment.Status)
			}
		})
	}
}

// moderation.max_links: more links than the limit hold a comment.
func TestFilterLinks(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Moderation.MaxLinks = 2
	app, stop := startApp(t, cfg)
	defer stop()
	c := dialSIO(t, app.Addr())
	two := postAck(t, c, "links", "alice", "see https://www.a.example and www.b.example")
	require.True(t, two.OK, "%+v", two)
	require.Empty(t, two.Comment.Status, "two links: at the limit")
	three := postAck(t, c, "links", "alice", "http://a.example http://b.example WWW.c.example")
	require.True(t, three.OK, "%+v", three)
	require.Equal(t, comment.StatusPending, three.Comment.Status)
}

// hookServer is a moderation hook on loopback: it checks each request's
// signature and answers by the comment's content: "hold", "reject",
// "error" (500), "junk" (an unknown action) and "slow" (no answer until
// released or the caller gives up) in it; else allow.
type hookServer struct {
	*httptest.Server
	key     []byte
	release chan struct{}
	once    sync.Once
	arrived chan string // the content of each comment, once its request arrives

	mu    sync.Mutex
	calls []hookCall
}

type hookCall struct {
	typ       string
	c         comment.Comment
	signed    bool // valid under the secret
	wrongFail bool // and invalid under another
}

func startHook(t *testing.T, secret string) *hookServer {
	t.Helper()
	key, err := hook.Key(secret)
	require.NoError(t, err)
	h := &hookServer{key: key, release: make(chan struct{}), arrived: make(chan string, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		h.unblock()
		h.Close()
	})
	return h
}

// unblock lets the slow requests answer.
func (h *hookServer) unblock() { h.once.Do(func() { close(h.release) }) }

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Type    string          `json:"type"`
		Comment comment.Comment `json:"comment"`
	}
	json.Unmarshal(body, &req)
	call := hookCall{typ: req.Type, c: req.Comment,
		signed:    hook.Verify(h.key, r.Header, body, time.Now(), time.Minute) == nil,
		wrongFail: hook.Verify([]byte("not the secret"), r.Header, body, time.Now(), time.Minute) == hook.ErrBadSignature}
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
	h.arrived <- req.Comment.Content
	if !call.signed {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	answer := func(action string) { io.WriteString(w, `{"action":"`+action+`"}`) }
	switch content := req.Comment.Content; {
	case strings.Contains(content, "slow"):
		select {
		case <-h.release:
			answer("allow")
		case <-r.Context().Done():
		}
	case strings.Contains(content, "error"):
		w.WriteHeader(http.StatusInternalServerError)
	case strings.Contains(content, "junk"):
		answer("maybe")
	case strings.Contains(content, "hold"):
		answer("hold")
	case strings.Contains(content, "reject"):
		answer("reject")
	default:
		answer("allow")
	}
}

func (h *hookServer) callsSoFar() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// The moderation hook's answers: allow, hold, reject; a timeout, a 500 and
// an unknown action are failures, which moderation.hook_failure maps to
// hold or allow. Each request is a signed comment.created; moderators'
// comments are not sent.
func TestHookVerdicts(t *testing.T) {
	e := newEnv(t, 1)
	const secret = "whsec_c2VjcmV0LW9mLXRoZS1ob29r"
	for _, failure := range []string{"hold", "allow"} {
		t.Run("hook_failure "+failure, func(t *testing.T) {
			h := startHook(t, secret)
			cfg := e.config(1)
			cfg.Moderation.HookURL = h.URL
			cfg.Moderation.HookSecret = secret
			cfg.Moderation.HookTimeout = time.Second
			cfg.Moderation.HookFailure = failure
			cfg.Admin.Token = modToken
			app, stop := startApp(t, cfg)
			defer stop()
			post := "hook-" + failure
			c := dialSIO(t, app.Addr())

			allowed := postAck(t, c, post, "alice", "a fine comment")
			require.True(t, allowed.OK, "%+v", allowed)
			require.Empty(t, allowed.Comment.Status)
			held := postAck(t, c, post, "alice", "please hold this")
			require.True(t, held.OK, "%+v", held)
			require.Equal(t, comment.StatusPending, held.Comment.Status)
			requireRejected(t, postAck(t, c, post, "alice", "please reject this"), "reject")

			wantFailed := ""
			if failure == "hold" {
				wantFailed = comment.StatusPending
			}
			for _, text := range []string{"a slow hook", "an error in the hook", "junk from the hook"} {
				ack := postAck(t, c, post, "alice", text)
				require.True(t, ack.OK, "%s: %+v", text, ack)
				require.Equal(t, wantFailed, ack.Comment.Status, text)
			}

			own := postAck(t, dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`), post, "mia", "reject me if you can")
			require.True(t, own.OK, "%+v", own)
			require.Empty(t, own.Comment.Status)

			calls := h.callsSoFar()
			require.Len(t, calls, 6, "every comment but the moderator's")
			for _, call := range calls {
				require.Equal(t, "comment.created", call.typ)
				require.True(t, call.signed, "signed with the secret")
				require.True(t, call.wrongFail, "not valid under another secret")
				require.Equal(t, post, call.c.PostID)
				require.Equal(t, "alice", call.c.UserID)
			}
			require.Equal(t, allowed.Comment.ID, calls[0].c.ID)
			require.Equal(t, held.Comment.ID, calls[1].c.ID)
		})
	}
}

// While the hook holds one comment, other comments are acked: a
// moderator's (not sent to the hook), another user's whose hook answers at
// once, and even the same socket's next one (in the order of the hook's
// answers); the held-up comment is acked once the hook answers.
func TestHookDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, 1)
	h := startHook(t, "s3cret")
	cfg := e.config(1)
	cfg.Moderation.HookURL = h.URL
	cfg.Moderation.HookSecret = "s3cret"
	cfg.Moderation.HookTimeout = 20 * time.Second
	cfg.Admin.Token = modToken
	app, stop := startApp(t, cfg)
	defer stop()
	const post = "hook-slow"
	alice, bob := dialSIO(t, app.Addr()), dialSIO(t, app.Addr())
	reader := dialSIO(t, app.Addr())
	reader.join(post)
	mod := dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`)

	type result struct {
		ack changeAck
		err error
	}
	slow := make(chan result, 1)
	go func() {
		a, err := ackOf(alice.ack("new_comment", map[string]string{"postId": post, "userId": "alice", "content": "slow to judge"}))
		slow <- result{a, err}
	}()
	require.Equal(t, "slow to judge", <-h.arrived, "the hook has the slow one")

	fromBob := postAck(t, bob, post, "bob", "quick one")
	require.True(t, fromBob.OK, "%+v", fromBob)
	require.Equal(t, "quick one", <-h.arrived)
	fromMod := postAck(t, mod, post, "mia", "from a moderator")
	require.True(t, fromMod.OK, "%+v", fromMod)
	next := postAck(t, alice, post, "alice", "alice again")
	require.True(t, next.OK, "%+v", next)
	require.Equal(t, "alice again", <-h.arrived)
	select {
	case r := <-slow:
		t.Fatalf("the slow comment was acked before its hook answered: %+v", r)
	default:
	}
	for _, want := range []string{fromBob.Comment.ID, fromMod.Comment.ID, next.Comment.ID} {
		require.Equal(t, want, commentOf(t, reader.next("comment_added", 5*time.Second)).ID)
	}

	h.unblock()
	r := <-slow
	require.NoError(t, r.err)
	require.True(t, r.ack.OK, "%+v", r.ack)
	require.Empty(t, r.ack.Comment.Status)
	require.Equal(t, r.ack.Comment.ID, commentOf(t, reader.next("comment_added", 5*time.Second)).ID)
}

// A config reload changes the words (moderation.words and the file of
// moderation.words_file) while running, through the file watcher serve
// uses.
func TestFilterWordsReload(t *testing.T) {
	e := newEnv(t, 1)
	dir := t.TempDir()
	file, wordsFile := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "words.txt")
	writeFile := func(path, text string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))
		require.NoError(t, os.Rename(tmp, path))
	}
	writeConfig := func(words, action string) {
		writeFile(file, "http:\n  addr: 127.0.0.1:0\nredis:\n  addrs: ["+e.redis.Addr+"]\nmongo:\n  uri: "+e.mongo.URI+
			"\nlog:\n  level: warn\nlimits:\n  comments_per_second: 0\nmoderation:\n  words: ["+words+"]\n  words_action: "+action+
			"\n  words_file: "+wordsFile+"\n")
	}
	writeFile(wordsFile, "# none yet\n")
	writeConfig("spam", "reject")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--config", file}))
	loader := config.NewLoader(fs)
	cfg, err := loader.Load()
	require.NoError(t, err)
	app, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() { watched <- loader.Watch(ctx, app.Apply) }()
	defer func() {
		cancel()
		require.NoError(t, <-watched)
	}()

	c := dialSIO(t, app.Addr())
	requireRejected(t, postAck(t, c, "reload", "alice", "spam"), "spam")
	ack := postAck(t, c, "reload", "alice", "ham")
	require.True(t, ack.OK, "%+v", ack)
	require.Empty(t, ack.Comment.Status)

	// ham is listed now, spam no longer; then the file adds eggs.
	writeConfig("ham", "hold")
	require.Eventually(t, func() bool {
		return tryPostAck(c, "reload", "alice", "ham").Comment.Status == comment.StatusPending
	}, 10*time.Second, 50*time.Millisecond)
	ack = postAck(t, c, "reload", "alice", "spam")
	require.True(t, ack.OK, "%+v", ack)
	require.Empty(t, ack.Comment.Status)

	writeFile(wordsFile, "# read on reload\neggs\n")
	writeConfig("ham", "reject")
	require.Eventually(t, func() bool {
		return tryPostAck(c, "reload", "alice", "green eggs").Error.Code == comment.CodeRejected
	}, 10*time.Second, 50*time.Millisecond)
	requireRejected(t, postAck(t, c, "reload", "alice", "ham"), "ham")
}

// filterWord is moderation.words of the Node suites' nodes: one unlikely
// word, which no other file posts.
const filterWord = "zzheldword"

// Issue 14 with the official socket.io-client on two nodes, over each
// transport (web/test/multinode/filters.test.mjs): a listed word with
// words_action reject (hold runs in TestMultinodeSocketIOClient), and a
// signed moderation hook on loopback that answers allow, hold, reject or
// nothing within moderation.hook_timeout, under each hook_failure. Each
// configuration gets two nodes of its own on one Redis and devmongo.
func TestFiltersSocketIOClient(t *testing.T) {
	dir, nodeBin := nodeSuite(t)
	if only := os.Getenv("COMMENTD_NODE_TESTS"); only != "" && !slices.Contains(strings.Split(only, ","), "filters") {
		t.Skipf("COMMENTD_NODE_TESTS=%s leaves out filters", only)
	}
	files := []string{filepath.Join(dir, "multinode", "filters.test.mjs")}
	const secret = "whsec_bm9kZS1zdWl0ZS1ob29rLXNlY3JldA=="
	e := newEnv(t, 2)
	for _, c := range []struct{ words, hookFailure string }{
		{words: "reject"},
		{hookFailure: "hold"},
		{hookFailure: "allow"},
	} {
		name := "words_action " + c.words
		if c.hookFailure != "" {
			name = "hook_failure " + c.hookFailure
		}
		t.Run(name, func(t *testing.T) {
			flags := []string{"--admin.token", multinodeAdminToken}
			env := []string{"COMMENTD_ADMIN_TOKEN=" + multinodeAdminToken, "COMMENTD_FILTER_WORD=" + filterWord}
			if c.words != "" {
				flags = append(flags, "--moderation.words", filterWord, "--moderation.words_action", c.words)
				env = append(env, "COMMENTD_FILTER_WORDS="+c.words)
			}
			var h *hookServer
			if c.hookFailure != "" {
				// It answers by the marker in the content: [allow], [hold],
				// [reject], and [slow] not before the nodes give up.
				h = startHook(t, secret)
				flags = append(flags, "--moderation.hook_url", h.URL, "--moderation.hook_secret", secret,
					"--moderation.hook_timeout", "500ms", "--moderation.hook_failure", c.hookFailure)
				env = append(env, "COMMENTD_FILTER_HOOK="+c.hookFailure)
			}
			nodes := startNodes(t, e, 2, 2, flags...)
			proxy := startProxy(t, nodes)
			runNodeTests(t, nodeBin, dir, files, nodes, time.Minute,
				append(env, "COMMENTD_URL="+proxy.url, "COMMENTD_CONTROL="+proxy.control(t))...)
			if h == nil {
				return
			}
			calls := h.callsSoFar()
			require.NotEmpty(t, calls)
			markers := map[string]int{}
			for _, call := range calls {
				require.Equal(t, "comment.created", call.typ)
				require.True(t, call.signed, "%q: signed with the secret", call.c.Content)
				for _, m := range []string{"[allow]", "[hold]", "[reject]", "[slow]"} {
					if strings.Contains(call.c.Content, m) {
						markers[m]++
					}
				}
			}
			require.Len(t, markers, 4, "every marker reached the hook: %v", markers)
		})
	}
}
