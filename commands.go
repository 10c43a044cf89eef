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

	"github.com/oshirase/oshirase/data"
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
