package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/demo"
)

// demoDatabase is where the demo goes unless told otherwise: never the
// database a plain "serve" would use.
const demoDatabase = "sqlite:oshirase-demo.db"

// runDemo seeds an empty database with the demo vendor's whole status page
// (internal/demo), prints how to sign in, then serves it as serve does.
func runDemo(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address (OSHIRASE_ADDR)")
	database := fs.String("database", "", "an empty database: sqlite:PATH or postgres://… (OSHIRASE_DATABASE; default "+demoDatabase+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected %q", strings.Join(fs.Args(), " "))
	}
	if *database == "" && os.Getenv("OSHIRASE_DATABASE") == "" {
		*database = demoDatabase
	}
	cfg, err := loadConfig(map[string]*string{"OSHIRASE_ADDR": addr, "OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	f, err := seedDemo(ctx, cfg.Database, cfg.Addr, cfg.Location)
	if err != nil {
		return err
	}
	base := strings.TrimRight(cfg.BaseURL.String(), "/")
	fmt.Fprintf(out, `
The demo is ready: the status page of 株式会社ひだまりソフト, a vendor of plugins, with every feature in use.
  Status page: %s/
  Console:     %s/admin/login
    admin:  %s
    editor: %s
    password (both): %s
Customer email is held until an operator releases it: see メール配信 in the console.

`, base, base, f.AdminEmail, f.EditorEmail, f.Password)
	serveArgs := []string{"--database", cfg.Database}
	if *addr != "" {
		serveArgs = append(serveArgs, "--addr", *addr)
	}
	return serve(ctx, serveArgs, log)
}

// seedDemo opens the database on a clock of its own, which the seed moves
// through the story so that every time the database stamps reads as it
// would have, and fills it, if it is empty.
func seedDemo(ctx context.Context, dsn, self string, loc *time.Location) (*demo.Fixture, error) {
	var clock seedClock
	now := time.Now()
	clock.Set(now)
	store, err := data.Open(dsn, data.Options{Now: clock.Now})
	if err != nil {
		return nil, fmt.Errorf("OSHIRASE_DATABASE: %w", err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("OSHIRASE_DATABASE: %w", err)
	}
	if err := demo.CheckEmpty(ctx, store); err != nil {
		afresh := ""
		if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
			afresh = fmt.Sprintf(", or delete %s* to start afresh", path)
		}
		return nil, fmt.Errorf("%w. Give --database a new one (such as sqlite:demo-%s.db)%s", err, now.Format("20060102"), afresh)
	}
	return demo.Seed(ctx, store, now, demo.Options{SetClock: clock.Set, Location: loc, Self: self})
}

// seedClock is the clock the seed moves.
type seedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *seedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *seedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
