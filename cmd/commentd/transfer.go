package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/transfer"
	"github.com/spf13/pflag"
)

// importBatch is the number of comments per insert command of an import:
// 100,000 comments take 100 commands (measured, README "Import").
const importBatch = 1000

// importCmd runs `commentd import FILE --format F`: the summary goes to
// stdout, progress lines to stderr.
func importCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var format, mapPost string
	var dryRun bool
	fs, loader, err := parseFlagsArgs("import", args, func(fs *pflag.FlagSet) {
		fs.StringVar(&format, "format", "", "disqus, wordpress or jsonl")
		fs.StringVar(&mapPost, "map-post", "", "a regexp with one capture group: maps a link or identifier to the post id")
		fs.BoolVar(&dryRun, "dry-run", false, "parse and count; write nothing")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import: want one FILE\n" + usage)
	}
	tcfg := transfer.Config{Format: format, DryRun: dryRun, BatchSize: importBatch, Progress: os.Stderr}
	if mapPost != "" {
		re, err := regexp.Compile(mapPost)
		if err != nil {
			return fmt.Errorf("import: --map-post: %w", err)
		}
		if re.NumSubexp() != 1 {
			return fmt.Errorf("import: --map-post %q: want one capture group, have %d", mapPost, re.NumSubexp())
		}
		tcfg.MapPost = re
	}
	cfg, err := loader.Load()
	if err != nil {
		return err
	}
	tcfg.MaxRunes = cfg.Limits.CommentMaxRunes
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()

	var w transfer.Writer
	var inv transfer.Invalidator
	if !dryRun {
		st, err := openStore(cfg)
		if err != nil {
			return err
		}
		defer st.Close(context.Background())
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := st.Ping(pctx); err != nil {
			return fmt.Errorf("mongodb %s unreachable: %w", cfg.Mongo.URI, err)
		}
		if err := st.EnsureIndexes(pctx); err != nil {
			return err
		}
		rdb := newRedis(cfg)
		defer rdb.Close()
		buf := newBuffer(cfg, rdb, newLogger(cfg, os.Stderr))
		defer buf.Close()
		w = markingWriter{w: st, buf: buf}
		inv = timedInvalidator{buf}
	}
	sum, err := transfer.Import(ctx, f, tcfg, w, inv)
	if dryRun {
		fmt.Fprint(stdout, "dry run, nothing written: ")
	}
	fmt.Fprint(stdout, sum)
	if err != nil {
		return fmt.Errorf("import %s: %w", fs.Arg(0), err)
	}
	return nil
}

// markingWriter marks a batch's posts stored in Redis before it writes the
// batch (buffer/stored.go): joins of a post Redis knows never written skip
// the database, so an import that Redis was not told of would stay hidden.
// No mark, no write.
type markingWriter struct {
	w   transfer.Writer
	buf *buffer.Buffer
}

func (m markingWriter) Import(ctx context.Context, cs []comment.Comment) (int, []comment.Rejected, error) {
	posts := make([]string, 0, 8)
	for _, c := range cs {
		if len(posts) == 0 || posts[len(posts)-1] != c.PostID {
			posts = append(posts, c.PostID)
		}
	}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.buf.MarkStored(mctx, posts); err != nil {
		return 0, nil, fmt.Errorf("redis must know the imported posts before they are written: %w", err)
	}
	return m.w.Import(ctx, cs)
}

// timedInvalidator gives Redis a few seconds: an import does not wait for
// a Redis that is down.
type timedInvalidator struct{ inv transfer.Invalidator }

func (t timedInvalidator) Invalidate(ctx context.Context, postIDs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return t.inv.Invalidate(ctx, postIDs)
}

// exportCmd runs `commentd export`: JSON lines on stdout.
func exportCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var post, since string
	_, loader, err := parseFlags("export", args, func(fs *pflag.FlagSet) {
		fs.StringVar(&post, "post", "", "only this post's comments")
		fs.StringVar(&since, "since", "", "only comments created at or after this time (RFC 3339)")
	})
	if err != nil {
		return err
	}
	var t time.Time
	if since != "" {
		if t, err = time.Parse(time.RFC3339, since); err != nil {
			return fmt.Errorf("export: --since: %w", err)
		}
	}
	cfg, err := loader.Load()
	if err != nil {
		return err
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	_, err = transfer.Export(ctx, st, post, t, stdout)
	return err
}
