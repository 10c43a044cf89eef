package data

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// IncidentPostmortem is the notice kind telling an incident's audience
// that its postmortem is published.
const IncidentPostmortem = "incident_postmortem"

// MaxPostmortem is the longest postmortem, in characters per language.
const MaxPostmortem = 50000

// PostmortemInput is what an operator writes about a resolved incident.
type PostmortemInput struct {
	BodyJA, BodyEN string
	// Publish shows it on the page; false keeps (or takes it back to) a
	// draft only operators see.
	Publish bool
	// Notice asks for the incident's audience to be told, the first time it
	// is published.
	Notice     Notice
	OperatorID *int64
}

// PostmortemResult says what a save did.
type PostmortemResult struct {
	Published bool
	// Notified: this save queued the notice (it never queues a second).
	Notified bool
}

// SavePostmortem writes an incident's postmortem. Only a resolved incident
// has one. The first publication time stays through corrections; taking it
// back to a draft and publishing again stamps a new one.
func (s *Store) SavePostmortem(ctx context.Context, incidentID int64, in PostmortemInput) (PostmortemResult, error) {
	f := fieldErrors{}
	f.block("postmortem_ja", in.BodyJA, true, MaxPostmortem)
	f.block("postmortem_en", in.BodyEN, false, MaxPostmortem)
	var res PostmortemResult
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var inc Incident
		if err := tx.First(&inc, incidentID).Error; err != nil {
			return notFound(err)
		}
		if inc.Status != Resolved {
			f.add("postmortem_ja", "postmortem_open")
		}
		if err := f.err(); err != nil {
			return err
		}
		now := s.now()
		fields := map[string]any{"postmortem_ja": in.BodyJA, "postmortem_en": in.BodyEN, "postmortem_updated_at": now}
		switch {
		case in.Publish && inc.PostmortemPublishedAt == nil:
			fields["postmortem_published_at"] = now
		case !in.Publish:
			fields["postmortem_published_at"] = nil
		}
		notify := in.Publish && in.Notice.Send && inc.PostmortemNotifiedAt == nil
		if notify {
			fields["postmortem_notified_at"] = now
		}
		if err := tx.Model(&Incident{ID: incidentID}).Updates(fields).Error; err != nil {
			return err
		}
		res.Published = in.Publish
		if !notify {
			return nil
		}
		res.Notified = true
		if err := preloadIncident(tx).First(&inc, incidentID).Error; err != nil {
			return err
		}
		return s.queuePostmortemNotice(tx, &inc, in.OperatorID, in.Notice.Hold)
	})
	return res, wrapUnlessInvalid(fmt.Sprintf("incident %d: postmortem", incidentID), err)
}

// queuePostmortemNotice tells whoever the policy names for the incident's
// impact, on every component its timeline named.
func (s *Store) queuePostmortemNotice(tx *gorm.DB, inc *Incident, operatorID *int64, hold bool) error {
	scope := map[int64]string{}
	for _, u := range inc.Updates {
		for _, c := range u.Components {
			if _, ok := scope[c.ComponentID]; !ok {
				scope[c.ComponentID] = c.Status
			}
		}
	}
	ids := make([]int64, 0, len(scope))
	for id := range scope {
		ids = append(ids, id)
	}
	products, _, err := componentNames(tx, scope)
	if err != nil {
		return err
	}
	started := inc.StartedAt
	content := NoticeContent{Kind: IncidentPostmortem, Impact: inc.Impact, Status: Resolved, TitleJA: inc.TitleJA, TitleEN: inc.TitleEN,
		BodyJA: inc.PostmortemJA, BodyEN: inc.PostmortemEN, Products: products, StartedAt: &started, ResolvedAt: inc.ResolvedAt,
		Path: fmt.Sprintf("/incidents/%d#postmortem", inc.ID)}
	n := Notification{Kind: IncidentPostmortem, IncidentID: &inc.ID, Thread: fmt.Sprintf("incident-%d", inc.ID), OperatorID: operatorID}
	return s.queueNotification(tx, n, content, inc.Impact, ids, hold)
}
