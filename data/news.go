package data

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Announcement is a news post (お知らせ) not tied to an outage.
type Announcement struct {
	ID               int64
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	ProductID        *int64
	PublishAt        time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// AnnouncementInput is what an operator writes.
type AnnouncementInput struct {
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	ProductID        *int64
	// PublishAt may be in the future; zero means now.
	PublishAt time.Time
}

func (s *Store) validateAnnouncement(ctx context.Context, in *AnnouncementInput) error {
	f := fieldErrors{}
	validateTitles(f, &in.TitleJA, &in.TitleEN)
	validateBodies(f, in.BodyJA, in.BodyEN)
	if in.PublishAt.IsZero() {
		in.PublishAt = s.now()
	}
	if in.ProductID != nil {
		var n int64
		if err := s.db.WithContext(ctx).Model(&Product{}).Where("id = ?", *in.ProductID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			f.add("product_id", "invalid_choice")
		}
	}
	return f.err()
}

// CreateAnnouncement publishes a news post (at PublishAt).
func (s *Store) CreateAnnouncement(ctx context.Context, in AnnouncementInput) (*Announcement, error) {
	if err := s.validateAnnouncement(ctx, &in); err != nil {
		return nil, err
	}
	a := Announcement{TitleJA: in.TitleJA, TitleEN: in.TitleEN, BodyJA: in.BodyJA, BodyEN: in.BodyEN, ProductID: in.ProductID, PublishAt: in.PublishAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&a).Error; err != nil {
		return nil, fmt.Errorf("data: create announcement: %w", err)
	}
	return &a, nil
}

// UpdateAnnouncement edits a news post.
func (s *Store) UpdateAnnouncement(ctx context.Context, id int64, in AnnouncementInput) error {
	if err := s.validateAnnouncement(ctx, &in); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&Announcement{ID: id}).Updates(map[string]any{"title_ja": in.TitleJA, "title_en": in.TitleEN,
		"body_ja": in.BodyJA, "body_en": in.BodyEN, "product_id": in.ProductID, "publish_at": in.PublishAt.UTC(), "updated_at": s.now()})
	return rowsOrNotFound(res, "announcement", id)
}

// DeleteAnnouncement removes a news post.
func (s *Store) DeleteAnnouncement(ctx context.Context, id int64) error {
	return rowsOrNotFound(s.db.WithContext(ctx).Delete(&Announcement{}, id), "announcement", id)
}

// Announcement returns one news post.
func (s *Store) Announcement(ctx context.Context, id int64) (*Announcement, error) {
	var a Announcement
	if err := s.db.WithContext(ctx).First(&a, id).Error; err != nil {
		return nil, fmt.Errorf("data: announcement %d: %w", id, notFound(err))
	}
	return &a, nil
}

// Announcements lists news posts for the console, newest first.
func (s *Store) Announcements(ctx context.Context, limit, offset int) ([]Announcement, int64, error) {
	db := s.db.WithContext(ctx)
	var total int64
	if err := db.Model(&Announcement{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var as []Announcement
	err := db.Order("publish_at DESC, id DESC").Limit(limit).Offset(offset).Find(&as).Error
	return as, total, err
}

// NewsItem is one entry of the news page: an announcement, an upgrade, an
// incident or a maintenance, each at its own time.
type NewsItem struct {
	At           time.Time
	Announcement *Announcement
	Upgrade      *Upgrade
	Incident     *Incident
	Maintenance  *Maintenance
}

// News merges published announcements, upgrades (when announced),
// incidents (when they started) and maintenance (when scheduled), newest
// first. It returns one page and whether an older page exists.
func (s *Store) News(ctx context.Context, limit, offset int) ([]NewsItem, bool, error) {
	now := s.now()
	want := offset + limit + 1
	db := s.db.WithContext(ctx)
	var items []NewsItem
	var as []Announcement
	if err := db.Where("publish_at <= ?", now).Order("publish_at DESC, id DESC").Limit(want).Find(&as).Error; err != nil {
		return nil, false, fmt.Errorf("data: news: %w", err)
	}
	for i := range as {
		items = append(items, NewsItem{At: as[i].PublishAt, Announcement: &as[i]})
	}
	var us []Upgrade
	if err := db.Preload("Product").Order("created_at DESC, id DESC").Limit(want).Find(&us).Error; err != nil {
		return nil, false, fmt.Errorf("data: news: %w", err)
	}
	for i := range us {
		items = append(items, NewsItem{At: us[i].CreatedAt, Upgrade: &us[i]})
	}
	var incs []Incident
	if err := preloadIncident(db).Where("started_at <= ?", now).Order("started_at DESC, id DESC").Limit(want).Find(&incs).Error; err != nil {
		return nil, false, fmt.Errorf("data: news: %w", err)
	}
	for i := range incs {
		items = append(items, NewsItem{At: incs[i].StartedAt, Incident: &incs[i]})
	}
	var ms []Maintenance
	if err := preloadMaintenance(db).Order("created_at DESC, id DESC").Limit(want).Find(&ms).Error; err != nil {
		return nil, false, fmt.Errorf("data: news: %w", err)
	}
	for i := range ms {
		items = append(items, NewsItem{At: ms[i].CreatedAt, Maintenance: &ms[i]})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].At.After(items[j].At) })
	if offset >= len(items) {
		return nil, false, nil
	}
	items = items[offset:]
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	return items, more, nil
}

// ProductName is the product's name in a language, for news entries.
func (n NewsItem) ProductName(lang string) string {
	if n.Upgrade == nil || n.Upgrade.Product == nil {
		return ""
	}
	if lang == "en" && strings.TrimSpace(n.Upgrade.Product.NameEN) != "" {
		return n.Upgrade.Product.NameEN
	}
	return n.Upgrade.Product.NameJA
}

// CalendarEvents returns maintenance windows and upgrades that end after
// since, cancelled ones included (calendars must learn of cancellations).
func (s *Store) CalendarEvents(ctx context.Context, since time.Time) ([]Maintenance, []Upgrade, error) {
	var ms []Maintenance
	if err := preloadMaintenance(s.db.WithContext(ctx)).Where("ends_at > ?", since.UTC()).Order("starts_at, id").Find(&ms).Error; err != nil {
		return nil, nil, fmt.Errorf("data: calendar: %w", err)
	}
	var us []Upgrade
	if err := s.db.WithContext(ctx).Preload("Product").Where("ends_at > ?", since.UTC()).Order("starts_at, id").Find(&us).Error; err != nil {
		return nil, nil, fmt.Errorf("data: calendar: %w", err)
	}
	return ms, us, nil
}
