package server

import (
	"context"

	"github.com/oshirase/oshirase/data"
)

// DraftsBanner is the console's banner text for the drafts waiting for an
// operator: trouble detected, a recovery to confirm (a resolving update),
// or both, so a waiting recovery never reads as a new problem.
func (p *page) DraftsBanner() string {
	kinds, err := p.s.store.WaitingDraftKinds(context.Background())
	if err != nil {
		// The count the layout already has still says something waits.
		return p.T("drafts.banner", "Count", p.Drafts)
	}
	var total int64
	for _, n := range kinds {
		total += n
	}
	if total == 0 {
		// Closed since the layout counted them.
		total = p.Drafts
	}
	resolve := kinds[data.DraftResolve]
	switch {
	case resolve > 0 && resolve == total:
		return p.T("drafts.banner_recovery", "Count", total)
	case resolve > 0:
		return p.T("drafts.banner_mixed", "Count", total, "Resolve", resolve)
	}
	return p.T("drafts.banner", "Count", total)
}
