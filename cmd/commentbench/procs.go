package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcUsage is the CPU and memory one process used during a run.
type ProcUsage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpuSec"`
	CPUPercent float64 `json:"cpuPercent"` // of one core, averaged over the run
	RSSStartMB float64 `json:"rssStartMB"`
	RSSPeakMB  float64 `json:"rssPeakMB"`
	RSSEndMB   float64 `json:"rssEndMB"`
}

// procSampler samples CPU time and RSS of named processes from /proc.
type procSampler struct {
	mu    sync.Mutex
	start time.Time
	procs map[string]*procTrack
}

type procTrack struct {
	pid      int
	start    time.Time // zero: the sampler's start
	cpu0     float64
	usage    ProcUsage
	sampled  bool
	lastCPU  float64
	lastSeen time.Time
}

// parsePIDs parses "name=pid,name=pid".
func parsePIDs(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		name, v, ok := strings.Cut(f, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil || pid <= 0 {
			return nil, fmt.Errorf("-procs %q: want name=pid", f)
		}
		out[name] = pid
	}
	return out, nil
}

func newProcSampler(pids map[string]int) *procSampler {
	s := &procSampler{start: time.Now(), procs: map[string]*procTrack{}}
	for name, pid := range pids {
		s.procs[name] = &procTrack{pid: pid, usage: ProcUsage{PID: pid}}
	}
	s.sample()
	return s
}

// add starts sampling one more process, e.g. one a scenario started; its
// CPU share counts from now.
func (s *procSampler) add(name string, pid int) {
	s.mu.Lock()
	s.procs[name] = &procTrack{pid: pid, usage: ProcUsage{PID: pid}, start: time.Now()}
	s.mu.Unlock()
	s.sample()
}

// sample reads every process once; a process that is gone keeps its last
// numbers.
func (s *procSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, p := range s.procs {
		cpu, err := procCPU(p.pid)
		if err != nil {
			continue
		}
		rss, err := procRSS(p.pid)
		if err != nil {
			continue
		}
		mb := float64(rss) / (1 << 20)
		if !p.sampled {
			p.sampled, p.cpu0, p.usage.RSSStartMB = true, cpu, mb
		}
		p.lastCPU, p.lastSeen = cpu, now
		p.usage.RSSPeakMB = max(p.usage.RSSPeakMB, mb)
		p.usage.RSSEndMB = mb
	}
}

// run samples every interval until stop is closed.
func (s *procSampler) run(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sample()
		}
	}
}

// usage returns what each process used since the sampler started.
func (s *procSampler) usage() map[string]ProcUsage {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ProcUsage{}
	for name, p := range s.procs {
		if !p.sampled {
			continue
		}
		u := p.usage
		u.CPUSeconds = p.lastCPU - p.cpu0
		start := s.start
		if !p.start.IsZero() {
			start = p.start
		}
		if d := p.lastSeen.Sub(start).Seconds(); d > 0 {
			u.CPUPercent = 100 * u.CPUSeconds / d
		}
		out[name] = u
	}
	return out
}

// procCPU returns the user+system CPU seconds of pid.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return (ut + st) / clockTicks, nil
}

// procRSS returns VmRSS of pid in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status VmRSS: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
