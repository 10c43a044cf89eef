// Command oshirase runs the Oshirase status page and incident notifier.
//
//	oshirase serve                                  start the server
//	oshirase operator add --email a@b --role admin  add an operator
//	oshirase migrate                                bring the schema up to date
//	oshirase demo                                   serve a sample vendor's page with every feature in use
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // Asia/Tokyo must work in a bare container

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
	"github.com/oshirase/oshirase/internal/config"
	"github.com/oshirase/oshirase/internal/faillog"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/internal/password"
	"github.com/oshirase/oshirase/jobs"
	"github.com/oshirase/oshirase/server"
)

const usage = `usage:
  oshirase serve [--addr HOST:PORT] [--database DSN]
  oshirase operator add --email EMAIL [--role admin|editor] [--name NAME] [--password-stdin]
  oshirase migrate [--database DSN]
  oshirase demo [--addr HOST:PORT] [--database DSN]
                            seed an empty database (default sqlite:oshirase-demo.db) with a sample
                            vendor's status page, every feature in use, then serve it as serve does
  oshirase contracts import [--dry-run] FILE   (FILE may be - for standard input)
  oshirase contracts export [FILE]
  oshirase import statuspage [--dry-run] [--lang ja|en] [--source NAME] (--url PAGE | FILE...)
                            import a Statuspage-format page (summary.json, incidents.json,
                            scheduled-maintenances.json): components, incidents, maintenance; reruns update
  oshirase incidents export [FILE]   the incident history as CSV
  oshirase incidents import [--dry-run] [--source NAME] FILE   read what incidents export wrote
  oshirase mail test --to ADDRESS
  oshirase jobs run NAME    run one job now: dispatch, upgrade-notices, maintenance, retention
  oshirase accesslog search --from DAY [--to DAY] [--path P] [--status 404|5xx] [--ip ADDR|NET]
                            print matching access-log entries as JSON lines
  oshirase accesslog rebuild-usage   recount the usage counters of closed days from the files
  oshirase backup FILE      write an online copy of the SQLite database (PostgreSQL: use pg_dump)
  oshirase healthcheck      exit 0 when the local server's /healthz answers 200

Configuration comes from OSHIRASE_* environment variables; see README.md.
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// SIGTERM (docker stop, systemd) and Ctrl-C shut the server down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "oshirase:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch {
	case args[0] == "serve":
		return serve(ctx, args[1:], log)
	case args[0] == "demo":
		return runDemo(ctx, args[1:], os.Stdout, log)
	case args[0] == "healthcheck":
		return healthcheck()
	case args[0] == "migrate":
		return migrate(args[1:], log)
	case args[0] == "operator" && len(args) > 1 && args[1] == "add":
		return addOperator(args[2:], os.Stdin, os.Stdout)
	case args[0] == "contracts" && len(args) > 1 && args[1] == "import":
		return importContracts(ctx, args[2:], os.Stdout)
	case args[0] == "contracts" && len(args) > 1 && args[1] == "export":
		return exportContracts(ctx, args[2:], os.Stdout)
	case args[0] == "jobs" && len(args) > 1 && args[1] == "run":
		return runJob(ctx, args[2:], os.Stdout, log)
	case args[0] == "mail" && len(args) > 1 && args[1] == "test":
		return mailTest(ctx, args[2:], os.Stdout)
	case args[0] == "accesslog" && len(args) > 1 && args[1] == "search":
		return accesslogSearch(ctx, args[2:], os.Stdout, os.Stderr)
	case args[0] == "accesslog" && len(args) > 1 && args[1] == "rebuild-usage":
		return accesslogRebuildUsage(ctx, args[2:], os.Stdout)
	case args[0] == "import" && len(args) > 1 && args[1] == "statuspage":
		return importStatuspage(ctx, args[2:], os.Stdout)
	case args[0] == "incidents" && len(args) > 1 && args[1] == "export":
		return exportIncidents(ctx, args[2:], os.Stdout)
	case args[0] == "incidents" && len(args) > 1 && args[1] == "import":
		return importIncidents(ctx, args[2:], os.Stdout)
	case args[0] == "backup":
		return backup(ctx, args[1:], os.Stdout)
	case args[0] == "help", args[0] == "-h", args[0] == "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

// loadConfig reads the environment, letting the given flags win.
func loadConfig(flags map[string]*string) (*config.Config, error) {
	return config.Load(func(name string) string {
		if v, ok := flags[name]; ok && *v != "" {
			return *v
		}
		return os.Getenv(name)
	})
}

// openStore opens and migrates the database.
func openStore(ctx context.Context, cfg *config.Config) (*data.Store, error) {
	store, err := data.Open(cfg.Database, data.Options{})
	if err != nil {
		return nil, fmt.Errorf("OSHIRASE_DATABASE: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		if data.ReadOnly(err) {
			return nil, fmt.Errorf("OSHIRASE_DATABASE: the database does not take writes (a read-only file or replica?): %w", err)
		}
		return nil, err
	}
	return store, nil
}

// openExisting is openConfigured for commands that only read: a SQLite
// database that does not exist is refused (a mistyped path) instead of
// being created empty.
func openExisting(ctx context.Context, flags map[string]*string) (*config.Config, *data.Store, error) {
	cfg, err := loadConfig(flags)
	if err != nil {
		return nil, nil, err
	}
	if path, ok := strings.CutPrefix(cfg.Database, "sqlite:"); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("OSHIRASE_DATABASE: no database at %s (a mistyped path?); this command only reads, so it creates none", path)
		}
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

// openConfigured loads the configuration, with flags taking precedence over
// the environment, and opens the migrated database it names.
func openConfigured(ctx context.Context, flags map[string]*string) (*config.Config, *data.Store, error) {
	cfg, err := loadConfig(flags)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

func serve(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address (OSHIRASE_ADDR)")
	database := fs.String("database", "", "database: sqlite:PATH or postgres://… (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(map[string]*string{"OSHIRASE_ADDR": addr, "OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	warning, err := checkToolchain(runtime.Version(), cfg.BaseURL.Scheme == "https", os.Getenv("OSHIRASE_ALLOW_OLD_TOOLCHAIN") == "true")
	if warning != "" {
		log.Warn("this binary was " + warning)
	}
	if err != nil {
		return err
	}
	if cfg.DebugAddr != "" {
		go serveProfiler(cfg.DebugAddr, log)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A status page's working set is small (the rendered pages, the
		// templates); without a limit the heap grows to twice its peak,
		// such as a sign-in's password hash (64 MiB), and stays there.
		// GOMEMLIMIT overrides.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	// The listener starts first. Until the database answers, a standby
	// instance serves the last saved public pages (and 503 for the rest);
	// then the full application takes over the same listener.
	var handler swapHandler
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           &handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	baseOpts := server.Options{BaseURL: cfg.BaseURL, Location: cfg.Location, SecurityContact: cfg.SecurityContact,
		TrustedProxies: cfg.TrustedProxies, Require2FA: cfg.Require2FA, Snapshot: cfg.Snapshot,
		DBRequestTimeout: cfg.DBRequestTimeout, SSO: ssoOptions(cfg)}
	store, err := openStore(ctx, cfg)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			log.Info("stopped while starting")
			return nil
		case !data.Unavailable(err) || data.ReadOnly(err) || !standbyWorthIt(cfg):
			return err
		}
		log.Warn("the database does not answer; serving the last saved public pages until it does", "err", err)
		standbyOpts := baseOpts
		standbyOpts.Standby = true
		standby, serr := server.New(standbyOpts, nil, log)
		if serr != nil {
			return serr
		}
		defer standby.Close()
		handler.set(standby)
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
		store, err = waitForDatabase(ctx, cfg, errc, log)
		if err != nil {
			srv.Close()
			return err
		}
		if store == nil { // stopped while waiting
			shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			srv.Shutdown(shutdownCtx)
			return nil
		}
		defer store.Close()
		return startFull(ctx, cfg, store, srv, &handler, errc, baseOpts, log)
	}
	defer store.Close()
	errc := make(chan error, 1)
	return startFull(ctx, cfg, store, srv, &handler, errc, baseOpts, log, func() { go func() { errc <- srv.ListenAndServe() }() })
}

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise.
const defaultMemoryLimit = 40 << 20

// serveProfiler serves Go's profiler on a loopback address, for finding
// where time goes under load (go tool pprof http://ADDR/debug/pprof/profile).
func serveProfiler(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	log.Info("profiler listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("profiler stopped", "err", err)
	}
}

// serveMetrics serves /metrics without a token on a listener of its own
// (OSHIRASE_METRICS_ADDR): a private address for the scraper.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	log.Info("metrics listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("metrics listener stopped", "err", err)
	}
}

// standbyWorthIt says whether to wait for an unavailable database rather
// than stop: always for PostgreSQL (a network service that comes back);
// for SQLite only when there are saved pages to serve meanwhile (a missing
// file is otherwise more likely a mistyped path).
func standbyWorthIt(cfg *config.Config) bool {
	if !strings.HasPrefix(cfg.Database, "sqlite:") {
		return true
	}
	if cfg.Snapshot == "" {
		return false
	}
	_, err := os.Stat(cfg.Snapshot)
	return err == nil
}

// standbyRetryMax caps the pause between a standby instance's tries. 5 s,
// not 30 s: once the database is back, every second of waiting is a
// console that still says 503, and one connection attempt every 5 s is
// nothing to a database that is starting up.
const standbyRetryMax = 5 * time.Second

// standbyAfter is the clock of those pauses (a test's own clock replaces it).
var standbyAfter = time.After

// waitForDatabase opens and migrates the database again with a growing
// pause (1 s to standbyRetryMax) until it answers; nil without an error
// when the context ended first.
func waitForDatabase(ctx context.Context, cfg *config.Config, errc <-chan error, log *slog.Logger) (*data.Store, error) {
	wait := time.Second
	for tries := 1; ; tries++ {
		select {
		case <-ctx.Done():
			return nil, nil
		case err := <-errc:
			return nil, fmt.Errorf("OSHIRASE_ADDR: %w", err)
		case <-standbyAfter(wait):
		}
		store, err := openStore(ctx, cfg)
		switch {
		case err == nil:
			log.Info("the database answers; starting in full", "tries", tries)
			return store, nil
		case ctx.Err() != nil:
			return nil, nil
		case !data.Unavailable(err):
			return nil, err
		}
		if tries == 1 || tries%10 == 0 {
			log.Warn("still waiting for the database", "tries", tries, "err", err)
		}
		wait = min(wait*2, standbyRetryMax)
	}
}

// swapHandler lets the full application take over from the standby one on
// the same listener.
type swapHandler struct{ h atomic.Pointer[server.Server] }

func (s *swapHandler) set(app *server.Server) { s.h.Store(app) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if app := s.h.Load(); app != nil {
		app.ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// startFull starts the full application on a migrated database and serves until
// ctx ends; listen, when given, starts the listener (it runs already after
// a standby).
func startFull(ctx context.Context, cfg *config.Config, store *data.Store, srv *http.Server, handler *swapHandler, errc chan error,
	opts server.Options, log *slog.Logger, listen ...func()) error {
	stoppedWhileStarting := func(err error) error {
		if ctx.Err() != nil {
			log.Info("stopped while starting")
			if len(listen) == 0 {
				srv.Close()
			}
			return nil
		}
		return err
	}
	if err := store.CheckWritable(ctx); err != nil {
		return stoppedWhileStarting(fmt.Errorf("OSHIRASE_DATABASE: the database does not take writes (a read-only file or replica?): %w", err))
	}
	if err := ensureFirstOperator(ctx, store, cfg, log); err != nil {
		return stoppedWhileStarting(err)
	}
	w, err := newWorkers(ctx, cfg, store, log)
	if err != nil {
		return stoppedWhileStarting(err)
	}
	// Jobs get their own context: on shutdown the server stops taking
	// requests first, then the jobs finish what they are doing.
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	if cfg.SMTP == nil {
		log.Warn("no SMTP server configured (OSHIRASE_SMTP_URL): email notices are held; see them under メール配信 in the console")
	}
	wake := func() { w.sched.Trigger(workCtx, jobs.JobDispatch) }
	w.tasks.Wake = wake
	w.sched.Start(workCtx)
	access, err := openAccessLog(ctx, cfg, store, w.secret, log)
	if err != nil {
		return stoppedWhileStarting(err)
	}
	access.Start()
	opts.MailEnabled, opts.Wake, opts.Composer, opts.Secret, opts.NextJobRuns, opts.AccessLog = cfg.SMTP != nil, wake, w.composer, w.secret, w.sched.NextRuns, access
	opts.PreviousSecrets = cfg.PreviousSecrets
	opts.MetricsToken = cfg.MetricsToken
	opts.Outbound = outbound.New(outbound.Options{AllowHTTP: cfg.OutboundAllowHTTP, Allow: cfg.OutboundAllow})
	app, err := server.New(opts, store, log)
	if err != nil {
		return err
	}
	defer app.Close()
	handler.set(app)
	go app.Warm(workCtx)
	if cfg.MetricsAddr != "" {
		go serveMetrics(cfg.MetricsAddr, app.MetricsHandler(), log)
	}
	channels := jobs.NewChannelSender(store, opts.Outbound, app.ChannelWriter(), jobs.ChannelOptions{Manage: app.ChannelManageURL}, log)
	// The ranges admins opened, read now and every 15 seconds (another
	// instance may have changed them).
	if err := app.ReloadOutbound(ctx); err != nil {
		log.Warn("could not read the opened outbound ranges; none is open until they are read", "err", err)
	}
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		fails := faillog.New(log, "the opened outbound ranges still cannot be read; the last ones read still apply")
		for {
			select {
			case <-workCtx.Done():
				return
			case <-t.C:
				if err := app.ReloadOutbound(workCtx); err != nil && workCtx.Err() == nil {
					fails.Fail("could not read the opened outbound ranges; the last ones read still apply", err)
				} else if err == nil {
					fails.OK("the opened outbound ranges are read again")
				}
			}
		}
	}()
	monitors := jobs.NewMonitorRunner(store, jobs.MonitorOptions{Location: cfg.Location, Outbound: opts.Outbound, Hold: func() bool { return cfg.SMTP == nil },
		Changed: func(*data.SignalOutcome) { app.Changed(); wake() }}, log)
	// Waited for at shutdown: they use the database, which closes last.
	var workers sync.WaitGroup
	workers.Go(func() { channels.Run(workCtx, 2*time.Second) })
	workers.Go(func() { monitors.Run(workCtx, time.Second) })
	workers.Go(func() { runUpstreams(workCtx, store, opts, app, wake, log) })
	for _, l := range listen {
		l()
	}
	log.Info("oshirase is listening", "addr", cfg.Addr, "base_url", cfg.BaseURL.String(), "database", store.Dialect(), "timezone", cfg.Location.String())

	select {
	case err := <-errc:
		return fmt.Errorf("OSHIRASE_ADDR: %w", err)
	case <-ctx.Done():
	}
	// Server first, so requests in flight finish; the database closes last
	// (deferred above). The whole stop fits OSHIRASE_SHUTDOWN_TIMEOUT
	// (default 8 s, inside a container's usual 10 s grace): requests in
	// flight get half of it, then the jobs stop; a message still being sent
	// is dropped after the dispatcher's short grace and counts as not sent.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithDeadline(context.Background(), time.Now().Add(cfg.ShutdownTimeout/2))
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at the deadline were cut off", "err", err)
		srv.Close()
	}
	stopWork()
	stopped := make(chan struct{})
	go func() {
		w.sched.Stop()
		workers.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(time.Until(deadline)):
		log.Warn("jobs still running at the shutdown deadline were left; their claims return when their short lease runs out")
	}
	access.Close() // what is queued is stored before the database closes
	return nil
}

// openAccessLog starts the access log: daily files (or standard output)
// and usage counters. Rows a database from before the files still holds
// are moved into files first; that failing is logged, not fatal, as the
// next start tries again.
func openAccessLog(ctx context.Context, cfg *config.Config, store *data.Store, secret string, log *slog.Logger) (*accesslog.Recorder, error) {
	if _, err := accesslog.MoveLegacy(ctx, store, cfg.AccessLogDir, cfg.Location, log); err != nil {
		log.Error("the old access log could not be moved into files yet", "err", err)
	}
	opts := accesslog.Options{Dir: cfg.AccessLogDir, Instance: cfg.Instance, Location: cfg.Location,
		Retention: cfg.Retention, Secret: secret, Usage: store.AddUsage}
	if cfg.AccessLogStdout {
		opts.Stdout = os.Stdout
	}
	access, err := accesslog.New(opts, log)
	if err != nil {
		return nil, fmt.Errorf("OSHIRASE_ACCESS_LOG_DIR: %w", err)
	}
	return access, nil
}

// workers is the background side of the server: the composer, the
// dispatcher (when SMTP is configured) and the scheduler of every job.
type workers struct {
	secret   string
	composer *mail.Composer
	tasks    *jobs.Tasks
	sched    *jobs.Scheduler
}

func newWorkers(ctx context.Context, cfg *config.Config, store *data.Store, log *slog.Logger) (*workers, error) {
	secret, err := serverSecret(ctx, store, cfg)
	if err != nil {
		return nil, err
	}
	composer, err := mail.NewComposer(mail.ComposerOptions{BaseURL: cfg.BaseURL, From: cfg.MailFrom,
		SecurityContact: cfg.SecurityContact, SupportContact: cfg.SupportContact, Secret: secret, Location: cfg.Location,
		Brand: store.CachedBranding})
	if err != nil {
		return nil, err
	}
	tasks := &jobs.Tasks{Store: store, Retention: cfg.Retention, Location: cfg.Location, Now: time.Now}
	if cfg.SMTP != nil {
		tasks.Dispatcher = jobs.NewDispatcher(store, mail.NewSender(*cfg.SMTP, cfg.BaseURL.Hostname()), composer,
			jobs.DispatchOptions{Workers: cfg.SMTPConnections, Rate: cfg.SMTPRate}, log)
	}
	sched, err := jobs.NewScheduler(store, tasks.Jobs(), jobs.SchedulerOptions{Location: cfg.Location}, log)
	if err != nil {
		return nil, err
	}
	return &workers{secret: secret, composer: composer, tasks: tasks, sched: sched}, nil
}

// runJob runs one job once, now, for "oshirase jobs run NAME".
func runJob(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) != 1 {
		return errors.New("jobs run: give one job name: dispatch, upgrade-notices, maintenance or retention")
	}
	cfg, store, err := openConfigured(ctx, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	w, err := newWorkers(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	run, err := w.sched.RunNow(ctx, args[0])
	if err != nil {
		return err
	}
	if run.Outcome != data.RunOK {
		return fmt.Errorf("jobs run: %s failed: %s", args[0], run.Error)
	}
	summary := run.Summary
	if summary == "" {
		summary = "nothing to do"
	}
	fmt.Fprintf(out, "%s: %s\n", args[0], summary)
	return nil
}

// serverSecret is OSHIRASE_SECRET, or else a random secret kept in the
// database, so that links in emails stay valid across restarts and every
// instance signs alike.
func serverSecret(ctx context.Context, store *data.Store, cfg *config.Config) (string, error) {
	if cfg.Secret != "" {
		return cfg.Secret, nil
	}
	// The generated secret lives in a file only this user reads, beside
	// the SQLite file: a database dump or backup alone gives no one the
	// TOTP secrets it seals nor the power to sign links.
	if b, err := os.ReadFile(cfg.SecretFile); err == nil {
		secret := strings.TrimSpace(string(b))
		if len(secret) < 32 {
			return "", fmt.Errorf("OSHIRASE_SECRET_FILE: %s holds fewer than 32 characters", cfg.SecretFile)
		}
		return secret, forgetStoredSecret(ctx, store)
	} else if !os.IsNotExist(err) {
		return "", fmt.Errorf("OSHIRASE_SECRET_FILE: %w", err)
	}
	// An earlier version kept it in the database: it moves to the file,
	// so links already sent keep working.
	secret, err := store.Setting(ctx, "secret")
	if err != nil {
		return "", err
	}
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		secret = hex.EncodeToString(b)
	}
	if err := writeSecretFile(cfg.SecretFile, secret); err != nil {
		return "", fmt.Errorf("OSHIRASE_SECRET_FILE: %w", err)
	}
	return secret, forgetStoredSecret(ctx, store)
}

// writeSecretFile writes the secret readable by this user only, without
// replacing a file another instance wrote meanwhile.
func writeSecretFile(path, secret string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// forgetStoredSecret removes a secret an earlier version kept in the
// database.
func forgetStoredSecret(ctx context.Context, store *data.Store) error {
	if v, err := store.Setting(ctx, "secret"); err != nil || v == "" {
		return err
	}
	return store.DeleteSetting(ctx, "secret")
}

// ensureFirstOperator makes sure someone can log in on a fresh install:
// the operator named by OSHIRASE_ADMIN_EMAIL/PASSWORD, or, when those are
// unset and nobody exists yet, admin@localhost with a generated password
// printed once.
func ensureFirstOperator(ctx context.Context, store *data.Store, cfg *config.Config, log *slog.Logger) error {
	if cfg.AdminEmail != "" {
		if _, err := store.OperatorByEmail(ctx, cfg.AdminEmail); err == nil {
			return nil
		} else if !errors.Is(err, data.ErrNotFound) {
			return err
		}
		if err := password.Check(cfg.AdminPassword, cfg.AdminEmail, "oshirase"); err != nil {
			return fmt.Errorf("OSHIRASE_ADMIN_PASSWORD: must be %d to %d characters, not a common password, and not built from the address (%v)", password.MinLength, password.MaxLength, err)
		}
		hash, err := password.Hash(cfg.AdminPassword)
		if err != nil {
			return err
		}
		if _, err := store.CreateOperator(ctx, data.NewOperator{Email: cfg.AdminEmail, Role: data.RoleAdmin, PasswordHash: hash}); err != nil {
			return fmt.Errorf("OSHIRASE_ADMIN_EMAIL: %w", err)
		}
		log.Info("created the first operator", "email", data.NormalizeEmail(cfg.AdminEmail))
		return nil
	}
	n, err := store.CountOperators(ctx)
	if err != nil || n > 0 {
		return err
	}
	pw := password.Generate()
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if _, err := store.CreateOperator(ctx, data.NewOperator{Email: "admin@localhost", Role: data.RoleAdmin, PasswordHash: hash}); err != nil {
		return err
	}
	log.Warn("created the first operator; this password is shown only once, change it after signing in",
		"email", "admin@localhost", "password", pw, "login", cfg.BaseURL.String()+"/admin/login")
	return nil
}

func migrate(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, store, err := openConfigured(context.Background(), map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := store.AppliedVersion(context.Background())
	log.Info("schema is up to date", "version", v)
	return err
}

// addOperator adds an operator from the command line. The password comes
// from standard input with --password-stdin (for scripts), or is generated
// and printed.
func addOperator(args []string, stdin *os.File, stdout *os.File) error {
	fs := flag.NewFlagSet("operator add", flag.ContinueOnError)
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name")
	role := fs.String("role", data.RoleEditor, "admin or editor")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("operator add: --email is required")
	}
	cfg, err := loadConfig(map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	pw := ""
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("operator add: no password on standard input")
		}
		pw = strings.TrimRight(line, "\r\n")
		if err := password.Check(pw, *email, "oshirase"); err != nil {
			return fmt.Errorf("operator add: the password must be %d to %d characters, not a common password, and not built from the address (%v)", password.MinLength, password.MaxLength, err)
		}
	} else {
		pw = password.Generate()
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	op, err := store.CreateOperator(ctx, data.NewOperator{Email: *email, Name: *name, Role: *role, PasswordHash: hash})
	var v *data.ValidationError
	if errors.As(err, &v) {
		return fmt.Errorf("operator add: %s", describe(v))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s (%s)\n", op.Email, op.Role)
	if !*fromStdin {
		fmt.Fprintf(stdout, "password: %s\n(shown once; ask them to change it after signing in)\n", pw)
	}
	return nil
}

func describe(v *data.ValidationError) string {
	msgs := map[string]string{"bad_email": "not a valid email address", "email_taken": "already registered",
		"invalid_choice": "must be admin or editor", "too_long": "too long", "bad_text": "contains characters that cannot be used"}
	var parts []string
	for field, key := range v.Fields {
		m := msgs[key]
		if m == "" {
			m = key
		}
		parts = append(parts, "--"+field+" "+m)
	}
	return strings.Join(parts, "; ")
}

// healthcheck asks the server on OSHIRASE_ADDR for /healthz, for container
// health checks in an image that has no curl.
func healthcheck() error {
	cfg, err := loadConfig(nil)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", res.StatusCode)
	}
	return nil
}
