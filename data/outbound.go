package data

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/oshirase/oshirase/internal/outbound"
)

// OutboundRange is a local or private address range an admin opened to
// monitors and operators' channels (never to anonymous visitors).
type OutboundRange struct {
	ID        int64
	Prefix    string
	Note      string
	CreatedBy *int64
	CreatedAt time.Time
}

// OpenRangeInput is what an admin types to open a range.
type OpenRangeInput struct {
	Prefix string
	// Note says what lives there and why it is opened (required: the next
	// admin reads it before closing the range).
	Note      string
	CreatedBy *int64
}

// OutboundRanges lists the opened ranges, oldest first.
func (s *Store) OutboundRanges(ctx context.Context) ([]OutboundRange, error) {
	var out []OutboundRange
	if err := s.db.WithContext(ctx).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("data: outbound ranges: %w", err)
	}
	return out, nil
}

// OpenedPrefixes are the opened ranges, parsed.
func (s *Store) OpenedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	rs, err := s.OutboundRanges(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(rs))
	for _, r := range rs {
		if p, err := netip.ParsePrefix(r.Prefix); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// OpenOutboundRange records a range after checking it (see
// outbound.ParseRange); opening one already open is a field error.
func (s *Store) OpenOutboundRange(ctx context.Context, in OpenRangeInput) (*OutboundRange, error) {
	f := fieldErrors{}
	in.Note = strings.TrimSpace(in.Note)
	p, err := outbound.ParseRange(in.Prefix)
	switch {
	case strings.TrimSpace(in.Prefix) == "":
		f.add("prefix", "required")
	case errors.Is(err, outbound.ErrRangePublic):
		f.add("prefix", "range_public")
	case errors.Is(err, outbound.ErrRangeTooWide):
		f.add("prefix", "range_too_wide")
	case errors.Is(err, outbound.ErrRangeMetadata):
		f.add("prefix", "range_metadata")
	case errors.Is(err, outbound.ErrRangeThisHost):
		f.add("prefix", "range_this_host")
	case errors.Is(err, outbound.ErrRangeZone):
		f.add("prefix", "range_zone")
	case err != nil:
		f.add("prefix", "bad_range")
	}
	f.line("note", in.Note, true, 200)
	if err := f.err(); err != nil {
		return nil, err
	}
	r := &OutboundRange{Prefix: p.String(), Note: in.Note, CreatedBy: in.CreatedBy, CreatedAt: s.now()}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&OutboundRange{}).Where("prefix = ?", r.Prefix).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &ValidationError{Fields: map[string]string{"prefix": "range_open"}}
		}
		return tx.Create(r).Error
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// CloseOutboundRange removes an opened range and returns what it was.
func (s *Store) CloseOutboundRange(ctx context.Context, id int64) (*OutboundRange, error) {
	var r OutboundRange
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&r, id).Error; err != nil {
			return notFound(err)
		}
		return tx.Delete(&OutboundRange{}, id).Error
	})
	if err != nil {
		return nil, fmt.Errorf("data: close outbound range %d: %w", id, err)
	}
	return &r, nil
}
