package incidentcsv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func all(t *testing.T, s *data.Store) ([]data.Incident, []data.Product) {
	t.Helper()
	incs, _, err := s.FindIncidents(context.Background(), data.IncidentQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Products(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return incs, ps
}

// TestExportImportRoundTrip exports one store's history, imports it into
// another (twice: the rerun changes nothing) and exports that: the same
// file but for the ids.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := datatest.Open(t, datatest.NewClock(now))
	p, err := src.CreateProduct(ctx, data.ProductInput{NameJA: "krewSheet", NameEN: "krewSheet"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := src.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "CDN", NameEN: "CDN"})
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(-48 * time.Hour)
	inc, err := src.CreateIncident(ctx, data.NewIncident{TitleJA: "=HYPERLINK(\"x\") 配信障害", TitleEN: "CDN, \"down\"", Impact: "major", Status: data.Investigating,
		StartedAt: start, BodyJA: "調査中です。\n複数行", BodyEN: "Looking", Components: map[int64]string{c.ID: data.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "-復旧しました", At: start.Add(2 * time.Hour),
		Components: map[int64]string{c.ID: data.Operational}}); err != nil {
		t.Fatal(err)
	}
	incs, ps := all(t, src)
	first, err := Bytes(incs, ps)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "'=HYPERLINK") || !strings.Contains(string(first), "'-復旧") {
		t.Errorf("formula cells not defused:\n%s", first)
	}

	dst := datatest.Open(t, datatest.NewClock(now))
	im, err := Read(first, "csv:test")
	if err != nil {
		t.Fatal(err)
	}
	res, err := dst.ApplyHistoryImport(ctx, *im, false)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Counts[data.RefIncident]; c.Created != 1 {
		t.Fatalf("%+v", c)
	}
	again, err := dst.ApplyHistoryImport(ctx, *im, false)
	if err != nil {
		t.Fatal(err)
	}
	if cr, up, _ := again.Total(); cr != 0 || up != 0 {
		t.Fatalf("rerun created %d updated %d", cr, up)
	}
	incs2, ps2 := all(t, dst)
	second, err := Bytes(incs2, ps2)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			// incident_id and update_id are local.
			if f := strings.SplitN(l, ",", 2); len(f) == 2 {
				l = f[1]
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	a, b := strip(first), strip(second)
	// update ids sit mid-row: compare with them blanked.
	for _, id := range []string{"1", "2"} {
		a = strings.ReplaceAll(a, ","+id+",", ",#,")
		b = strings.ReplaceAll(b, ","+id+",", ",#,")
	}
	if a != b {
		t.Errorf("round trip differs:\n%s\n---\n%s", a, b)
	}
	got, _ := dst.Incident(ctx, incs2[0].ID)
	if !got.StartedAt.Equal(start) || got.ResolvedAt == nil || !got.ResolvedAt.Equal(start.Add(2*time.Hour)) || len(got.Updates) != 2 {
		t.Errorf("imported %+v", got)
	}
	if _, _, n, _ := dst.Notifications(ctx, 10, 0); n != 0 {
		t.Errorf("%d notifications from an import", n)
	}
}

func TestReadRefusesHostileCSV(t *testing.T) {
	head := strings.Join(Columns, ",") + "\n"
	row := `1,題,,major,resolved,2026-10-01T00:00:00Z,,7,resolved,2026-10-01T01:00:00Z,本文,,` + "\n"
	for name, c := range map[string]struct{ in, want string }{
		"empty":         {"", "empty"},
		"other csv":     {"a,b,c\n1,2,3\n", "not CSV of the incident export"},
		"header only":   {head, "no incidents"},
		"unclosed":      {head + `1,"題,,major` + "\n", "not valid CSV"},
		"bad time":      {head + strings.Replace(row, "2026-10-01T00:00:00Z", "昨日", 1), "started_at: not a time"},
		"bad impact":    {head + strings.Replace(row, "major", "huge", 1), "impact: invalid_choice"},
		"bad component": {head + strings.TrimSuffix(row, ",\n") + `,"no separator"` + "\n", "components"},
		"nul":           {head + strings.Replace(row, "本文", "a\x00b", 1), "bad_text"},
		"binary":        {"\x00\x01\x02\xff\xfe", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read([]byte(c.in), "csv:test")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
