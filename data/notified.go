package data

import (
	"context"
	"fmt"
	"time"
)

// NotifiedUpdates are the incident and maintenance updates whose notice
// went to someone (a contact, a subscriber or a channel), by update id.
type NotifiedUpdates struct {
	Incident    map[int64]bool
	Maintenance map[int64]bool
}

// maintenanceStepStatus is the status of the update a maintenance notice
// reports; reminders report none.
var maintenanceStepStatus = map[string]string{MaintenanceScheduled: Scheduled, MaintenanceStarted: InProgress,
	MaintenanceCompleted: Completed, MaintenanceCancelled: Cancelled}

// NotifiedUpdates says which updates of these incidents and windows were
// sent to anyone: a notification was written for the update and not every
// one of its deliveries was discarded. A notification names its incident
// or window, not the update; an incident notice carries the time and
// status of the update it reports, and a maintenance notice is written in
// the same transaction as the update of its step, so it is that step's
// newest update at or before the notice.
func (s *Store) NotifiedUpdates(ctx context.Context, incs []Incident, ms []Maintenance) (NotifiedUpdates, error) {
	out := NotifiedUpdates{Incident: map[int64]bool{}, Maintenance: map[int64]bool{}}
	if len(incs) == 0 && len(ms) == 0 {
		return out, nil
	}
	incIDs, maintIDs := []int64{0}, []int64{0}
	for _, i := range incs {
		incIDs = append(incIDs, i.ID)
	}
	for _, m := range ms {
		maintIDs = append(maintIDs, m.ID)
	}
	var ns []Notification
	err := s.db.WithContext(ctx).
		Where("(incident_id IN ? OR maintenance_id IN ?) AND kind IN ?", incIDs, maintIDs,
			[]string{IncidentOpened, IncidentUpdated, IncidentResolved, MaintenanceScheduled, MaintenanceStarted, MaintenanceCompleted, MaintenanceCancelled}).
		Where("EXISTS (SELECT 1 FROM deliveries WHERE deliveries.notification_id = notifications.id AND deliveries.state <> ?)", DeliveryDiscarded).
		Find(&ns).Error
	if err != nil {
		return out, fmt.Errorf("data: notified updates: %w", err)
	}
	byIncident, byMaintenance := map[int64][]Notification{}, map[int64][]Notification{}
	for _, n := range ns {
		switch {
		case n.IncidentID != nil:
			byIncident[*n.IncidentID] = append(byIncident[*n.IncidentID], n)
		case n.MaintenanceID != nil:
			byMaintenance[*n.MaintenanceID] = append(byMaintenance[*n.MaintenanceID], n)
		}
	}
	// PostgreSQL keeps microseconds; the frozen content keeps what Go had.
	same := func(a, b time.Time) bool { return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond)) }
	for _, inc := range incs {
		for _, n := range byIncident[inc.ID] {
			c, err := n.Decode()
			if err != nil || c.UpdatedAt == nil {
				continue
			}
			for _, u := range inc.Updates {
				if u.Status == c.Status && same(u.CreatedAt, *c.UpdatedAt) {
					out.Incident[u.ID] = true
				}
			}
		}
	}
	for _, m := range ms {
		for _, n := range byMaintenance[m.ID] {
			status := maintenanceStepStatus[n.Kind]
			// Updates are newest first: the first of the step's status
			// written by the notice's time is the one it reports.
			for _, u := range m.Updates {
				if u.Status == status && !u.CreatedAt.After(n.CreatedAt) {
					out.Maintenance[u.ID] = true
					break
				}
			}
		}
	}
	return out, nil
}
