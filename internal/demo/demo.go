// Package demo seeds a database with one whole, realistic product: the
// status page of 株式会社ひだまりソフト (Hidamari Soft Inc.), a Japanese
// vendor of plugins, with every feature in use at once. The demo command
// serves it; tests use it so that every page has everything to show.
//
// Everything goes through the data.Store API, as the console and the jobs
// would, in the order it would have happened: the fixture stays valid as
// the model evolves, and a field the fixture does not fill shows in
// TestDemoFillsEveryField.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// Options shape a Seed; the zero value is fine.
type Options struct {
	// Password signs in every seeded operator; empty generates one. It is
	// not checked against the password rules: tests pass their own.
	Password string
	// SetClock, when given, moves the clock the store was opened with
	// (data.Options.Now). Seed sets it to each moment of the story and
	// back to now at the end, so that the times the database stamps by
	// itself (when an update was posted, when a component was added) read
	// as they would have. Without it, Seed uses store.WithClock, and those
	// times are the store's own clock.
	SetClock func(time.Time)
	// Location is the zone the page shows; the story's hours (a window at
	// 02:00) and the monitors' days are counted in it. Default Asia/Tokyo.
	Location *time.Location
	// Self is the host:port a server of this database listens on. When
	// set, the HTTP and TCP checks watch that server (so a running demo's
	// monitors stay green instead of failing on addresses that do not
	// exist), and the TLS and DNS checks, which could only fail there, are
	// paused. Empty keeps every check on the vendor's own addresses.
	Self string
}

// Fixture is what Seed made, for tests and for the demo's greeting.
type Fixture struct {
	// Now is the moment the story leads up to.
	Now time.Time
	// Password signs in every operator below.
	Password string
	// AdminEmail and EditorEmail sign in as an admin and as an editor.
	AdminEmail, EditorEmail string
	// Admin, Editor and Former (a disabled editor) are operator ids.
	Admin, Editor, Former int64
	// InviteToken opens the invitation still waiting: /admin/invite/TOKEN.
	InviteToken string
	// APIToken is a live write token for the operator API.
	APIToken string
	// HookSecrets maps each live alert webhook to the secret in its
	// address: /api/hooks/ID/SECRET.
	HookSecrets map[int64]string

	// Every row of each kind, in the order made.
	Products, Components, Incidents, Maintenances, Upgrades, Announcements []int64
	Templates, Contracts, Contacts, Monitors, Integrations, Channels       []int64
	Subscribers, Drafts                                                    []int64

	// Incidents of note. Open: Critical (declared from a monitor's draft),
	// Automatic (published by an alert webhook). Resolved: Postmortem
	// (with a published postmortem), Reopened (resolved, reopened,
	// resolved again; a draft postmortem), Backfilled (written up days
	// after it happened).
	Critical, Automatic, Postmortem, Reopened, Backfilled int64
	// Maintenance in each status.
	Scheduled, InProgress, Verifying, Completed, Cancelled int64
	// Upgrades: announced and ahead, cancelled, done.
	NextUpgrade, CancelledUpgrade, PastUpgrade int64
	// Scheduled is published later than Now.
	ScheduledAnnouncement int64
	// LicenseAPI is a component with uptime and response-time charts and a
	// contract with contacts reading Japanese and English.
	LicenseAPI int64
	// Confirmed and Unconfirmed are public subscribers.
	Confirmed, Unconfirmed int64
}

// Seed builds the fixture in an empty database, telling the story of the
// last year up to now.
func Seed(ctx context.Context, store *data.Store, now time.Time, opts Options) (*Fixture, error) {
	if opts.Location == nil {
		loc, err := time.LoadLocation("Asia/Tokyo")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		opts.Location = loc
	}
	if opts.Password == "" {
		opts.Password = password.Generate()
	}
	// A whole minute, and not after now, so no step lies in the future.
	anchor := now.UTC().Truncate(time.Minute)
	s := &seeder{ctx: ctx, store: store, opts: opts, loc: opts.Location, now: anchor,
		f:    &Fixture{Now: anchor, Password: opts.Password, HookSecrets: map[int64]string{}},
		prod: map[string]int64{}, comp: map[string]int64{}, op: map[string]int64{}, contract: map[string]int64{},
		integ: map[string]int64{}, mon: map[string]int64{}}
	s.company()
	s.customers()
	s.sla()
	s.automation()
	s.monitoring()
	s.incidents()
	s.maintenance()
	s.upgrades()
	s.news()
	s.upstreams()
	s.series()
	s.imported()
	s.at(anchor, "list the drafts", func(st *data.Store) error {
		ds, err := st.IncidentDrafts(ctx, "", 1000)
		for _, d := range ds {
			s.f.Drafts = append(s.f.Drafts, d.ID)
		}
		return err
	})
	err := s.run()
	if opts.SetClock != nil {
		opts.SetClock(now)
	}
	if err != nil {
		return nil, err
	}
	return s.f, nil
}

// seeder holds the story while it is told: the steps, in the order they
// happen, and the ids earlier steps made for later ones.
type seeder struct {
	ctx   context.Context
	store *data.Store
	opts  Options
	loc   *time.Location
	now   time.Time
	f     *Fixture
	steps []step

	pwHash                               string
	prod, comp, op, contract, integ, mon map[string]int64
}

type step struct {
	at   time.Time
	name string
	do   func(st *data.Store) error
}

// at queues a step of the story at a moment.
func (s *seeder) at(t time.Time, name string, do func(st *data.Store) error) {
	s.steps = append(s.steps, step{at: t, name: name, do: do})
}

// run takes the steps in time order (steps of one moment in the order
// queued), each on a store whose clock reads that moment.
func (s *seeder) run() error {
	sort.SliceStable(s.steps, func(i, j int) bool { return s.steps[i].at.Before(s.steps[j].at) })
	for _, st := range s.steps {
		if st.at.After(s.now) {
			return fmt.Errorf("demo: %s lies after now (%s)", st.name, st.at)
		}
		if err := st.do(s.clock(st.at)); err != nil {
			var v *data.ValidationError
			if errors.As(err, &v) {
				return fmt.Errorf("demo: %s at %s: refused: %v", st.name, st.at.In(s.loc).Format(time.DateTime), v.Fields)
			}
			return fmt.Errorf("demo: %s at %s: %w", st.name, st.at.In(s.loc).Format(time.DateTime), err)
		}
	}
	return nil
}

// clock is the store to act on at t.
func (s *seeder) clock(t time.Time) *data.Store {
	if s.opts.SetClock != nil {
		s.opts.SetClock(t)
		return s.store
	}
	return s.store.WithClock(func() time.Time { return t })
}

// day is the wall-clock time hh:mm in the page's zone, n days from today
// (negative: in the past).
func (s *seeder) day(n, hh, mm int) time.Time {
	l := s.now.In(s.loc)
	return time.Date(l.Year(), l.Month(), l.Day()+n, hh, mm, 0, 0, s.loc).UTC()
}

// ago is a moment before now.
func (s *seeder) ago(d time.Duration) time.Time { return s.now.Add(-d) }

// audit appends what the console would have recorded for an operator's
// action (IPs from the documentation range).
func (s *seeder) audit(st *data.Store, who, action, target string, changes any) error {
	e := data.AuditEntry{Action: action, Target: target, IP: "203.0.113.41"}
	if id, ok := s.op[who]; ok {
		e.OperatorID, e.OperatorEmail = &id, who
		if who == editorEmail {
			e.IP = "198.51.100.17"
		}
	}
	if changes != nil {
		b, err := json.Marshal(changes)
		if err != nil {
			return err
		}
		e.Changes = string(b)
	}
	return st.AddAudit(s.ctx, e)
}

// secret returns a random token and its hash as the server keeps it: the
// SHA-256 in hex, as server.hashToken computes (unexported there, so
// repeated here as internal/bench does).
func secret(prefix string) (raw, hash string) {
	b := make([]byte, 24)
	rand.Read(b)
	raw = prefix + hex.EncodeToString(b)
	return raw, hashToken(raw)
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// CheckEmpty refuses a database that holds products already: the fixture
// goes into an empty database only, never beside someone's real data.
func CheckEmpty(ctx context.Context, store *data.Store) error {
	ps, err := store.Products(ctx)
	if err != nil {
		return err
	}
	switch n := len(ps); {
	case n == 1:
		return errors.New("demo: the database holds 1 product already; the demo goes into an empty database only")
	case n > 1:
		return fmt.Errorf("demo: the database holds %d products already; the demo goes into an empty database only", n)
	}
	return nil
}

// held is how every customer notice of the story is queued: held, so that
// nothing reaches an address until an operator releases it (and a demo
// with a relay configured sends nothing by itself).
var held = data.Notice{Send: true, Hold: true}
