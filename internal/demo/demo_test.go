package demo

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

// t0 is a Thursday afternoon in Tokyo, as in the server's tests.
var t0 = time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)

func seeded(t *testing.T) (*data.Store, *Fixture) {
	t.Helper()
	clock := datatest.NewClock(t0)
	store := datatest.Open(t, clock)
	f, err := Seed(context.Background(), store, t0, Options{Password: "correct horse battery", SetClock: clock.Set})
	if err != nil {
		t.Fatal(err)
	}
	if got := clock.Now(); !got.Equal(t0) {
		t.Fatalf("Seed left the clock at %s, not %s", got, t0)
	}
	return store, f
}

// unfilled lists the fields the fixture leaves empty on purpose, and why.
// Everything else a model has must be set in at least one row: a field
// added to a form or a template shows here until the fixture uses it.
var unfilled = map[string]string{
	// Two-factor sign-in seals its secret with the server secret, which
	// the seed does not know; and a demo operator with a second factor
	// could not sign in.
	"Operator.TOTPSecret":   "sealed with the server secret",
	"Operator.TOTPLastStep": "only with a second factor",
	// A claim, held only while its check runs: recording the check clears
	// it, so a database at rest has none.
	"Monitor.LeaseOwner": "held only while a check runs",
	"Monitor.LeaseUntil": "held only while a check runs",
	// The alternative to an uploaded logo; the fixture uploads one (which
	// /brand/logo serves), and the page shows one logo.
	"Branding.LogoURL": "the fixture uploads its logo",
	// Nothing writes it: confirmation links are signed
	// (mail.SubscriberToken), not stored.
	"Subscriber.ConfirmHash": "unused column",
	// Issue 25, while recurring maintenance is built: the demo's series
	// will fill them (internal/demo/series.go), and then these go.
}

// TestDemoFillsEveryField reads back every kind of row the fixture makes
// and fails on a field that is empty in every row.
// moreWalks read back what newer areas of the fixture made (each area's
// test file adds its own, in an init function).
var moreWalks []func(t *testing.T, ctx context.Context, store *data.Store, w *walker)

func TestDemoFillsEveryField(t *testing.T) {
	store, _ := seeded(t)
	ctx := context.Background()
	w := walker{set: map[string]map[string]bool{}, fields: map[string][]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	products, err := store.Products(ctx)
	must(err)
	w.walk(products)
	contracts, _, err := store.Contracts(ctx, data.ContractFilter{})
	must(err)
	w.walk(contracts)
	var emails []string
	for _, c := range contracts {
		for _, ct := range c.Contacts {
			emails = append(emails, ct.Email)
		}
	}
	people, err := store.PeopleChoices(ctx, emails)
	must(err)
	var persons []data.Person
	for _, p := range people {
		persons = append(persons, p)
	}
	w.walk(persons)
	incidents, _, err := store.RecentIncidents(ctx, 1000, 0)
	must(err)
	w.walk(incidents)
	maintenance, _, err := store.RecentMaintenances(ctx, 1000, 0)
	must(err)
	w.walk(maintenance)
	upgrades, _, err := store.Upgrades(ctx, 1000, 0)
	must(err)
	w.walk(upgrades)
	announcements, _, err := store.Announcements(ctx, 1000, 0)
	must(err)
	w.walk(announcements)
	templates, err := store.Templates(ctx)
	must(err)
	w.walk(templates)
	monitors, err := store.Monitors(ctx)
	must(err)
	w.walk(monitors)
	var ids []int64
	for _, m := range monitors {
		ids = append(ids, m.ID)
	}
	days, err := store.MonitorDays(ctx, ids, t0.AddDate(0, 0, -30), time.UTC)
	must(err)
	w.walk(days)
	integrations, err := store.Integrations(ctx)
	must(err)
	w.walk(integrations)
	for _, operator := range []bool{true, false} {
		channels, err := store.Channels(ctx, operator)
		must(err)
		w.walk(channels)
	}
	branding, err := store.Branding(ctx)
	must(err)
	w.walk([]data.Branding{branding})
	subscribers, _, err := store.Subscribers(ctx, "", 1000, 0)
	must(err)
	w.walk(subscribers)
	operators, err := store.Operators(ctx)
	must(err)
	w.walk(operators)
	invitations, err := store.Invitations(ctx)
	must(err)
	w.walk(invitations)
	tokens, err := store.APITokens(ctx)
	must(err)
	w.walk(tokens)
	drafts, err := store.IncidentDrafts(ctx, "", 1000)
	must(err)
	w.walk(drafts)
	audit, _, err := store.Audit(ctx, data.AuditFilter{Limit: 1000})
	must(err)
	w.walk(audit)
	notifications, _, _, err := store.Notifications(ctx, 1000, 0)
	must(err)
	w.walk(notifications)

	for _, more := range moreWalks {
		more(t, ctx, store, &w)
	}

	for _, want := range []string{"Product", "Component", "Contract", "ContractProduct", "Contact", "Person", "Incident", "IncidentUpdate",
		"IncidentUpdateComponent", "Maintenance", "MaintenanceComponent", "MaintenanceUpdate", "Upgrade", "UpgradeNotice", "Announcement",
		"IncidentTemplate", "IncidentTemplateComponent", "Monitor", "MonitorDay", "Integration", "Channel", "Branding", "Subscriber",
		"SubscriberProduct", "Operator", "Invitation", "APIToken", "IncidentDraft", "AuditEntry", "Notification"} {
		if _, ok := w.set[want]; !ok {
			t.Errorf("the fixture has no %s at all", want)
		}
	}
	for _, typ := range w.types() {
		for _, field := range w.fields[typ] {
			key := typ + "." + field
			_, allowed := unfilled[key]
			switch set := w.set[typ][field]; {
			case !set && !allowed:
				t.Errorf("%s is empty in every row the fixture makes: fill it in internal/demo (or, if it must stay empty, say why in unfilled)", key)
			case set && allowed:
				t.Errorf("%s is filled now: remove it from unfilled", key)
			}
		}
	}
	for key := range unfilled {
		typ, field, _ := strings.Cut(key, ".")
		if !slices.Contains(w.fields[typ], field) {
			t.Errorf("unfilled names %s, which no model read back has: remove it", key)
		}
	}
}

// walker records, per model and field, whether any row sets it.
type walker struct {
	set    map[string]map[string]bool
	fields map[string][]string
}

var timeType = reflect.TypeOf(time.Time{})

// walk visits a slice of rows, and the rows they hold (an incident's
// updates and their components). A pointer to another model (an upgrade's
// product) is a relation read on its own, so it is not walked.
func (w *walker) walk(rows any) {
	v := reflect.ValueOf(rows)
	for i := range v.Len() {
		w.row(v.Index(i))
	}
}

func (w *walker) row(v reflect.Value) {
	t := v.Type()
	name := t.Name()
	if w.set[name] == nil {
		w.set[name] = map[string]bool{}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.IsExported() && !relation(f.Type) {
				w.fields[name] = append(w.fields[name], f.Name)
			}
		}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || relation(f.Type) {
			continue
		}
		fv := v.Field(i)
		if !fv.IsZero() && (fv.Kind() != reflect.Slice || fv.Len() > 0) {
			w.set[name][f.Name] = true
		}
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			for j := range fv.Len() {
				w.row(fv.Index(j))
			}
		}
	}
}

// relation reports a pointer to another model.
func relation(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Elem() != timeType
}

func (w *walker) types() []string {
	var out []string
	for k := range w.set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDemoCoversEveryState checks the story has each thing the page and
// the console can show: every status and impact, each way an incident
// comes to be, every kind of check, channel and webhook.
func TestDemoCoversEveryState(t *testing.T) {
	store, f := seeded(t)
	ctx := context.Background()
	has := map[string]bool{}
	see := func(format string, args ...any) { has[fmt.Sprintf(format, args...)] = true }

	incidents, _, err := store.RecentIncidents(ctx, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incidents {
		see("incident status %s", inc.Status)
		see("impact %s", inc.Impact)
		if inc.PostmortemPublishedAt != nil {
			see("postmortem published")
		} else if inc.PostmortemJA != "" {
			see("postmortem draft")
		}
		if !inc.Notify {
			see("incident on the page only")
		}
		if inc.CreatedAt.Sub(inc.StartedAt) > 24*time.Hour {
			see("incident backfilled")
		}
		resolved := false
		for i := len(inc.Updates) - 1; i >= 0; i-- { // oldest first
			u := inc.Updates[i]
			if resolved && u.Status != data.Resolved {
				see("incident reopened")
			}
			resolved = u.Status == data.Resolved
			if u.OperatorID == nil {
				see("update by automation")
			}
			for _, c := range u.Components {
				see("component status %s", c.Status)
			}
		}
	}
	maintenance, _, err := store.RecentMaintenances(ctx, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maintenance {
		see("maintenance %s", m.Status)
		if m.Active() {
			see("component status %s", data.UnderMaintenance)
		}
		if !m.Notify {
			see("maintenance on the page only")
		}
	}
	upgrades, _, err := store.Upgrades(ctx, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range upgrades {
		switch {
		case u.Status == data.UpgradeCancelled:
			see("upgrade cancelled")
		case u.Done(t0):
			see("upgrade done")
		default:
			see("upgrade ahead")
		}
		for _, n := range u.Notices {
			see("upgrade notice %s", n.State)
		}
	}
	announcements, _, err := store.Announcements(ctx, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range announcements {
		if a.PublishAt.After(t0) {
			see("announcement scheduled")
		} else {
			see("announcement published")
		}
	}
	drafts, err := store.IncidentDrafts(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drafts {
		see("draft %s %s", d.Kind, d.State)
	}
	monitors, err := store.Monitors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range monitors {
		see("monitor %s", m.Kind)
		see("monitor state %s", m.State)
	}
	for _, operator := range []bool{true, false} {
		channels, err := store.Channels(ctx, operator)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range channels {
			see("channel %s operator=%v", c.Kind, operator)
		}
	}
	integrations, err := store.Integrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range integrations {
		see("integration %s", in.Kind)
	}
	contracts, _, err := store.Contracts(ctx, data.ContractFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contracts {
		see("contract active=%v", c.Active)
		for _, ct := range c.Contacts {
			see("contact %s %s", ct.Role, ct.Lang)
		}
	}
	subscribers, _, err := store.Subscribers(ctx, "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subscribers {
		see("subscriber confirmed=%v", s.ConfirmedAt != nil)
	}
	ps, err := store.Products(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		see("product collapsed=%v", p.Collapsed)
	}

	var want []string
	for _, s := range data.IncidentStatuses {
		want = append(want, "incident status "+s)
	}
	for _, s := range data.Impacts {
		want = append(want, "impact "+s)
	}
	for _, s := range data.ComponentStatuses {
		want = append(want, "component status "+s)
	}
	for _, s := range data.MaintenanceStatuses {
		want = append(want, "maintenance "+s)
	}
	for _, k := range data.MonitorKinds {
		want = append(want, "monitor "+k)
	}
	for _, k := range data.ChannelKinds {
		want = append(want, "channel "+k+" operator=true", "channel "+k+" operator=false")
	}
	for _, k := range data.IntegrationKinds {
		want = append(want, "integration "+k)
	}
	for _, r := range data.ContactRoles {
		for _, l := range data.ContactLanguages {
			want = append(want, "contact "+r+" "+l)
		}
	}
	want = append(want, "postmortem published", "postmortem draft", "incident on the page only", "incident backfilled", "incident reopened",
		"update by automation", "maintenance on the page only", "upgrade cancelled", "upgrade done", "upgrade ahead",
		"upgrade notice "+data.NoticeSent, "upgrade notice "+data.NoticePending, "upgrade notice "+data.NoticeSkipped,
		"announcement scheduled", "announcement published",
		"draft open waiting", "draft open published", "draft open dismissed", "draft open superseded", "draft resolve waiting",
		"monitor state up", "monitor state down", "contract active=true", "contract active=false",
		"subscriber confirmed=true", "subscriber confirmed=false", "product collapsed=true", "product collapsed=false")
	for _, w := range want {
		if !has[w] {
			t.Errorf("the fixture has no %s", w)
		}
	}

	// The named members are what they say.
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Critical is open and critical", incidentIs(t, store, f.Critical, func(i *data.Incident) bool { return i.Open() && i.Impact == "critical" })},
		{"Postmortem has a published postmortem", incidentIs(t, store, f.Postmortem, func(i *data.Incident) bool { return i.PostmortemPublishedAt != nil })},
		{"Automatic is open", incidentIs(t, store, f.Automatic, func(i *data.Incident) bool { return i.Open() })},
		{"Reopened is resolved", incidentIs(t, store, f.Reopened, func(i *data.Incident) bool { return !i.Open() })},
		{"Backfilled is resolved", incidentIs(t, store, f.Backfilled, func(i *data.Incident) bool { return !i.Open() })},
		{"InProgress is in progress", maintenanceIs(t, store, f.InProgress, data.InProgress)},
		{"Verifying is verifying", maintenanceIs(t, store, f.Verifying, data.Verifying)},
		{"Scheduled is scheduled", maintenanceIs(t, store, f.Scheduled, data.Scheduled)},
		{"Completed is completed", maintenanceIs(t, store, f.Completed, data.Completed)},
		{"Cancelled is cancelled", maintenanceIs(t, store, f.Cancelled, data.Cancelled)},
		{"the API token works", func() bool {
			tok, err := store.UseAPIToken(ctx, hashToken(f.APIToken))
			return err == nil && tok.Scope == data.ScopeWrite
		}()},
	} {
		if !c.ok {
			t.Errorf("%s: no", c.what)
		}
	}
	if len(f.HookSecrets) != 3 || f.InviteToken == "" {
		t.Errorf("hook secrets %v, invitation %q", f.HookSecrets, f.InviteToken)
	}
}

func incidentIs(t *testing.T, store *data.Store, id int64, ok func(*data.Incident) bool) bool {
	i, err := store.Incident(context.Background(), id)
	if err != nil {
		t.Error(err)
		return false
	}
	return ok(i)
}

func maintenanceIs(t *testing.T, store *data.Store, id int64, status string) bool {
	m, err := store.Maintenance(context.Background(), id)
	if err != nil {
		t.Error(err)
		return false
	}
	return m.Status == status
}

// TestDemoSeedsWithoutAClock: a store whose clock Seed cannot move still
// takes the whole story (times it stamps itself read now, then).
func TestDemoSeedsWithoutAClock(t *testing.T) {
	store := datatest.Open(t, datatest.NewClock(t0))
	if _, err := Seed(context.Background(), store, t0, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestDemoRefusesADatabaseInUse: the fixture goes into an empty database
// only.
func TestDemoRefusesADatabaseInUse(t *testing.T) {
	store := datatest.Open(t, datatest.NewClock(t0))
	ctx := context.Background()
	if err := CheckEmpty(ctx, store); err != nil {
		t.Fatalf("a fresh database: %v", err)
	}
	if _, err := store.CreateProduct(ctx, data.ProductInput{NameJA: "既存の製品"}); err != nil {
		t.Fatal(err)
	}
	if err := CheckEmpty(ctx, store); err == nil || !strings.Contains(err.Error(), "1 product") {
		t.Fatalf("a database with a product: %v", err)
	}
}
