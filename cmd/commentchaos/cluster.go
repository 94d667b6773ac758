package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/proc"
)

// cluster is what the harness runs: one redis-server with AOF, one devmongo,
// and N commentd nodes, each reaching Redis and MongoDB through its own
// proxies so that faults can target one node's network.
type cluster struct {
	cfg   Config
	redis *proc.Process
	mongo *proc.Process
	nodes []*node
}

type node struct {
	id    int
	proc  *proc.Process
	url   string // http://127.0.0.1:port
	redis *proxy
	mongo *proxy
}

func startCluster(ctx context.Context, cfg Config) (*cluster, error) {
	c := &cluster{cfg: cfg}
	redisPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	mongoPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	c.redis = &proc.Process{Name: "redis-server", Path: cfg.RedisServer, Addr: fmt.Sprintf("127.0.0.1:%d", redisPort),
		Log: filepath.Join(cfg.Dir, "redis.log"),
		Args: []string{"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--dir", cfg.Dir,
			"--appendonly", "yes", "--appendfsync", cfg.AppendFsync, "--save", "",
			"--maxmemory-policy", "noeviction"}}
	c.mongo = &proc.Process{Name: "devmongo", Path: cfg.Devmongo, Addr: fmt.Sprintf("127.0.0.1:%d", mongoPort),
		Log:  filepath.Join(cfg.Dir, "devmongo.log"),
		Args: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", mongoPort), "-data", filepath.Join(cfg.Dir, "mongo")}}
	if err := c.redis.Start(ctx); err != nil {
		return nil, err
	}
	if err := c.mongo.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	for i := range cfg.Nodes {
		n, err := c.newNode(i)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		if err := n.proc.Start(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) newNode(i int) (*node, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	rp, err := newProxy(c.redis.Addr, false)
	if err != nil {
		return nil, err
	}
	mp, err := newProxy(c.mongo.Addr, true)
	if err != nil {
		rp.Close()
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"serve",
		"--http.addr", addr,
		"--redis.addrs", rp.Addr(),
		"--mongo.uri", "mongodb://" + mp.Addr(),
		"--buffer.shards", strconv.Itoa(c.cfg.Shards),
		"--buffer.max_len", strconv.Itoa(c.cfg.MaxLen),
		"--flush.batch_size", strconv.Itoa(c.cfg.BatchSize),
		"--flush.interval", c.cfg.FlushInterval.String(),
		"--flush.lease_ttl", c.cfg.LeaseTTL.String(),
		"--flush.drain_timeout", "10s",
		"--limits.comments_per_second", "0",
		"--limits.connections_per_ip", "0",
		"--admin.token", c.cfg.AdminToken,
		"--log.level", "info",
	}
	return &node{id: i, url: "http://" + addr, redis: rp, mongo: mp,
		proc: &proc.Process{Name: fmt.Sprintf("commentd-%d", i), Path: c.cfg.Commentd, Addr: addr, Args: args,
			Log: filepath.Join(c.cfg.Dir, fmt.Sprintf("commentd-%d.log", i))}}, nil
}

// Close stops everything: nodes first (drained), then the stores.
func (c *cluster) Close() {
	for _, n := range c.nodes {
		n.proc.Resume()
		n.proc.Stop(15 * time.Second)
		n.redis.Close()
		n.mongo.Close()
	}
	c.mongo.Stop(10 * time.Second)
	c.redis.Stop(10 * time.Second)
}

// startNode (re)starts node i, retrying while Redis is down.
func (c *cluster) startNode(ctx context.Context, n *node) error {
	var err error
	for range 20 {
		if err = n.proc.Start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		slog.Warn("chaos: node did not start, retrying", "node", n.id, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

// metrics reads the numbers of one node's /metrics that the harness uses:
// the buffer depth (sum over shards) and the leases held.
type nodeMetrics struct {
	Depth  float64
	Leases float64
	ok     bool
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (n *node) metrics(ctx context.Context) (nodeMetrics, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/metrics", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nodeMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeMetrics{}, fmt.Errorf("metrics: %s", resp.Status)
	}
	var m nodeMetrics
	sawDepth := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := metricLine(line)
		if !ok {
			continue
		}
		switch name {
		case "commentd_buffer_depth":
			m.Depth += val
			sawDepth = true
		case "commentd_leases_held":
			m.Leases = val
		}
	}
	m.ok = sawDepth
	return m, sc.Err()
}

func metricLine(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", 0, false
	}
	name := line[:sp]
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name = name[:i]
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	return name, v, err == nil
}

// depth asks the live nodes for the buffer depth (comments in Redis not
// yet in MongoDB); the first answer wins.
func (c *cluster) depth(ctx context.Context) (float64, error) {
	err := errors.New("no node answered")
	for _, n := range c.nodes {
		if !n.proc.Running() || n.proc.Paused() {
			continue
		}
		m, e := n.metrics(ctx)
		if e == nil && m.ok {
			return m.Depth, nil
		}
		if e != nil {
			err = e
		}
	}
	return 0, err
}
