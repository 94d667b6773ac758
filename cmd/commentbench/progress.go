package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line bar on stderr for a long run: redrawn in place
// on a terminal, a line every 10 seconds otherwise (logs of make bench).
type progress struct {
	w      io.Writer
	title  string
	total  time.Duration
	start  time.Time
	status func() string
	tty    bool
	stop   chan struct{}
	done   sync.WaitGroup
}

func startProgress(title string, total time.Duration, status func() string) *progress {
	p := &progress{w: os.Stderr, title: title, total: total, start: time.Now(), status: status, stop: make(chan struct{})}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.tty = true
	}
	every := 10 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) draw() {
	const width = 30
	el := time.Since(p.start)
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(el)/float64(p.total), 1)
	}
	line := fmt.Sprintf("%s %s", p.title, el.Round(time.Second))
	if p.total > 0 { // a bar only when the end is known
		n := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s", p.title, strings.Repeat("#", n), strings.Repeat(".", width-n),
			100*frac, el.Round(time.Second))
	}
	if p.status != nil {
		line += " " + p.status()
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// end stops the bar and leaves the line finished.
func (p *progress) end() {
	close(p.stop)
	p.done.Wait()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
