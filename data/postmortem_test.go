package data_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// TestPostmortemLifecycle: a postmortem belongs to a resolved incident; it
// is a draft until published; publishing with a notice queues one notice
// for the incident's audience, and publishing again never queues another.
func TestPostmortemLifecycle(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	p, cdn, _ := seed(t, s)
	k, err := s.CreateContract(ctx, data.ContractInput{Code: "K", Name: "契約", Active: true, ProductIDs: []int64{p.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddContact(ctx, k.ID, data.ContactInput{Email: "primary@example.com", Lang: "ja", Role: data.RolePrimary}); err != nil {
		t.Fatal(err)
	}
	inc, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "CDNの障害", Impact: "major", Status: data.Investigating,
		BodyJA: "調査中です。", Components: map[int64]string{cdn.ID: data.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	pm := data.PostmortemInput{BodyJA: "## 原因\n設定の誤りです。", BodyEN: "## Cause\nA wrong setting.", Publish: true, Notice: data.Notice{Send: true}}
	if _, err := s.SavePostmortem(ctx, inc.ID, pm); err == nil {
		t.Fatal("a postmortem was saved on an open incident")
	} else {
		fieldErr(t, err, "postmortem_ja", "postmortem_open")
	}
	clock.Advance(time.Hour)
	if _, err := s.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧しました。"}); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		in          data.PostmortemInput
		field, want string
	}{
		{data.PostmortemInput{BodyJA: "  "}, "postmortem_ja", "required"},
		{data.PostmortemInput{BodyJA: strings.Repeat("あ", data.MaxPostmortem+1)}, "postmortem_ja", "too_long"},
		{data.PostmortemInput{BodyJA: "ok", BodyEN: "bad\x00"}, "postmortem_en", "bad_text"},
	}
	for _, b := range bad {
		_, err := s.SavePostmortem(ctx, inc.ID, b.in)
		fieldErr(t, err, b.field, b.want)
	}
	if _, err := s.SavePostmortem(ctx, 9999, data.PostmortemInput{BodyJA: "x"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown incident: %v", err)
	}

	// A draft: saved, not published, nobody told.
	clock.Advance(time.Hour)
	draft := pm
	draft.Publish = false
	if res, err := s.SavePostmortem(ctx, inc.ID, draft); err != nil || res.Published || res.Notified {
		t.Fatalf("draft: %+v %v", res, err)
	}
	got, _ := s.Incident(ctx, inc.ID)
	if got.PostmortemPublishedAt != nil || got.PostmortemJA != pm.BodyJA || got.PostmortemUpdatedAt == nil {
		t.Fatalf("draft stored as %+v", got)
	}
	if ns, _, _, _ := s.Notifications(ctx, 10, 0); len(ns) != 0 {
		t.Fatalf("a draft queued %d notices", len(ns))
	}

	clock.Advance(time.Hour)
	res, err := s.SavePostmortem(ctx, inc.ID, pm)
	if err != nil || !res.Published || !res.Notified {
		t.Fatalf("publish: %+v %v", res, err)
	}
	got, _ = s.Incident(ctx, inc.ID)
	if got.PostmortemPublishedAt == nil || !got.PostmortemPublishedAt.Equal(clock.Now()) {
		t.Fatalf("published at %v", got.PostmortemPublishedAt)
	}
	ns, counts, _, _ := s.Notifications(ctx, 10, 0)
	if len(ns) != 1 || ns[0].Kind != data.IncidentPostmortem || counts[ns[0].ID][data.DeliveryPending] != 1 {
		t.Fatalf("notices after publishing: %+v %v", ns, counts)
	}
	content, _ := ns[0].Decode()
	if content.BodyJA != pm.BodyJA || content.TitleJA != "CDNの障害" || !strings.HasSuffix(content.Path, "#postmortem") {
		t.Fatalf("notice content %+v", content)
	}

	// Corrected and published again, and unpublished then republished:
	// the first publication time stays, no second notice.
	clock.Advance(time.Hour)
	pm.BodyJA += "\n追記です。"
	if res, err := s.SavePostmortem(ctx, inc.ID, pm); err != nil || res.Notified {
		t.Fatalf("second publish: %+v %v", res, err)
	}
	if _, err := s.SavePostmortem(ctx, inc.ID, draft); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Incident(ctx, inc.ID); g.PostmortemPublishedAt != nil {
		t.Fatal("back to draft still published")
	}
	if res, err := s.SavePostmortem(ctx, inc.ID, pm); err != nil || !res.Published || res.Notified {
		t.Fatalf("republish: %+v %v", res, err)
	}
	if ns, _, _, _ := s.Notifications(ctx, 10, 0); len(ns) != 1 {
		t.Fatalf("%d notices; a postmortem is told once", len(ns))
	}
}

// TestCollapsedProduct: the operator's choice is stored and read back.
func TestCollapsedProduct(t *testing.T) {
	s := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	p, _, _ := seed(t, s)
	if err := s.UpdateProduct(ctx, p.ID, data.ProductInput{NameJA: p.NameJA, Collapsed: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Product(ctx, p.ID)
	if !got.Collapsed {
		t.Fatal("collapsed not stored")
	}
	ps, _ := s.Products(ctx)
	if !ps[0].Collapsed {
		t.Fatal("collapsed not listed")
	}
}

// TestBranding: defaults until set; every field checked; the logo is
// either an upload of a raster image or an https URL.
func TestBranding(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	b, err := s.Branding(ctx)
	if err != nil || b.TitleJA != "" || b.Accent != "" || b.HasLogo() {
		t.Fatalf("unset branding: %+v %v", b, err)
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	good := data.BrandingInput{TitleJA: "Example ステータス", TitleEN: "Example Status", CompanyJA: "株式会社エグザンプル",
		CompanyEN: "Example Inc.", Accent: "#0B5CAD", Logo: png,
		FooterLinks: []data.FooterLink{{LabelJA: "サポート", LabelEN: "Support", URL: "https://example.com/support"},
			{LabelJA: "お問い合わせ", URL: "mailto:support@example.com"}}}
	if err := s.SaveBranding(ctx, good); err != nil {
		t.Fatal(err)
	}
	b, _ = s.Branding(ctx)
	if b.TitleEN != "Example Status" || b.Accent != "#0b5cad" || b.LogoType != "image/png" || len(b.Links()) != 2 || !b.HasLogo() {
		t.Fatalf("saved branding: %+v", b)
	}
	if l := b.Links()[1]; l.Label("en") != "お問い合わせ" || l.URL != "mailto:support@example.com" {
		t.Fatalf("link falls back to Japanese: %+v", l)
	}
	// Keeping the logo: an input without one leaves the upload alone.
	keep := good
	keep.Logo = nil
	keep.KeepLogo = true
	if err := s.SaveBranding(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if b, _ = s.Branding(ctx); b.LogoType != "image/png" {
		t.Fatal("logo lost when kept")
	}

	cases := []struct {
		mod         func(*data.BrandingInput)
		field, want string
	}{
		{func(in *data.BrandingInput) { in.Accent = "blue" }, "accent", "bad_color"},
		{func(in *data.BrandingInput) { in.Accent = "#ffee00" }, "accent", "low_contrast"},
		{func(in *data.BrandingInput) { in.TitleJA = strings.Repeat("x", data.MaxName+1) }, "title_ja", "too_long"},
		{func(in *data.BrandingInput) { in.CompanyEN = "a\nb" }, "company_en", "bad_text"},
		{func(in *data.BrandingInput) { in.Logo = []byte("<svg onload=alert(1)>") }, "logo", "bad_image"},
		{func(in *data.BrandingInput) { in.Logo = append(png, make([]byte, data.MaxLogo)...) }, "logo", "too_large"},
		{func(in *data.BrandingInput) { in.Logo, in.LogoURL = nil, "http://example.com/logo.png" }, "logo_url", "https_only"},
		{func(in *data.BrandingInput) { in.Logo, in.LogoURL = nil, "javascript:alert(1)" }, "logo_url", "https_only"},
		{func(in *data.BrandingInput) { in.FooterLinks[0].URL = "javascript:alert(1)" }, "footer_links", "bad_link"},
		{func(in *data.BrandingInput) { in.FooterLinks[0].LabelJA = "" }, "footer_links", "bad_link"},
		{func(in *data.BrandingInput) {
			in.FooterLinks = make([]data.FooterLink, data.MaxFooterLinks+1)
			for i := range in.FooterLinks {
				in.FooterLinks[i] = data.FooterLink{LabelJA: "x", URL: "https://example.com"}
			}
		}, "footer_links", "too_many"},
	}
	before, _ := s.Branding(ctx)
	for _, c := range cases {
		in := good
		in.FooterLinks = append([]data.FooterLink(nil), good.FooterLinks...)
		c.mod(&in)
		fieldErr(t, s.SaveBranding(ctx, in), c.field, c.want)
	}
	if after, _ := s.Branding(ctx); after.Accent != before.Accent || after.TitleJA != before.TitleJA {
		t.Fatal("a refused save changed the branding")
	}
	// A URL replaces an upload.
	url := good
	url.Logo, url.LogoURL = nil, "https://cdn.example.com/logo.png"
	if err := s.SaveBranding(ctx, url); err != nil {
		t.Fatal(err)
	}
	if b, _ = s.Branding(ctx); b.LogoURL != url.LogoURL || len(b.Logo) != 0 || !b.HasLogo() {
		t.Fatalf("logo by URL: %+v", b)
	}
	if err := s.SaveBranding(ctx, data.BrandingInput{}); err != nil {
		t.Fatal(err)
	}
	if b, _ = s.Branding(ctx); b.HasLogo() || b.TitleJA != "" {
		t.Fatalf("cleared branding: %+v", b)
	}
}

// TestLatencySeriesWindows: one read fills every window; each point is the
// mean of the successful checks in its stretch, failures counted apart.
func TestLatencySeriesWindows(t *testing.T) {
	clock := datatest.NewClock(t0)
	s := datatest.Open(t, clock)
	ctx := context.Background()
	_, cdn, _ := seed(t, s)
	in := data.DefaultMonitor
	in.ComponentID, in.Name, in.Target = cdn.ID, "x", "https://x.example.com/"
	m, err := s.CreateMonitor(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3 * time.Hour)
	for _, r := range []struct {
		ago time.Duration
		ok  bool
		ms  int
	}{{150 * time.Minute, true, 100}, {100 * time.Minute, true, 300}, {50 * time.Minute, true, 200}, {40 * time.Minute, false, 0}, {10 * time.Minute, true, 400}} {
		if _, err := s.RecordCheck(ctx, m.ID, "x", data.CheckResult{At: now.Add(-r.ago), OK: r.ok, Latency: time.Duration(r.ms) * time.Millisecond}, time.UTC); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LatencySeries(ctx, []int64{m.ID}, now, []data.LatencyWindow{{Span: time.Hour, Bucket: 30 * time.Minute}, {Span: 3 * time.Hour, Bucket: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]data.LatencyPoint{
		{{At: now.Add(-time.Hour), MeanMS: 200, Checks: 2, Failures: 1}, {At: now.Add(-30 * time.Minute), MeanMS: 400, Checks: 1}},
		{{At: now.Add(-3 * time.Hour), MeanMS: 100, Checks: 1}, {At: now.Add(-2 * time.Hour), MeanMS: 300, Checks: 1},
			{At: now.Add(-time.Hour), MeanMS: 300, Checks: 3, Failures: 1}},
	}
	for w := range want {
		if len(got[w]) != len(want[w]) {
			t.Fatalf("window %d: %+v, want %+v", w, got[w], want[w])
		}
		for i := range want[w] {
			g := got[w][i]
			if !g.At.Equal(want[w][i].At) || g.MeanMS != want[w][i].MeanMS || g.Checks != want[w][i].Checks || g.Failures != want[w][i].Failures {
				t.Errorf("window %d point %d: %+v, want %+v", w, i, g, want[w][i])
			}
		}
	}
}
