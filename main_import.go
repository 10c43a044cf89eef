package main

import (
	"context"
	"errors"
	"io"
)

// importStatuspage moves a Statuspage page's components, incidents and
// maintenance in: oshirase import statuspage.
func importStatuspage(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("not built yet")
}

// exportIncidents writes the incident history as CSV.
func exportIncidents(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("not built yet")
}

// importIncidents reads what exportIncidents wrote.
func importIncidents(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("not built yet")
}
