package data

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/oshirase/oshirase/internal/upstream"
)

// Kinds of upstream.
const (
	UpstreamStatuspage = upstream.KindStatuspage
	UpstreamFeed       = upstream.KindFeed
)

// UpstreamKinds lists the kinds, for forms.
var UpstreamKinds = []string{UpstreamStatuspage, UpstreamFeed}

// Bounds of an upstream's polling interval, in seconds.
const (
	MinUpstreamInterval = 60
	MaxUpstreamInterval = 86400
	// UpstreamLease is how long a claimed upstream is kept from other
	// workers while it is fetched.
	UpstreamLease = 2 * time.Minute
)

// Source names an upstream's signals.
func (u *Upstream) Source() string { return "upstream:" + strconv.FormatInt(u.ID, 10) }

// Name is what the upstream is called in lang ("kintone").
func (u *Upstream) Name(lang string) string {
	if lang == "en" && u.NameEN != "" {
		return u.NameEN
	}
	return u.NameJA
}

// Link is where people are sent: the page of the upstream's incident when
// known, else its page.
func (u *Upstream) Link() string {
	if u.StateURL != "" {
		return u.StateURL
	}
	return u.PageURL
}

// Troubled reports whether the upstream is in a state the page shows.
func (u *Upstream) Troubled() bool {
	return u.Enabled && u.State != "" && u.State != Operational
}

// UpstreamInput is what an operator sets.
type UpstreamInput struct {
	ComponentID    int64
	Kind           string
	URL            string
	PageURL        string
	NameJA, NameEN string
	Match          string
	IntervalS      int
	Enabled        bool
}

// DefaultUpstream is what the console's form starts from.
var DefaultUpstream = UpstreamInput{Kind: UpstreamStatuspage, IntervalS: 300, Enabled: true}

// Input is what an operator set, for a form to edit.
func (u *Upstream) Input() UpstreamInput {
	return UpstreamInput{ComponentID: u.ComponentID, Kind: u.Kind, URL: u.URL, PageURL: u.PageURL, NameJA: u.NameJA, NameEN: u.NameEN,
		Match: u.Match, IntervalS: u.IntervalS, Enabled: u.Enabled}
}

func webURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

func (s *Store) validateUpstream(tx *gorm.DB, in *UpstreamInput) error {
	f := fieldErrors{}
	in.URL, in.PageURL, in.NameJA, in.NameEN = strings.TrimSpace(in.URL), strings.TrimSpace(in.PageURL), strings.TrimSpace(in.NameJA), strings.TrimSpace(in.NameEN)
	in.Match = strings.TrimSpace(strings.ReplaceAll(in.Match, "\r\n", "\n"))
	var n int64
	if err := tx.Model(&Component{}).Where("id = ?", in.ComponentID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		f.add("component_id", "invalid_choice")
	}
	f.line("url", in.URL, true, 2000)
	if _, bad := f["url"]; !bad && !webURL(in.URL) {
		f.add("url", "bad_url")
	}
	f.line("page_url", in.PageURL, false, 2000)
	if _, bad := f["page_url"]; !bad && in.PageURL != "" && !webURL(in.PageURL) {
		f.add("page_url", "bad_url")
	}
	f.line("name_ja", in.NameJA, true, MaxName)
	f.line("name_en", in.NameEN, false, MaxName)
	switch in.Kind {
	case UpstreamStatuspage:
		f.line("match", in.Match, true, 200)
	case UpstreamFeed:
		f.block("match", in.Match, true, 4000)
		if _, bad := f["match"]; !bad {
			if _, err := upstream.ParseRules(in.Match); err != nil {
				f.add("match", "upstream_rules")
			}
		}
	default:
		f.add("kind", "invalid_choice")
	}
	if in.IntervalS < MinUpstreamInterval || in.IntervalS > MaxUpstreamInterval {
		f.add("interval_s", "upstream_interval")
	}
	return f.err()
}

func upstreamFields(in UpstreamInput) map[string]any {
	return map[string]any{"component_id": in.ComponentID, "kind": in.Kind, "url": in.URL, "page_url": in.PageURL, "name_ja": in.NameJA,
		"name_en": in.NameEN, "match": in.Match, "interval_s": in.IntervalS, "enabled": in.Enabled}
}

// CreateUpstream adds a source a component follows; it is polled at once.
func (s *Store) CreateUpstream(ctx context.Context, in UpstreamInput) (*Upstream, error) {
	var u Upstream
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.validateUpstream(tx, &in); err != nil {
			return err
		}
		now := s.now()
		u = Upstream{ComponentID: in.ComponentID, Kind: in.Kind, URL: in.URL, PageURL: in.PageURL, NameJA: in.NameJA, NameEN: in.NameEN,
			Match: in.Match, IntervalS: in.IntervalS, Enabled: in.Enabled, NextCheckAt: &now, CreatedAt: now, UpdatedAt: now}
		return tx.Create(&u).Error
	})
	if err != nil {
		return nil, wrapUnlessInvalid("create upstream", err)
	}
	return &u, nil
}

// UpdateUpstream changes a source. It starts afresh: its state is unknown,
// its validators forgotten, its signal withdrawn, and it is polled at once.
func (s *Store) UpdateUpstream(ctx context.Context, id int64, in UpstreamInput) (*SignalOutcome, error) {
	var out *SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var old Upstream
		if err := tx.First(&old, id).Error; err != nil {
			return notFound(err)
		}
		in.ComponentID = old.ComponentID
		if err := s.validateUpstream(tx, &in); err != nil {
			return err
		}
		now := s.now()
		fields := upstreamFields(in)
		fields["etag"], fields["last_modified"], fields["state"], fields["state_detail"], fields["state_url"] = "", "", "", "", ""
		fields["last_error"], fields["next_check_at"], fields["updated_at"] = "", now, now
		if err := tx.Model(&Upstream{ID: id}).Updates(fields).Error; err != nil {
			return err
		}
		var err error
		out, err = s.signal(tx, Signal{ComponentID: old.ComponentID, Source: old.Source(), Status: Operational})
		return err
	})
	return out, wrapUnlessInvalid(fmt.Sprintf("update upstream %d", id), err)
}

// DeleteUpstream removes a source and withdraws its signal.
func (s *Store) DeleteUpstream(ctx context.Context, id int64) (*SignalOutcome, error) {
	var out *SignalOutcome
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var u Upstream
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Delete(&Upstream{}, id).Error; err != nil {
			return err
		}
		var err error
		out, err = s.signal(tx, Signal{ComponentID: u.ComponentID, Source: u.Source(), Status: Operational})
		return err
	})
	return out, wrapUnlessInvalid(fmt.Sprintf("delete upstream %d", id), err)
}

// Upstream returns one source.
func (s *Store) Upstream(ctx context.Context, id int64) (*Upstream, error) {
	var u Upstream
	if err := s.db.WithContext(ctx).First(&u, id).Error; err != nil {
		return nil, fmt.Errorf("data: upstream %d: %w", id, notFound(err))
	}
	return &u, nil
}

// Upstreams lists the sources components follow, by component; a
// componentID above zero keeps that component's.
func (s *Store) Upstreams(ctx context.Context, componentID int64) ([]Upstream, error) {
	var us []Upstream
	q := s.db.WithContext(ctx).Order("component_id, id")
	if componentID > 0 {
		q = q.Where("component_id = ?", componentID)
	}
	err := q.Find(&us).Error
	return us, err
}

// ClaimUpstreams takes up to limit sources that are due: each is kept from
// other workers for UpstreamLease (its next check is pushed that far), and
// RecordUpstream sets its real next check.
func (s *Store) ClaimUpstreams(ctx context.Context, limit int) ([]Upstream, error) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	var due []int64
	if err := s.db.WithContext(ctx).Model(&Upstream{}).Where("enabled = ? AND (next_check_at IS NULL OR next_check_at <= ?)", true, now).
		Limit(1).Pluck("id", &due).Error; err != nil || len(due) == 0 {
		return nil, err
	}
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE upstreams SET next_check_at = ?
			WHERE id IN (SELECT id FROM upstreams WHERE enabled = ? AND (next_check_at IS NULL OR next_check_at <= ?)
				ORDER BY next_check_at, id LIMIT ?`+lock+`)
			RETURNING id`, now.Add(UpstreamLease), true, now, limit).Scan(&ids).Error
	})
	if err != nil {
		return nil, fmt.Errorf("data: claim upstreams: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var us []Upstream
	err = s.db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&us).Error
	return us, err
}

// UpstreamResult is what one poll found.
type UpstreamResult struct {
	At time.Time
	// NotModified: the upstream answered 304, nothing changed.
	NotModified        bool
	State              upstream.State
	ETag, LastModified string
	// Error is why the poll failed; the state stays what it was.
	Error string
}

// RecordUpstream stores a poll's result and sets the next. A move of the
// upstream's state raises the signal on the component (operational and
// under_maintenance withdraw it: the upstream's maintenance is shown, not
// declared). It returns the signal's outcome, and whether the page shows
// something new.
func (s *Store) RecordUpstream(ctx context.Context, id int64, res UpstreamResult, hold bool) (*SignalOutcome, bool, error) {
	var (
		out     *SignalOutcome
		changed bool
	)
	err := s.tx(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		var u Upstream
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		next := res.At.Add(time.Duration(max(u.IntervalS, MinUpstreamInterval)) * time.Second)
		fields := map[string]any{"checked_at": res.At, "next_check_at": next, "last_error": cleanLine(res.Error, 500)}
		if res.Error == "" && !res.NotModified {
			fields["etag"], fields["last_modified"] = cleanLine(res.ETag, 500), cleanLine(res.LastModified, 200)
			st := res.State
			st.Detail, st.URL = cleanLine(st.Detail, 500), cleanLine(st.URL, 2000)
			if st.Status != u.State || st.Detail != u.StateDetail || st.URL != u.StateURL {
				changed = u.Enabled
				fields["state"], fields["state_detail"], fields["state_url"] = st.Status, st.Detail, st.URL
				if st.Status != u.State {
					fields["changed_at"] = res.At
				}
				status := st.Status
				if status == UnderMaintenance || !oneOf(status, ComponentStatuses) {
					status = Operational
				}
				// Said as the upstream's, so a draft never reads as trouble
				// of the component's own.
				detail := "依存先「" + u.NameJA + "」"
				if u.NameEN != "" && u.NameEN != u.NameJA {
					detail += " (upstream " + u.NameEN + ")"
				}
				if st.Detail != "" {
					detail += ": " + st.Detail
				}
				var err error
				if out, err = s.signal(tx, Signal{ComponentID: u.ComponentID, Source: u.Source(), Status: status, Detail: detail, Hold: hold}); err != nil {
					return err
				}
			}
		}
		return tx.Model(&Upstream{ID: id}).Updates(fields).Error
	})
	if err != nil {
		return nil, false, wrapUnlessInvalid(fmt.Sprintf("record upstream %d", id), err)
	}
	return out, changed, nil
}

// cleanLine is what an upstream sent, fit to store and show: valid UTF-8,
// no control characters (PostgreSQL refuses NUL), at most n characters.
func cleanLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return truncate(strings.TrimSpace(s), n)
}
