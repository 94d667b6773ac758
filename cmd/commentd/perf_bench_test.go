package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks of this file run commentd as a process of its own (built
// without -race) and measure it from outside, with a lean raw WebSocket
// client: the server's memory is then the server's alone, and pprof works
// on it (COMMENTD_BENCH_ADMIN=host:port turns on its admin listener).
// COMMENTD_BENCH_BIN=path measures another build instead, for A/B runs.
// Their sizes default to a quick run; the environment scales them up:
//
//	COMMENTD_BENCH_CONNS=18000 go test -run - -bench IdleConnMemory -benchtime 1x ./cmd/commentd
//	COMMENTD_BENCH_SUBS=2000 COMMENTD_BENCH_RATE=200 go test -run - -bench Fanout -benchtime 2000x ./cmd/commentd

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// perfServer is a commentd process under measurement.
type perfServer struct {
	addr string
	pid  int
	p    *proc
}

func startPerfServer(b *testing.B, extra ...string) *perfServer {
	b.Helper()
	e := newEnv(b, 4)
	args := append([]string{"serve"}, e.args(4,
		"--limits.connections_per_ip", "0",
		"--limits.comments_per_second", "0")...)
	if admin := os.Getenv("COMMENTD_BENCH_ADMIN"); admin != "" {
		args = append(args, "--admin.addr", admin)
	}
	bin := os.Getenv("COMMENTD_BENCH_BIN")
	if bin == "" {
		bin = plainBinary(b)
	}
	p := startBinaryAt(b, bin, append(args, extra...)...)
	line := p.waitLine(b, "listening on")
	_, rest, _ := strings.Cut(line, "http://")
	return &perfServer{addr: strings.TrimSuffix(strings.TrimSpace(rest), "/"), pid: p.cmd.Process.Pid, p: p}
}

// rss returns the process's resident memory in bytes.
func (s *perfServer) rss(b *testing.B) int64 {
	return procField(b, fmt.Sprintf("/proc/%d/status", s.pid), "VmRSS:") << 10 // in kB
}

// procField returns the number after key in the proc file path.
func procField(b *testing.B, path, key string) int64 {
	b.Helper()
	st, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, key); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("%s: no %s", path, key)
	return 0
}

// memstats returns the Go runtime's gauges that /metrics exports, by name
// without the go_memstats_ prefix (heap_inuse_bytes, stack_inuse_bytes).
func (s *perfServer) memstats(b *testing.B) map[string]float64 {
	b.Helper()
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if name, found := strings.CutPrefix(name, "go_memstats_"); found && ok {
			m[name], _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}

// gc runs a garbage collection in the server when COMMENTD_BENCH_GC is set
// (and COMMENTD_BENCH_ADMIN): what an idle server reaches by itself within
// two minutes, its forced GC, which shrinks goroutine stacks too.
func (s *perfServer) gc(b *testing.B) {
	admin := os.Getenv("COMMENTD_BENCH_ADMIN")
	if admin == "" || os.Getenv("COMMENTD_BENCH_GC") == "" {
		return
	}
	resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	time.Sleep(time.Second)
}

// cpu returns the CPU time the server has used.
func (s *perfServer) cpu(b *testing.B) time.Duration { return procCPU(b, s.pid) }

// procCPU returns the CPU time process pid has used (user and system).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command, which is in parentheses: utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stt) * 10 * time.Millisecond
}

// writes returns how many write system calls the server has made
// (syscw of /proc/pid/io): per delivery, how well writes are batched.
func (s *perfServer) writes(b *testing.B) int64 {
	return procField(b, fmt.Sprintf("/proc/%d/io", s.pid), "syscw:")
}

// profile writes a CPU profile of the server, taken over d, to the file
// COMMENTD_BENCH_CPUPROFILE names (with COMMENTD_BENCH_ADMIN set); done is
// closed when it is written.
func profile(d time.Duration) (done chan struct{}) {
	done = make(chan struct{})
	admin, file := os.Getenv("COMMENTD_BENCH_ADMIN"), os.Getenv("COMMENTD_BENCH_CPUPROFILE")
	if admin == "" || file == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, max(1, int(d.Seconds()))))
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if out, err := os.Create(file); err == nil {
			io.Copy(out, resp.Body)
			out.Close()
		}
	}()
	return done
}

// rawConn is a Socket.IO client on a bare TCP connection: it costs the
// measuring process little, so that it can hold many.
type rawConn struct {
	nc net.Conn
	br *bufio.Reader
	wm sync.Mutex // writes: the reader answers pings
}

// dialRaw opens a WebSocket session from source address local and
// connects to the namespace "/".
func dialRaw(addr string, local net.IP) (*rawConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 2048)}
	if err := c.handshake(addr); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *rawConn) handshake(addr string) error {
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	fmt.Fprintf(c.nc, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Version: 13\r\n\r\n", addr)
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade: %s", resp.Status)
	}
	var buf []byte
	if _, buf, err = c.readFrame(buf); err != nil || !bytes.HasPrefix(buf, []byte("0{")) {
		return fmt.Errorf("open packet %q: %v", buf, err)
	}
	if err := c.writeText([]byte("40")); err != nil {
		return err
	}
	if _, buf, err = c.readFrame(buf); err != nil || !bytes.HasPrefix(buf, []byte("40{")) {
		return fmt.Errorf("CONNECT reply %q: %v", buf, err)
	}
	return nil
}

// readFrame reads one (unmasked, unfragmented) server frame into buf.
func (c *rawConn) readFrame(buf []byte) (op byte, payload []byte, err error) {
	var h [10]byte
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, h[2:4]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(c.br, h[2:10]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint64(h[2:10]))
	}
	buf = slices.Grow(buf[:0], n)[:n]
	_, err = io.ReadFull(c.br, buf)
	return h[0] & 0x0f, buf, err
}

// writeText writes a text frame, masked with a zero key as a client must.
func (c *rawConn) writeText(p []byte) error {
	if len(p) >= 126 {
		return errors.New("rawConn: frame too long")
	}
	f := append([]byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	c.wm.Lock()
	defer c.wm.Unlock()
	_, err := c.nc.Write(f)
	return err
}

// run reads frames until the connection ends, answering pings and handing
// the others to f (which must not keep them).
func (c *rawConn) run(f func(payload []byte)) {
	var buf []byte
	for {
		op, p, err := c.readFrame(buf)
		if err != nil {
			return
		}
		buf = p
		switch {
		case op == 0x1 && len(p) == 1 && p[0] == '2':
			c.writeText([]byte("3"))
		case f != nil:
			f(p)
		}
	}
}

// sourceIP spreads connections over 127.0.0.2 and up, 10,000 each, as one
// source address has only so many ports.
func sourceIP(i int) net.IP { return net.IPv4(127, 0, 0, byte(2+i/10000)) }

// dialMany opens n sessions to addr in parallel.
func dialMany(b *testing.B, addr string, n int) []*rawConn {
	b.Helper()
	conns := make([]*rawConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, err := dialRaw(addr, sourceIP(i))
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return conns
}

// BenchmarkIdleConnMemory holds COMMENTD_BENCH_CONNS (1,000) idle
// sessions, each connected to "/", and reports the server's resident
// memory per session: its RSS with them held minus its RSS before, after
// the server had a few seconds to settle.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := envInt("COMMENTD_BENCH_CONNS", 1000)
	for range b.N {
		srv := startPerfServer(b)
		// A session and a GC cycle first, so that the baseline holds what
		// any server has once it served.
		warm := dialMany(b, srv.addr, 10)
		for _, c := range warm {
			c.nc.Close()
		}
		time.Sleep(2 * time.Second)
		srv.gc(b)
		before, ms0 := srv.rss(b), srv.memstats(b)
		conns := dialMany(b, srv.addr, n)
		var readers sync.WaitGroup
		for _, c := range conns {
			readers.Add(1)
			go func() { defer readers.Done(); c.run(nil) }()
		}
		time.Sleep(5 * time.Second)
		srv.gc(b)
		after, ms1 := srv.rss(b), srv.memstats(b)
		per := func(k string) float64 { return (ms1[k] - ms0[k]) / float64(n) }
		b.ReportMetric(float64(after-before)/float64(n), "B/conn")
		b.ReportMetric(per("heap_inuse_bytes"), "heap-B/conn")
		b.ReportMetric(per("stack_inuse_bytes"), "stack-B/conn")
		b.ReportMetric(float64(after)/(1<<20), "MB-rss")
		for _, c := range conns {
			c.nc.Close()
		}
		readers.Wait()
	}
}

// BenchmarkFanout has COMMENTD_BENCH_SUBS (200) sessions join one post and
// one more post b.N comments to it at COMMENTD_BENCH_RATE (200) a second:
// every comment reaches every subscriber through Redis and the room
// broadcast. It reports deliveries a second (from the first comment sent
// to the last delivery), the delivery latency from sending (p50, p99,
// max) and the deliveries missing.
func BenchmarkFanout(b *testing.B) {
	subs := envInt("COMMENTD_BENCH_SUBS", 200)
	rate := envInt("COMMENTD_BENCH_RATE", 200)
	srv := startPerfServer(b)
	conns := dialMany(b, srv.addr, subs+1)
	pub, conns := conns[0], conns[1:]
	go pub.run(nil)

	type sub struct {
		got  atomic.Int64
		lats []int32 // microseconds; written by the reader until done
	}
	ss := make([]*sub, subs)
	var joined, readers sync.WaitGroup
	var joinErr atomic.Pointer[string]
	marker := []byte("bench@")
	for i, c := range conns {
		s := &sub{lats: make([]int32, 0, b.N)}
		ss[i] = s
		joined.Add(1)
		readers.Add(1)
		var once sync.Once
		go func() {
			defer readers.Done()
			c.run(func(p []byte) {
				if bytes.HasPrefix(p, []byte(`42["load_comments"`)) {
					once.Do(joined.Done)
					return
				}
				if bytes.HasPrefix(p, []byte(`42["comment_error"`)) {
					msg := string(p)
					joinErr.CompareAndSwap(nil, &msg)
					once.Do(joined.Done)
					return
				}
				j := bytes.Index(p, marker)
				if j < 0 || !bytes.HasPrefix(p, []byte(`42["comment_added"`)) {
					return
				}
				k := j + len(marker)
				for k < len(p) && p[k] >= '0' && p[k] <= '9' {
					k++
				}
				sent, _ := strconv.ParseInt(string(p[j+len(marker):k]), 10, 64)
				s.lats = append(s.lats, int32(time.Now().UnixMicro()-sent))
				s.got.Add(1)
			})
		}()
		if err := c.writeText([]byte(`42["join_post","fanout"]`)); err != nil {
			b.Fatal(err)
		}
	}
	joined.Wait()
	if e := joinErr.Load(); e != nil {
		b.Fatalf("%s; server log:\n%s", *e, srv.p.stderr)
	}

	b.ResetTimer()
	start, cpu0, self0, w0 := time.Now(), srv.cpu(b), procCPU(b, os.Getpid()), srv.writes(b)
	tick := time.Second / time.Duration(rate)
	profiled := profile(time.Duration(b.N) * tick)
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * tick)); d > 0 {
			time.Sleep(d)
		}
		msg := fmt.Sprintf(`42["new_comment",{"postId":"fanout","userId":"u","content":"bench@%d"}]`, time.Now().UnixMicro())
		if err := pub.writeText([]byte(msg)); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N)
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range ss {
		for s.got.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	elapsed, cpu, self, w := time.Since(start), srv.cpu(b)-cpu0, procCPU(b, os.Getpid())-self0, srv.writes(b)-w0
	b.StopTimer()
	<-profiled
	for _, c := range conns {
		c.nc.Close()
	}
	pub.nc.Close()
	readers.Wait()

	var all []int32
	var got int64
	for _, s := range ss {
		got += s.got.Load()
		all = append(all, s.lats...)
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / 1000
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(want*int64(subs)-got), "missed")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(got, 1)), "server-cpu-ns/delivery")
	b.ReportMetric(float64(self.Nanoseconds())/float64(max(got, 1)), "client-cpu-ns/delivery")
	b.ReportMetric(float64(w)/float64(max(got, 1)), "server-writes/delivery")
}
