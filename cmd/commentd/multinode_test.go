package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// The multi-node tests of issue 5: three `commentd serve` processes on one
// Redis and one devmongo, as in production, each its own process so that
// one can be killed.

// node is one commentd serve process of a test.
type node struct {
	p    *proc
	addr string // 127.0.0.1:port
}

// startNodes starts n commentd serve processes on e, each listening on a
// port of its own, and waits until all of them listen.
func startNodes(t *testing.T, e *env, n, shards int, extra ...string) []*node {
	t.Helper()
	args := append([]string{"serve"}, e.args(shards, append([]string{
		"--limits.comments_per_second", "0",
		"--flush.interval", "100ms",
	}, extra...)...)...)
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = &node{p: startBinary(t, args...)}
	}
	for i, nd := range nodes {
		line := nd.p.waitLine(t, "listening on")
		_, rest, ok := strings.Cut(line, "http://")
		require.True(t, ok, "node %d: %q", i, line)
		nd.addr = strings.TrimSuffix(strings.TrimSpace(rest), "/")
		_, _, err := net.SplitHostPort(nd.addr)
		require.NoError(t, err, "node %d: %q", i, line)
	}
	return nodes
}

// stop signals the process and waits for its exit, without a *testing.T
// (control handlers call it off the test's goroutine).
func (nd *node) stop(sig os.Signal, within time.Duration) error {
	if err := nd.p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case err := <-nd.p.done:
		nd.p.done <- err // for the cleanup of startBinary
		return nil
	case <-time.After(within):
		return fmt.Errorf("node %s still running %s after %v", nd.addr, within, sig)
	}
}

// tryPost posts a comment with an ack and returns its id, or an error if
// the connection fails or no ack comes within the limit; unlike post it
// never fails the test, so writers may run on their own goroutines.
func tryPost(c *sioClient, postID, content string, within time.Duration) (string, error) {
	b, err := json.Marshal([]any{"new_comment", map[string]string{"postId": postID, "userId": "w", "content": content}})
	if err != nil {
		return "", err
	}
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.acks[id] = ch
	err = c.ws.WriteMessage(websocket.TextMessage, append([]byte("42"+strconv.Itoa(id)), b...))
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	select {
	case a := <-ch:
		var res []struct {
			OK      bool
			Comment comment.Comment
			Error   struct{ Code, Message string }
		}
		if err := json.Unmarshal(a, &res); err != nil || len(res) == 0 {
			return "", fmt.Errorf("ack %s: %v", a, err)
		}
		if !res[0].OK {
			return "", fmt.Errorf("refused: %s %s", res[0].Error.Code, res[0].Error.Message)
		}
		return res[0].Comment.ID, nil
	case <-c.done:
		return "", errors.New("connection closed")
	case <-time.After(within):
		return "", fmt.Errorf("no ack within %s", within)
	}
}

// Issue 5: clients connected to three different nodes of one post all
// receive every comment, in the same order (the buffer's), none twice,
// while clients on all three nodes post at once.
func TestThreeNodesOneOrder(t *testing.T) {
	e := newEnv(t, 4)
	nodes := startNodes(t, e, 3, 4)

	const post, each = "three-nodes", 25
	var readers []*sioClient
	for i := range 6 {
		c := dialSIO(t, nodes[i%3].addr)
		c.join(post)
		readers = append(readers, c)
	}
	var writers []*sioClient
	for i := range 3 {
		w := dialSIO(t, nodes[i].addr)
		w.join(post) // writers read too: the sender gets its own comments in the room's order
		writers = append(writers, w)
	}
	readers = append(readers, writers...)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent []string
	)
	errs := make(chan error, len(writers))
	for wi, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id, err := tryPost(w, post, fmt.Sprintf("node%d-%d", wi, i), 15*time.Second)
				if err != nil {
					errs <- fmt.Errorf("writer on node %d, comment %d: %w", wi, i, err)
					return
				}
				mu.Lock()
				sent = append(sent, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := len(writers) * each
	require.Len(t, sent, total)

	var first []string
	for ri, r := range readers {
		var order []string
		seen := map[string]bool{}
		for range total {
			var c comment.Comment
			require.NoError(t, json.Unmarshal(r.next("comment_added", 20*time.Second).Args[0], &c))
			require.False(t, seen[c.ID], "reader %d (node %d) got %s twice", ri, ri%3, c.ID)
			seen[c.ID] = true
			order = append(order, c.ID)
		}
		require.ElementsMatch(t, sent, order, "reader %d (node %d) got every confirmed comment", ri, ri%3)
		if ri == 0 {
			first = order
			continue
		}
		require.Equal(t, first, order, "reader %d (node %d) saw another order than reader 0", ri, ri%3)
	}
	// Nothing more arrives: no comment twice.
	time.Sleep(300 * time.Millisecond)
	for ri, r := range readers {
		for {
			select {
			case ev := <-r.events:
				require.NotEqual(t, "comment_added", ev.Name, "reader %d got an extra comment_added: %s", ri, ev.Args)
				continue
			default:
			}
			break
		}
	}
	// The one order is the buffer's.
	recent, _, err := e.buf.Recent(context.Background(), post, 1000)
	require.NoError(t, err)
	ids := make([]string, len(recent))
	for i, c := range recent {
		ids[i] = c.ID
	}
	require.Equal(t, first, ids, "the order of the post's recent list")
	e.requireStoredExactly(t, sent, 30*time.Second)
	for _, nd := range nodes {
		require.NoError(t, nd.stop(syscall.SIGTERM, 30*time.Second))
	}
}

// Issue 5: writers on all three nodes post continuously; one node is
// killed with SIGKILL in the middle; the others go on. Every comment
// confirmed by any node reaches MongoDB exactly once, nothing is stored
// that was not at least attempted, and the dead node's shards are flushed
// by the survivors (Redis ends empty).
func TestNodeKilledUnderLoad(t *testing.T) {
	const shards = 6
	e := newEnv(t, shards)
	nodes := startNodes(t, e, 3, shards)
	const victim = 1

	type result struct {
		content string
		id      string // "" if not confirmed
		err     error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const perNode = 2
	for ni, nd := range nodes {
		for k := range perNode {
			w := dialSIO(t, nd.addr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					content := fmt.Sprintf("n%d-w%d-%d", ni, k, i)
					id, err := tryPost(w, fmt.Sprintf("load-%d", i%12), content, 10*time.Second)
					mu.Lock()
					results = append(results, result{content: content, id: id, err: err})
					mu.Unlock()
					if err != nil {
						return // this writer's node is gone (or it timed out): stop, count it apart
					}
					time.Sleep(5 * time.Millisecond) // load, not a flood: devmongo stores it all in seconds
				}
			}()
		}
	}
	confirmedBy := func() map[int]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[int]int{}
		for _, r := range results {
			if r.id != "" {
				var n int
				fmt.Sscanf(r.content, "n%d-", &n)
				out[n]++
			}
		}
		return out
	}
	// Load on every node, then the kill, then more load on the survivors.
	require.Eventually(t, func() bool {
		c := confirmedBy()
		return c[0] >= 30 && c[1] >= 30 && c[2] >= 30
	}, 30*time.Second, 20*time.Millisecond, "confirmed per node %v", confirmedBy())
	// Who holds which shard: every node holds its fair share, 2 of 6.
	owners := func() map[int]string {
		out := map[int]string{}
		for s := range shards {
			tok, err := e.rdb.Get(context.Background(), fmt.Sprintf("cmt:{%d}:lease", s)).Result()
			if err == nil {
				owner, _, _ := strings.Cut(tok, "/")
				out[s] = owner
			}
		}
		return out
	}
	distinct := func(m map[int]string) map[string]int {
		out := map[string]int{}
		for _, o := range m {
			out[o]++
		}
		return out
	}
	require.Eventually(t, func() bool {
		d := distinct(owners())
		return len(d) == 3 && slices.Equal(slices.Sorted(maps.Values(d)), []int{2, 2, 2})
	}, 20*time.Second, 50*time.Millisecond, "fair shares before the kill: %v", owners())
	held := owners()
	before := confirmedBy()
	require.NoError(t, nodes[victim].stop(syscall.SIGKILL, 10*time.Second))
	killedAt := time.Now()
	// Past the lease TTL (1s) the survivors take the dead node's shards,
	// and both go on confirming.
	require.Eventually(t, func() bool {
		now, c := owners(), confirmedBy()
		return len(distinct(now)) == 2 && len(now) == shards && c[0] > before[0]+20 && c[2] > before[2]+20
	}, 30*time.Second, 50*time.Millisecond, "the survivors take every shard: %v", owners())
	after := confirmedBy()
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var confirmed []string
	unconfirmed := map[string]error{} // content → why
	for _, r := range results {
		if r.id != "" {
			confirmed = append(confirmed, r.id)
		} else {
			unconfirmed[r.content] = r.err
		}
	}
	for content, err := range unconfirmed {
		require.True(t, strings.HasPrefix(content, fmt.Sprintf("n%d-", victim)),
			"a write to a surviving node failed: %s: %v", content, err)
	}
	for _, n := range []int{0, 2} {
		require.Greater(t, after[n], before[n]+20, "node %d kept confirming after the kill: %v → %v", n, before, after)
	}
	t.Logf("confirmed %d (per node before the kill %v, after %v), unconfirmed writes to the killed node %d",
		len(confirmed), before, after, len(unconfirmed))

	// Wait until Redis is empty (the dead node's shards flushed by the
	// others), then compare sets by content: every stored comment is a
	// confirmed one, or one whose write to the killed node got no answer.
	require.Eventually(t, func() bool {
		for s := range shards {
			n, err := e.buf.Pending(context.Background(), s)
			if err != nil || n != 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "Redis still holds comments %s after the kill", time.Since(killedAt))
	t.Logf("Redis empty %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	// The dead node's shards went to the survivors.
	var now map[int]string
	require.Eventually(t, func() bool {
		now = owners()
		return len(now) == shards && len(distinct(now)) == 2
	}, 10*time.Second, 50*time.Millisecond, "leases after the kill: %v (before: %v)", owners(), held)
	var gone []string
	for o := range distinct(held) {
		if _, ok := distinct(now)[o]; !ok {
			gone = append(gone, o)
		}
	}
	require.Len(t, gone, 1, "one flusher vanished: before %v, after %v", held, now)
	moved := 0
	for s, o := range held {
		if o == gone[0] {
			require.NotEqual(t, gone[0], now[s])
			moved++
		}
	}
	require.Equal(t, 2, moved, "the dead node's shards were taken over: before %v, after %v", held, now)
	t.Logf("its shards taken over %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	// Every stored id once; those not confirmed must be writes to the
	// killed node that got no answer (found by content, unique per write).
	storedIDs, err := e.store.IDs(context.Background())
	require.NoError(t, err)
	isConfirmed := map[string]bool{}
	for _, id := range confirmed {
		isConfirmed[id] = true
	}
	seen := map[string]bool{}
	var extras []string
	for _, id := range storedIDs {
		require.False(t, seen[id], "%s stored twice", id)
		seen[id] = true
		if !isConfirmed[id] {
			extras = append(extras, id)
		}
	}
	for _, id := range confirmed {
		require.True(t, seen[id], "confirmed comment %s is not in MongoDB", id)
	}
	if len(extras) > 0 {
		content := map[string]string{} // id → content, of every stored comment
		byContent := map[string]string{}
		for p := range 12 {
			cs, err := e.store.History(context.Background(), fmt.Sprintf("load-%d", p), "", 1_000_000)
			require.NoError(t, err)
			for _, c := range cs {
				prev, dup := byContent[c.Content]
				require.False(t, dup, "content %q stored twice, as %s and %s", c.Content, prev, c.ID)
				content[c.ID], byContent[c.Content] = c.Content, c.ID
			}
		}
		for _, id := range extras {
			_, attempted := unconfirmed[content[id]]
			require.True(t, attempted, "MongoDB holds %s (%q), neither confirmed nor an unanswered write", id, content[id])
		}
	}
	want := append(slices.Clone(confirmed), extras...)
	t.Logf("stored %d: %d confirmed, %d unconfirmed writes that Redis had accepted", len(storedIDs), len(confirmed), len(extras))
	e.requireStoredExactly(t, want, 30*time.Second)
	t.Logf("checked %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	for i, nd := range nodes {
		if i != victim {
			require.NoError(t, nd.stop(syscall.SIGTERM, 30*time.Second))
		}
	}
}

// rrProxy is a round-robin reverse proxy over the nodes, as a load
// balancer without sticky sessions: each request (and each WebSocket
// upgrade) goes to the next live node. It can be made sticky to one node,
// can drop every connection it holds, and counts requests per session and
// node.
type rrProxy struct {
	nodes []*node
	srv   *http.Server
	tr    *http.Transport
	url   string

	mu     sync.Mutex
	dead   []bool
	sticky int // -1: round robin
	turn   int
	conns  map[net.Conn]struct{} // client connections, hijacked ones included
	// restart starts node n again as a new process (set by the test).
	restart func(n int) (*node, error)
	// store is the nodes' MongoDB, for GET /stored (set by the test).
	store *store.Store
	bySID map[string][]int // polling/ws requests of a session: the node of each, in order
	wsLog []int            // node of each WebSocket upgrade, in order
}

func startProxy(t *testing.T, nodes []*node) *rrProxy {
	t.Helper()
	p := &rrProxy{nodes: nodes, dead: make([]bool, len(nodes)), sticky: -1,
		conns: map[net.Conn]struct{}{}, bySID: map[string][]int{}, tr: &http.Transport{}}
	rp := &httputil.ReverseProxy{
		Transport: p.tr,
		ErrorLog:  log.New(io.Discard, "", 0),
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := p.pick(pr.In)
			p.mu.Lock()
			addr := p.nodes[i].addr
			p.mu.Unlock()
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			pr.SetXForwarded()
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.url = "http://" + ln.Addr().String()
	p.srv = &http.Server{
		Handler:  rp,
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns[c] = struct{}{}
			case http.StateClosed:
				delete(p.conns, c)
			}
		},
	}
	done := make(chan struct{})
	go func() { defer close(done); p.srv.Serve(ln) }()
	t.Cleanup(func() {
		p.srv.Close()
		p.drop()
		<-done
		p.tr.CloseIdleConnections()
	})
	return p
}

// pick chooses the node of a request and records it.
func (p *rrProxy) pick(r *http.Request) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.sticky
	if i < 0 || p.dead[i] {
		for range p.nodes {
			p.turn++
			i = p.turn % len(p.nodes)
			if !p.dead[i] {
				break
			}
		}
	}
	if sid := r.URL.Query().Get("sid"); sid != "" {
		p.bySID[sid] = append(p.bySID[sid], i)
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		p.wsLog = append(p.wsLog, i)
	}
	return i
}

// drop closes every client connection the proxy holds, WebSocket ones
// included, as a network failure would; the proxy then closes their
// backend sides.
func (p *rrProxy) drop() int {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	p.tr.CloseIdleConnections()
	return len(conns)
}

// control serves the Node suite's requests:
//
//	POST /sticky/N   new requests go to node N (-1: round robin again)
//	POST /drop       drop every connection through the proxy
//	POST /kill/N     SIGTERM node N (taken out of the rotation first), wait for its exit
//	POST /sigkill/N  SIGKILL node N (taken out of the rotation first): it drains nothing, says nothing
//	GET  /nodes      {"proxy": url, "nodes": [url, ...]}
//	GET  /stats      {"bySid": {sid: [node, ...]}, "ws": [node, ...], "dead": [...]}
//	GET  /stored/ID  {"found": bool, "comment": the comment as MongoDB holds it, "reactors": {reaction: users}}
func (p *rrProxy) control(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, arg, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		n, _ := strconv.Atoi(arg)
		reply := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
		switch {
		case r.Method == http.MethodGet && op == "nodes":
			var urls []string
			for _, nd := range p.nodes {
				urls = append(urls, "http://"+nd.addr)
			}
			reply(map[string]any{"proxy": p.url, "nodes": urls})
		case r.Method == http.MethodGet && op == "stats":
			p.mu.Lock()
			defer p.mu.Unlock()
			reply(map[string]any{"bySid": p.bySID, "ws": p.wsLog, "dead": p.dead})
		case r.Method == http.MethodGet && op == "stored" && p.store != nil:
			c, found, err := p.store.Get(r.Context(), arg)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			reactors, err := p.store.Reactors(r.Context(), arg)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			reply(map[string]any{"found": found, "comment": c, "reactors": reactors})
		case r.Method == http.MethodPost && op == "sticky" && n < len(p.nodes):
			p.mu.Lock()
			p.sticky = n
			p.mu.Unlock()
			reply(map[string]any{"sticky": n})
		case r.Method == http.MethodPost && op == "drop":
			reply(map[string]any{"dropped": p.drop()})
		case r.Method == http.MethodPost && op == "restart" && p.restart != nil && n >= 0 && n < len(p.nodes):
			nd, err := p.restart(n)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			p.mu.Lock()
			p.nodes[n], p.dead[n] = nd, false
			p.mu.Unlock()
			t.Logf("control: node %d restarted at %s", n, nd.addr)
			reply(map[string]any{"restarted": n, "url": "http://" + nd.addr})
		case r.Method == http.MethodPost && (op == "kill" || op == "sigkill") && n >= 0 && n < len(p.nodes):
			p.mu.Lock()
			p.dead[n] = true
			p.mu.Unlock()
			start := time.Now()
			sig := syscall.SIGTERM
			if op == "sigkill" {
				sig = syscall.SIGKILL
			}
			if err := p.nodes[n].stop(sig, 30*time.Second); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			t.Logf("control: node %d (%s) stopped by %s in %s", n, p.nodes[n].addr, sig, time.Since(start).Round(time.Millisecond))
			reply(map[string]any{"killed": n})
		default:
			http.Error(w, "unknown control request "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// multinodeAdminToken is admin.token of the multi-node suite's nodes.
const multinodeAdminToken = "multinode-admin-token"

// Issue 5 with the official socket.io-client behind a round-robin proxy
// over three nodes (web/test/multinode): a polling-only client works fully
// while each of its requests lands on another node, and a WebSocket client
// whose connection drops, or whose node is stopped, recovers on another
// node with every comment it missed. Issue 14's files (bans, filters, ...)
// run here too.
func TestMultinodeSocketIOClient(t *testing.T) {
	dir, nodeBin := nodeSuite(t)
	files, err := filepath.Glob(filepath.Join(dir, "multinode", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.mjs in %s (%v)", filepath.Join(dir, "multinode"), err)
	}
	// COMMENTD_NODE_TESTS=bans runs only those files (debugging).
	if only := os.Getenv("COMMENTD_NODE_TESTS"); only != "" {
		if files = keepFiles(files, strings.Split(only, ",")); len(files) == 0 {
			t.Fatalf("COMMENTD_NODE_TESTS=%s names no file in %s", only, filepath.Join(dir, "multinode"))
		}
	}

	e := newEnv(t, 4)
	// changes.test.mjs moderates with the admin token and waits out a
	// short edit window; moderation.test.mjs posts as guests, who are held;
	// filters.test.mjs posts the listed word, which holds (its other
	// configurations run in TestFiltersSocketIOClient).
	extra := []string{"--admin.token", multinodeAdminToken, "--comment.edit_window", "5s", "--moderation.mode", "guests",
		"--moderation.words", filterWord, "--moderation.words_action", "hold"}
	nodes := startNodes(t, e, 3, 4, extra...)
	proxy := startProxy(t, nodes)
	bin := commentdBinary(t)
	nodeArgs := append([]string{"serve"}, e.args(4, append([]string{"--limits.comments_per_second", "0", "--flush.interval", "100ms"}, extra...)...)...)
	var restarted []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range restarted {
			c.Process.Kill()
			c.Wait()
		}
	})
	proxy.restart = func(int) (*node, error) {
		return restartNode(bin, nodeArgs, &restarted)
	}
	proxy.store = e.store
	runNodeTests(t, nodeBin, dir, files, nodes, 3*time.Minute,
		"COMMENTD_URL="+proxy.url,
		"COMMENTD_CONTROL="+proxy.control(t),
		"COMMENTD_ADMIN_TOKEN="+multinodeAdminToken,
		"COMMENTD_FILTER_WORD="+filterWord,
		"COMMENTD_FILTER_WORDS=hold",
	)
}

// nodeSuite returns the folder of the Node suites (web/test) and the node
// binary, or fails the test if either is missing.
func nodeSuite(t *testing.T) (dir, nodeBin string) {
	t.Helper()
	dir = filepath.Join(commentdRoot(t), "web", "test")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client", "package.json")); err != nil {
		t.Fatalf("web/test/node_modules is missing (`make test` installs it; by hand: npm ci --prefix web/test): %v", err)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (Node 20 or later runs the socket.io-client suite): %v", err)
	}
	return dir, nodeBin
}

// runNodeTests runs files (in dir) with node --test, one at a time, with
// env added to the test's environment, within limit. Its output is logged
// if it fails or under -v; on a failure each node's stderr is too.
func runNodeTests(t *testing.T, nodeBin, dir string, files []string, nodes []*node, limit time.Duration, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), limit)
	}
	if err != nil || testing.Verbose() {
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			t.Log(line)
		}
	}
	if err != nil {
		for i, nd := range nodes {
			t.Logf("node %d stderr:\n%s", i, nd.p.stderr)
		}
		t.Fatalf("node --test %s: %v (its output is above)", strings.Join(relative(dir, files), " "), err)
	}
}

// restartNode starts a commentd serve process off the test's goroutine (a
// control request) and waits until it listens.
func restartNode(bin string, args []string, started *[]*exec.Cmd) (*node, error) {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &lockedBuf{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	*started = append(*started, cmd)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				lines <- sc.Text()
			}
		}
	}()
	select {
	case line := <-lines:
		_, rest, _ := strings.Cut(line, "http://")
		addr := strings.TrimSuffix(strings.TrimSpace(rest), "/")
		done := make(chan error, 1)
		return &node{p: &proc{cmd: cmd, stderr: stderr, done: done}, addr: addr}, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("restarted node not listening after 30s: %s", stderr)
	}
}
