package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDelay is how long the file must be quiet before a reload: editors
// write, truncate and rename in bursts; one reload per burst is enough.
const reloadDelay = 100 * time.Millisecond

// Watch reloads the config file when it changes, until ctx is done, and
// then returns nil once its watcher and goroutines have stopped.
//
// A reload runs Load again, so the environment and flags still override the
// file. A valid result goes to onChange, called from Watch's goroutine, one
// call at a time; an invalid one is logged with slog.Warn and dropped, so
// the previous config stays in force. Without a config file Watch only
// waits for ctx.
//
// Watch follows the file's directory, not the file: editors replace a file
// by renaming over it, and Kubernetes swaps a ConfigMap's symlinks, either
// of which ends a watch on the file itself.
func (l *Loader) Watch(ctx context.Context, onChange func(*Config)) error {
	path, required := l.file()
	if !required && !exists(path) {
		<-ctx.Done()
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	defer w.Close() // waits for fsnotify's goroutine
	if err := w.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}

	target := realPath(abs)
	timer := time.NewTimer(reloadDelay)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("config: watch " + path + ": watcher closed")
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			// The file itself changed, or a symlink on its way now points
			// elsewhere (a ConfigMap's ..data swap names neither).
			if r := realPath(abs); filepath.Clean(ev.Name) == abs || r != target {
				target = r
				timer.Reset(reloadDelay)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("config: watch " + path + ": watcher closed")
			}
			slog.Warn("config: watch", "file", path, "err", err)
		case <-timer.C:
			// The file was found once, so it must exist from now on: a
			// missing file is an error to log, not a fall back to defaults.
			c, err := l.load(path, true)
			if err != nil {
				slog.Warn("config: reload failed, keeping the previous config",
					"file", path, "keys", errorKeys(err), "err", err)
				continue
			}
			onChange(c)
		}
	}
}

// exists reports whether path names something that can be stat'ed.
func exists(path string) bool {
	_, err := filepath.EvalSymlinks(path)
	return err == nil
}

// realPath is path with every symlink resolved, or "" if it is missing.
func realPath(path string) string {
	r, _ := filepath.EvalSymlinks(path)
	return r
}

// errorKeys lists the keys named by the KeyErrors in err.
func errorKeys(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ke *KeyError
		if errors.As(err, &ke) {
			keys = append(keys, ke.Key)
		}
	}
	walk(err)
	return keys
}
