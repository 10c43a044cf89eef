package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/accesslog"
	"github.com/oshirase/oshirase/internal/contractcsv"
	"github.com/oshirase/oshirase/internal/mail"
)

// importContracts applies a CSV of contracts and contacts, all or nothing,
// so a nightly CRM export can drive it. With --dry-run it only reports.
// It exits non-zero when the file has problems, listing every one.
func importContracts(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("contracts import", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "check the file and report, change nothing")
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("contracts import: give one FILE (or - for standard input)")
	}
	var raw []byte
	var err error
	if name := fs.Arg(0); name == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return fmt.Errorf("contracts import: %w", err)
	}
	text, enc, err := contractcsv.Decode(raw)
	if err != nil {
		return fmt.Errorf("contracts import: %w", err)
	}
	open := openConfigured
	if *dryRun {
		open = openExisting
	}
	_, store, err := open(ctx, map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	products, err := store.Products(ctx)
	if err != nil {
		return err
	}
	im := contractcsv.Parse(text, products)
	fmt.Fprintf(out, "read %d lines (%s): %d contracts, %d contacts\n", im.Rows, enc, len(im.Contracts), im.Contacts())
	if len(im.Problems) > 0 {
		for _, p := range im.Problems {
			fmt.Fprintf(out, "line %d: %s %s %s\n", p.Line, p.Column, problemText[p.Reason], p.Value)
		}
		return fmt.Errorf("contracts import: %d problems; nothing was imported", len(im.Problems))
	}
	if *dryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	res, err := store.ApplyImport(ctx, im.Contracts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "imported: %d contracts created, %d updated, %d unchanged; %d contacts (%d removed)\n",
		res.Created, res.Updated, res.Unchanged, res.Contacts, res.ContactsRemoved)
	return nil
}

var problemText = map[string]string{
	"bad_email": "is not an email address:", "unknown_product": "names an unknown product:", "duplicate_code": "repeats a contract code with other details:",
	"duplicate_contact": "repeats an address in one contract:", "invalid_choice": "has a value that is not allowed:", "required": "is empty",
	"bad_text": "has characters that cannot be used or is too long:", "csv_missing_column": "column is missing from the header",
	"csv_syntax": "is not valid CSV (an unclosed quote?)", "csv_column_count": "has a different number of columns than the header:",
	"csv_empty": "has no data", "csv_too_many_rows": "is past the row limit",
}

// exportContracts writes every contract and contact as CSV.
func exportContracts(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("contracts export", flag.ContinueOnError)
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, store, err := openExisting(ctx, map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	cs, _, err := store.Contracts(ctx, data.ContractFilter{})
	if err != nil {
		return err
	}
	products, err := store.Products(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := contractcsv.Write(&buf, cs, products); err != nil {
		return err
	}
	if fs.NArg() == 1 {
		return os.WriteFile(fs.Arg(0), buf.Bytes(), 0o600)
	}
	_, err = out.Write(buf.Bytes())
	return err
}

// mailTest sends one message with the configured SMTP settings and says
// plainly what went wrong if it did not go.
func mailTest(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("mail test", flag.ContinueOnError)
	to := fs.String("to", "", "address to send the test message to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addr := data.NormalizeEmail(*to)
	if !data.ValidEmail(addr) {
		return errors.New("mail test: --to must be an email address")
	}
	cfg, err := loadConfig(nil)
	if err != nil {
		return err
	}
	if cfg.SMTP == nil {
		return errors.New("mail test: OSHIRASE_SMTP_URL is not set, so there is nothing to test")
	}
	msg, err := mail.TestMessage(cfg.MailFrom, addr, cfg.BaseURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "connecting to %s (tls=%s) …\n", cfg.SMTP.Addr(), cfg.SMTP.TLS)
	conn, err := mail.NewSender(*cfg.SMTP, cfg.BaseURL.Hostname()).Dial(ctx)
	if err != nil {
		return fmt.Errorf("mail test: %w%s", err, hint(err))
	}
	defer conn.Close()
	if err := conn.Send(msg.From, msg.To, msg.Bytes); err != nil {
		return fmt.Errorf("mail test: %w%s", err, hint(err))
	}
	fmt.Fprintf(out, "sent to %s; Message-ID %s\n", addr, msg.MessageID)
	return nil
}

// hint adds what to check for the usual mistakes, and whether the
// refusal is the relay's (notices wait, pending, until it accepts) or the
// recipient's.
func hint(err error) string {
	s := err.Error()
	var se *mail.SendError
	if errors.As(err, &se) && se.RelayLevel() {
		return relayHint(s) + "\nThe relay refuses to take mail at all: the dispatcher pauses and retries with a growing pause, notices stay pending (nothing bounces), and the console shows what the relay said until it accepts again."
	}
	return relayHint(s)
}

func relayHint(s string) string {
	switch {
	case strings.Contains(s, "connection refused"), strings.Contains(s, "no such host"), strings.Contains(s, "i/o timeout"):
		return " (check the host and port in OSHIRASE_SMTP_URL and that this machine may reach it)"
	case strings.Contains(s, "STARTTLS"), strings.Contains(s, "tls:"), strings.Contains(s, "x509"):
		return " (check ?tls= in OSHIRASE_SMTP_URL: starttls on 587, tls on 465)"
	case strings.Contains(s, "AUTH"), strings.Contains(s, "535"):
		return " (check the user name and password in OSHIRASE_SMTP_URL)"
	case strings.Contains(s, "MAIL FROM"):
		return " (the server refused the sender: check OSHIRASE_MAIL_FROM)"
	case strings.Contains(s, "RCPT TO"):
		return " (the server refused the recipient)"
	}
	return ""
}

// accesslogSearch prints the access-log entries that match, as JSON lines,
// for an investigation: who called what, when, from where.
func accesslogSearch(ctx context.Context, args []string, out, errs io.Writer) error {
	fs := flag.NewFlagSet("accesslog search", flag.ContinueOnError)
	from := fs.String("from", "", "first day or moment, in OSHIRASE_TIMEZONE: 2026-01-31 or 2026-01-31T09:00 (required)")
	to := fs.String("to", "", "last day (whole) or moment before which to stop (default now)")
	path := fs.String("path", "", "a path, or the start of one (/incidents/)")
	status := fs.String("status", "", "a status code (404) or class (5xx)")
	ip := fs.String("ip", "", "an address or a network (203.0.113.0/24)")
	dir := fs.String("dir", "", "access-log directory (OSHIRASE_ACCESS_LOG_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(map[string]*string{"OSHIRASE_ACCESS_LOG_DIR": dir})
	if err != nil {
		return err
	}
	f := accesslog.Filter{Path: *path, Status: *status, IP: *ip, To: time.Now()}
	if *from == "" {
		return errors.New("accesslog search: --from is required (a day such as 2026-01-31)")
	}
	if f.From, err = parseMoment(*from, cfg.Location, false); err != nil {
		return fmt.Errorf("accesslog search: --from: %w", err)
	}
	if *to != "" {
		if f.To, err = parseMoment(*to, cfg.Location, true); err != nil {
			return fmt.Errorf("accesslog search: --to: %w", err)
		}
	}
	if _, err := os.Stat(cfg.AccessLogDir); err != nil {
		return fmt.Errorf("accesslog search: OSHIRASE_ACCESS_LOG_DIR: %w", err)
	}
	res, err := accesslog.Search(cfg.AccessLogDir, cfg.Location, f, out)
	if err != nil {
		return fmt.Errorf("accesslog search: %w", err)
	}
	fmt.Fprintf(errs, "%d entries matched in %d files", res.Matched, res.Files)
	if res.Bad > 0 {
		fmt.Fprintf(errs, " (%d unreadable lines skipped)", res.Bad)
	}
	fmt.Fprintln(errs)
	return nil
}

// parseMoment reads a day or a moment in loc; a day given as an end means
// the end of that day.
func parseMoment(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation(accesslog.DayLayout, s, loc); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a day (2026-01-31) or a moment (2026-01-31T09:00)", s)
}

// accesslogRebuildUsage recounts the usage counters of every closed day
// from the files, after counters were lost or files restored.
func accesslogRebuildUsage(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("accesslog rebuild-usage", flag.ContinueOnError)
	dir := fs.String("dir", "", "access-log directory (OSHIRASE_ACCESS_LOG_DIR)")
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, store, err := openExisting(ctx, map[string]*string{"OSHIRASE_ACCESS_LOG_DIR": dir, "OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := os.Stat(cfg.AccessLogDir); err != nil {
		return fmt.Errorf("accesslog rebuild-usage: OSHIRASE_ACCESS_LOG_DIR: %w", err)
	}
	today := time.Now().In(cfg.Location).Format(accesslog.DayLayout)
	days, n, bad, err := accesslog.Rebuild(ctx, cfg.AccessLogDir, cfg.Location, today, store.ReplaceUsage)
	if err != nil {
		return fmt.Errorf("accesslog rebuild-usage: %w", err)
	}
	if len(days) == 0 {
		fmt.Fprintf(out, "no closed days in %s; nothing was changed\n", cfg.AccessLogDir)
		return nil
	}
	fmt.Fprintf(out, "recounted %d requests over %d days (%s to %s)", n, len(days), days[0], days[len(days)-1])
	if bad > 0 {
		fmt.Fprintf(out, "; %d unreadable lines skipped", bad)
	}
	fmt.Fprintln(out, "; today is left to the running instances")
	return nil
}

// backup writes an online copy of a SQLite database ("oshirase backup
// FILE"); a PostgreSQL database is backed up with pg_dump.
func backup(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("backup: give the file to write, such as oshirase backup /backups/oshirase-2026-11-30.db")
	}
	_, store, err := openExisting(ctx, map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Backup(ctx, fs.Arg(0)); err != nil {
		return err
	}
	st, err := os.Stat(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup written: %s (%d bytes)\n", fs.Arg(0), st.Size())
	return nil
}
