package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/config"
	"github.com/oshirase/oshirase/internal/incidentcsv"
	"github.com/oshirase/oshirase/internal/outbound"
	"github.com/oshirase/oshirase/internal/spimport"
)

// importOutbound is the policy a page is fetched under: the configured
// one (tests open loopback).
var importOutbound = func(cfg *config.Config) *outbound.Client {
	return outbound.New(outbound.Options{AllowHTTP: cfg.OutboundAllowHTTP, Allow: cfg.OutboundAllow, Timeout: 30 * time.Second,
		MaxResponse: spimport.MaxDocument})
}

func readArg(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, spimport.MaxDocument+1))
	}
	return os.ReadFile(name)
}

// printResult reports created/updated/unchanged per kind.
func printResult(out io.Writer, res data.HistoryResult) {
	verb := "imported"
	if res.DryRun {
		verb = "dry run, would import"
	}
	fmt.Fprintf(out, "%s:\n", verb)
	for _, k := range data.ImportKinds {
		c := res.Counts[k]
		if c.Created+c.Updated+c.Unchanged == 0 {
			continue
		}
		fmt.Fprintf(out, "  %-19s %d created, %d updated, %d unchanged\n", k+"s", c.Created, c.Updated, c.Unchanged)
	}
	if res.DryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
	}
}

func printProblems(out io.Writer, err error) {
	var ps data.ImportProblems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(out, "  "+p.Error())
		}
	}
}

// importStatuspage moves a Statuspage page's components, incidents and
// maintenance in: oshirase import statuspage.
func importStatuspage(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("import statuspage", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "report what would be created and updated, change nothing")
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	page := fs.String("url", "", "the page to fetch (https://status.example.com); its /api/v2/*.json are read")
	lang := fs.String("lang", "ja", "the language the page is written in: ja, or en (filled into both languages)")
	source := fs.String("source", "", "name reruns are recognised by (default: the page's URL or id)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*page == "") == (fs.NArg() == 0) {
		return errors.New("import statuspage: give --url PAGE or one or more FILEs (summary.json, incidents.json, scheduled-maintenances.json; - for standard input)")
	}
	if *lang != "ja" && *lang != "en" {
		return errors.New("import statuspage: --lang is ja or en")
	}
	r := spimport.NewReader(spimport.Options{Lang: *lang, Source: *source})
	for _, name := range fs.Args() {
		raw, err := readArg(name)
		if err != nil {
			return fmt.Errorf("import statuspage: %w", err)
		}
		if err := r.Add(name, raw); err != nil {
			return fmt.Errorf("import statuspage: %w", err)
		}
	}
	open := openConfigured
	if *dryRun {
		open = openExisting
	}
	cfg, store, err := open(ctx, map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	if *page != "" {
		if err := spimport.Fetch(ctx, importOutbound(cfg), *page, r); err != nil {
			return fmt.Errorf("import statuspage: %w", err)
		}
	}
	im, err := r.Import()
	if err != nil {
		printProblems(out, err)
		return fmt.Errorf("%w; nothing was imported", err)
	}
	fmt.Fprintf(out, "read %s: %d groups, %d components, %d incidents, %d maintenance windows\n", im.Source, len(im.Groups),
		len(im.Components), len(im.Incidents), len(im.Maintenances))
	res, err := store.ApplyHistoryImport(ctx, *im, *dryRun)
	if err != nil {
		printProblems(out, err)
		return fmt.Errorf("%w; nothing was imported", err)
	}
	printResult(out, res)
	return nil
}

// exportIncidents writes the incident history as CSV.
func exportIncidents(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("incidents export", flag.ContinueOnError)
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return errors.New("incidents export: give at most one FILE")
	}
	_, store, err := openExisting(ctx, map[string]*string{"OSHIRASE_DATABASE": database})
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := incidentCSV(ctx, store)
	if err != nil {
		return err
	}
	if fs.NArg() == 1 {
		return os.WriteFile(fs.Arg(0), b, 0o600)
	}
	_, err = out.Write(b)
	return err
}

// incidentCSV is every incident, newest first, as CSV.
func incidentCSV(ctx context.Context, store *data.Store) ([]byte, error) {
	var all []data.Incident
	for off := 0; ; off += 500 {
		incs, total, err := store.FindIncidents(ctx, data.IncidentQuery{Limit: 500, Offset: off})
		if err != nil {
			return nil, err
		}
		all = append(all, incs...)
		if len(incs) == 0 || int64(len(all)) >= total {
			break
		}
	}
	products, err := store.Products(ctx)
	if err != nil {
		return nil, err
	}
	return incidentcsv.Bytes(all, products)
}

// importIncidents reads what exportIncidents wrote.
func importIncidents(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("incidents import", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "report what would be created and updated, change nothing")
	database := fs.String("database", "", "database (OSHIRASE_DATABASE)")
	source := fs.String("source", "incidents-csv", "name reruns are recognised by: one per exporting instance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("incidents import: give one FILE (or - for standard input)")
	}
	raw, err := readArg(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("incidents import: %w", err)
	}
	im, err := incidentcsv.Read(raw, *source)
	if err != nil {
		printProblems(out, err)
		return fmt.Errorf("incidents import: %w; nothing was imported", err)
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
	res, err := store.ApplyHistoryImport(ctx, *im, *dryRun)
	if err != nil {
		printProblems(out, err)
		return fmt.Errorf("incidents import: %w; nothing was imported", err)
	}
	printResult(out, res)
	return nil
}
