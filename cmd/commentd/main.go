// Command commentd serves live comment sections: Socket.IO clients post
// comments, Redis buffers them, a flusher moves them into MongoDB in bulk.
//
//	commentd serve [--config FILE] [--key value ...]
//	commentd flush [--once] [--timeout 5m] [--config FILE] [--key value ...]
//	commentd import FILE --format disqus|wordpress|jsonl [--map-post REGEX] [--dry-run] [...]
//	commentd export [--post P] [--since T] [...]
//	commentd version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/commentd/commentd/config"
	"github.com/spf13/pflag"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "commentd:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  commentd serve [--config FILE] [--<key> VALUE ...]   run the service
  commentd flush [--once] [--timeout D] [...]          run only the flusher; --once drains and exits
  commentd import FILE --format F [--map-post RE] [--dry-run] [...]
                                                       import comments: F is disqus, wordpress or jsonl
  commentd export [--post P] [--since T] [...]         JSON lines of stored comments to stdout
  commentd stored-posts [...]                          tell Redis which posts have stored comments (once,
                                                       after an upgrade): new posts' joins then skip MongoDB
  commentd version                                     print the version
Every configuration key is also a flag, e.g. --flush.batch_size 500; see config.example.yaml.`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command\n" + usage)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		_, loader, err := parseFlags(cmd, rest, nil)
		if err != nil {
			return err
		}
		return serve(ctx, loader, stdout)
	case "import":
		return importCmd(ctx, rest, stdout)
	case "export":
		return exportCmd(ctx, rest, stdout)
	case "flush":
		var once bool
		var timeout time.Duration
		_, loader, err := parseFlags(cmd, rest, func(fs *pflag.FlagSet) {
			fs.BoolVar(&once, "once", false, "drain every shard into MongoDB, then exit")
			fs.DurationVar(&timeout, "timeout", 5*time.Minute, "with --once: give up after this long")
		})
		if err != nil {
			return err
		}
		return flush(ctx, loader, once, timeout, stdout)
	case "stored-posts":
		_, loader, err := parseFlags(cmd, rest, nil)
		if err != nil {
			return err
		}
		return storedPosts(ctx, loader, stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func parseFlags(name string, args []string, extra func(*pflag.FlagSet)) (*pflag.FlagSet, *config.Loader, error) {
	fs, loader, err := parseFlagsArgs(name, args, extra)
	if err == nil && fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return fs, loader, err
}

// parseFlagsArgs is parseFlags for a command with arguments: fs.Args().
func parseFlagsArgs(name string, args []string, extra func(*pflag.FlagSet)) (*pflag.FlagSet, *config.Loader, error) {
	fs := pflag.NewFlagSet("commentd "+name, pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return fs, config.NewLoader(fs), nil
}

func versionString() string {
	s := "commentd " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " " + bi.GoVersion
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += " " + kv.Value[:12]
			}
		}
	}
	return s
}
