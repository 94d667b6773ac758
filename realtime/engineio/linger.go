package engineio

import "time"

// Broadcasts linger so that they share write system calls. Written as they
// come, a fan-out of S receivers at R broadcasts a second costs S*R writes
// a second: at 2,000 receivers and 200 a second, 62% of the server's CPU
// was writev, one frame each, as the writers kept up. A broadcast instead
// puts its connection in one server-wide list, and Linger after the first
// entry the whole list is handed to the writers: each connection then
// writes every broadcast of that span in one writev. A connection costs
// nothing while it waits (no goroutine, no timer of its own). Only busy
// connections linger: one that wrote nothing for a Linger has nothing to
// share a write with, so its broadcast goes at once.

// maxLingerBytes is how much a connection's queue may hold before its
// broadcasts stop lingering (at most a quarter of MaxQueueBytes): a write
// that size is batched enough, and a burst must not fill the queue while it
// waits and get a fast reader disconnected as slow.
const maxLingerBytes = 64 << 10

// linger adds w to the list of writers whose broadcasts wait for the next
// flush, arming the flush if the list was empty. w.mu is held.
func (s *Server) linger(w *writer) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.lstopped {
		return // Close closes w's session anyway
	}
	s.lingering = append(s.lingering, w)
	if len(s.lingering) > 1 {
		return
	}
	if s.ltimer == nil {
		s.ltimer = time.AfterFunc(s.cfg.Linger, s.flushLingering)
	} else {
		s.ltimer.Reset(s.cfg.Linger)
	}
}

// flushLingering hands the writers of the linger list to writer goroutines.
func (s *Server) flushLingering() {
	s.lflush.Lock() // one flush at a time, and Close waits for it
	defer s.lflush.Unlock()
	s.lmu.Lock()
	if s.lstopped {
		s.lmu.Unlock()
		return
	}
	list := s.lingering
	s.lingering, s.lspare = s.lspare[:0], nil
	s.lmu.Unlock()

	for _, w := range list {
		w.mu.Lock()
		w.lingering = false
		if !w.closed && len(w.queue) > 0 {
			w.kickLocked()
		}
		w.mu.Unlock()
	}
	clear(list)
	s.lmu.Lock()
	s.lspare = list[:0]
	s.lmu.Unlock()
}

// stopLingering stops the flushes, once every connection is closed, and
// waits for one that runs.
func (s *Server) stopLingering() {
	s.lmu.Lock()
	s.lstopped = true
	if s.ltimer != nil {
		s.ltimer.Stop()
	}
	s.lmu.Unlock()
	s.lflush.Lock()
	s.lflush.Unlock()
}
