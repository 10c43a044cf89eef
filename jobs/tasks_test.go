package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// taskFixture adds primary and additional contacts and returns a scheduler
// running the real jobs (notices held: no SMTP needed to count them).
func taskFixture(t *testing.T) (*fixture, *Scheduler, int64) {
	f := newFixture(t, 3) // user00000..2 primary
	ctx := context.Background()
	ps, _ := f.store.Products(ctx)
	k, _ := f.store.CreateContract(ctx, data.ContractInput{Code: "ADD", Name: "追加", Active: true, ProductIDs: []int64{ps[0].ID}})
	f.store.AddContact(ctx, k.ID, data.ContactInput{Email: "extra@example.com", Lang: "en", Role: data.RoleAdditional})
	tasks := &Tasks{Store: f.store, Retention: 13, Now: f.clock.Now}
	return f, newScheduler(t, f, "a", tasks.Jobs()), ps[0].ID
}

// recipients lists, per notification kind, who got what, in order.
func recipients(t *testing.T, s *data.Store) map[string][][]string {
	ctx := context.Background()
	ns, _, _, _ := s.Notifications(ctx, 1000, 0)
	sort.Slice(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	out := map[string][][]string{}
	for _, n := range ns {
		ds, _, _ := s.Deliveries(ctx, n.ID, "", 1000, 0)
		var emails []string
		for _, d := range ds {
			emails = append(emails, d.Email)
		}
		sort.Strings(emails)
		out[n.Kind] = append(out[n.Kind], emails)
	}
	return out
}

func upgrade(t *testing.T, f *fixture, product int64, startsIn time.Duration) *data.Upgrade {
	u, err := f.store.CreateUpgrade(context.Background(), data.UpgradeInput{ProductID: product, Version: "3.2.0",
		StartsAt: f.clock.Now().Add(startsIn), EndsAt: f.clock.Now().Add(startsIn + 2*time.Hour),
		SummaryJA: "新しいグラフを追加します。", LeadTimes: data.DefaultLeadTimes})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func noticeStates(t *testing.T, f *fixture, id int64) string {
	u, _ := f.store.Upgrade(context.Background(), id)
	s := ""
	for _, n := range u.Notices {
		s += fmt.Sprintf("%s=%s ", n.Lead(), n.State)
	}
	return s
}

func TestUpgradeNoticesOnTimeOnce(t *testing.T) {
	f, s, product := taskFixture(t)
	ctx := context.Background()
	u := upgrade(t, f, product, 10*24*time.Hour)
	primaries := []string{"user00000@example.com", "user00001@example.com", "user00002@example.com"}

	s.RunDue(ctx)
	if got := recipients(t, f.store)[data.UpgradeNoticeKind]; len(got) != 0 {
		t.Fatalf("sent before the lead time: %v", got)
	}
	f.clock.Advance(3*24*time.Hour - time.Minute)
	s.RunDue(ctx)
	if got := recipients(t, f.store)[data.UpgradeNoticeKind]; len(got) != 0 {
		t.Fatalf("sent a minute early: %v", got)
	}
	f.clock.Advance(time.Minute) // 7 days before the start
	s.RunDue(ctx)
	s.RunDue(ctx)
	f.clock.Advance(time.Minute)
	s.RunDue(ctx)
	got := recipients(t, f.store)[data.UpgradeNoticeKind]
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(primaries) {
		t.Fatalf("7-day notice: %v", got)
	}
	f.clock.Advance(6 * 24 * time.Hour) // 1 day before
	s.RunDue(ctx)
	got = recipients(t, f.store)[data.UpgradeNoticeKind]
	if len(got) != 2 || fmt.Sprint(got[1]) != fmt.Sprint(primaries) {
		t.Fatalf("1-day notice: %v", got)
	}
	f.clock.Advance(24 * time.Hour)
	s.RunDue(ctx)
	if got := recipients(t, f.store)[data.UpgradeNoticeKind]; len(got) != 2 {
		t.Fatalf("notices after the start: %v", got)
	}
	if st := noticeStates(t, f, u.ID); st != "168h0m0s=sent 24h0m0s=sent " {
		t.Fatalf("states %s", st)
	}
}

// TestUpgradeNoticeWhileDown: a server down across a lead time sends on its
// return, before the start; never after.
func TestUpgradeNoticeWhileDown(t *testing.T) {
	f, s, product := taskFixture(t)
	ctx := context.Background()
	before := upgrade(t, f, product, 10*24*time.Hour)
	after := upgrade(t, f, product, 9*24*time.Hour+12*time.Hour)
	// Down from now until 12 hours before the first upgrade starts: both
	// its notices came due meanwhile; the second upgrade started.
	f.clock.Advance(9*24*time.Hour + 12*time.Hour + time.Minute)
	s.RunDue(ctx)
	got := recipients(t, f.store)[data.UpgradeNoticeKind]
	if len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("on return: %v", got)
	}
	if st := noticeStates(t, f, before.ID); st != "168h0m0s=skipped 24h0m0s=sent " {
		t.Fatalf("first upgrade: %s", st)
	}
	if st := noticeStates(t, f, after.ID); st != "168h0m0s=missed 24h0m0s=missed " {
		t.Fatalf("started upgrade: %s", st)
	}
}

// TestUpgradeChangesReachThoseTold: rescheduling and cancelling tell
// exactly the addresses an earlier notice went to.
func TestUpgradeChangesReachThoseTold(t *testing.T) {
	f, s, product := taskFixture(t)
	ctx := context.Background()
	u := upgrade(t, f, product, 5*24*time.Hour) // the 7-day notice is due now
	s.RunDue(ctx)
	told := recipients(t, f.store)[data.UpgradeNoticeKind]
	if len(told) != 1 {
		t.Fatalf("first notice %v", told)
	}
	// A primary contact added after the notice was not told.
	ps, _ := f.store.Products(ctx)
	k, _ := f.store.CreateContract(ctx, data.ContractInput{Code: "NEW", Name: "新規", Active: true, ProductIDs: []int64{ps[0].ID}})
	f.store.AddContact(ctx, k.ID, data.ContactInput{Email: "late@example.com", Lang: "ja", Role: data.RolePrimary})

	in := data.UpgradeInput{ProductID: product, Version: "3.2.0", StartsAt: u.StartsAt.Add(48 * time.Hour), EndsAt: u.EndsAt.Add(48 * time.Hour),
		SummaryJA: u.SummaryJA, LeadTimes: data.DefaultLeadTimes}
	if err := f.store.UpdateUpgrade(ctx, u.ID, in, data.Notice{Hold: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CancelUpgrade(ctx, u.ID, data.Notice{Hold: true}); err != nil {
		t.Fatal(err)
	}
	all := recipients(t, f.store)
	if fmt.Sprint(all[data.UpgradeRescheduled]) != fmt.Sprint(told) || fmt.Sprint(all[data.UpgradeCancelledK]) != fmt.Sprint(told) {
		t.Fatalf("told %v; rescheduled %v; cancelled %v", told, all[data.UpgradeRescheduled], all[data.UpgradeCancelledK])
	}
	got, _ := f.store.Upgrade(ctx, u.ID)
	if got.Sequence != 2 || got.Status != data.UpgradeCancelled {
		t.Fatalf("upgrade %+v", got)
	}
	// Nothing more goes for a cancelled upgrade.
	f.clock.Advance(6 * 24 * time.Hour)
	s.RunDue(ctx)
	if n := len(recipients(t, f.store)[data.UpgradeNoticeKind]); n != 1 {
		t.Fatalf("%d notices after cancelling", n)
	}
}

func TestMaintenanceLifecycle(t *testing.T) {
	f, s, _ := taskFixture(t)
	ctx := context.Background()
	m, err := f.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "定期メンテナンス", BodyJA: "実施します。",
		StartsAt: f.clock.Now().Add(30 * time.Hour), EndsAt: f.clock.Now().Add(32 * time.Hour), ComponentIDs: []int64{f.comp},
		Notice: data.Notice{Send: true, Hold: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Moved by an operator first: the scheduler leaves it alone.
	early, _ := f.store.CreateMaintenance(ctx, data.NewMaintenance{TitleJA: "前倒し", BodyJA: "x",
		StartsAt: f.clock.Now().Add(2 * time.Hour), EndsAt: f.clock.Now().Add(40 * time.Hour), ComponentIDs: []int64{f.comp}})
	f.store.PostMaintenanceUpdate(ctx, early.ID, data.NewMaintenanceUpdate{Status: data.InProgress, BodyJA: "前倒しで開始しました。"})

	f.clock.Advance(6*time.Hour - time.Minute)
	s.RunDue(ctx)
	if n := len(recipients(t, f.store)[data.MaintenanceReminder]); n != 0 {
		t.Fatal("reminded early")
	}
	f.clock.Advance(time.Minute) // 24 hours before the start
	s.RunDue(ctx)
	f.clock.Advance(time.Hour)
	s.RunDue(ctx)
	if got := recipients(t, f.store)[data.MaintenanceReminder]; len(got) != 1 || len(got[0]) != 4 {
		t.Fatalf("reminders %v", got)
	}
	f.clock.Advance(23 * time.Hour) // the start
	s.RunDue(ctx)
	got, _ := f.store.Maintenance(ctx, m.ID)
	if got.Status != data.InProgress || got.StartedAt == nil {
		t.Fatalf("at the start: %s", got.Status)
	}
	if e, _ := f.store.Maintenance(ctx, early.ID); len(e.Updates) != 2 {
		t.Fatalf("the operator's early start got an automatic update too: %d updates", len(e.Updates))
	}
	f.clock.Advance(2 * time.Hour) // the end
	s.RunDue(ctx)
	s.RunDue(ctx)
	got, _ = f.store.Maintenance(ctx, m.ID)
	if got.Status != data.Completed || len(got.Updates) != 3 || got.Updates[0].BodyJA == "" {
		t.Fatalf("at the end: %s, %d updates", got.Status, len(got.Updates))
	}
	all := recipients(t, f.store)
	if len(all[data.MaintenanceStarted]) != 1 || len(all[data.MaintenanceCompleted]) != 1 || len(all[data.MaintenanceReminder]) != 1 {
		t.Fatalf("notices %v", all)
	}
}

func TestRetention(t *testing.T) {
	f, s, _ := taskFixture(t)
	ctx := context.Background()

	// Subscription requests: one confirmed, one never confirmed and past
	// its window by a day, one a day inside it.
	subscribe := func(email string) int64 {
		sub, err := f.store.Subscribe(ctx, email, "ja", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return sub.ID
	}
	confirmed := subscribe("confirmed@example.com")
	if err := f.store.ConfirmSubscriber(ctx, confirmed); err != nil {
		t.Fatal(err)
	}
	expired := subscribe("expired@example.com")
	f.clock.Advance(2 * 24 * time.Hour)
	pending := subscribe("pending@example.com")
	f.clock.Advance(data.ConfirmWindow - 24*time.Hour)

	now := f.clock.Now()
	// Usage counters go by day, as the access-log files do.
	u := data.NewUsage()
	for _, at := range []time.Time{now.AddDate(0, -13, -1), now.AddDate(0, -13, 1), now.AddDate(0, -12, 1), now} {
		u.Add(data.UsageKey{Day: at.UTC().Format("2006-01-02"), Method: "GET", Route: "/", Class: 2}, 10, "v")
	}
	if err := f.store.AddUsage(ctx, u); err != nil {
		t.Fatal(err)
	}
	run, err := s.RunNow(ctx, JobRetention)
	if err != nil || run.Summary != "job.summary.cleanup Entries=1 Runs=0 Months=13 Unconfirmed=1" {
		t.Fatalf("%+v %v", run, err)
	}
	if left, _ := f.store.UsageSince(ctx, "2000-01-01"); left.Requests() != 3 || len(left.Visitors) != 3 {
		t.Fatalf("%d requests on %d days left", left.Requests(), len(left.Visitors))
	}
	for id, want := range map[int64]bool{confirmed: true, expired: false, pending: true} {
		_, err := f.store.Subscriber(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("subscriber %d kept = %v, want %v (%v)", id, got, want, err)
		}
	}
	// The pending request can still be confirmed; the expired one is gone.
	if err := f.store.ConfirmSubscriber(ctx, pending); err != nil {
		t.Errorf("confirming the pending request: %v", err)
	}
	if err := f.store.ConfirmSubscriber(ctx, expired); !errors.Is(err, data.ErrNotFound) {
		t.Errorf("confirming the expired request: %v", err)
	}
}
