package demo

import (
	"time"

	"github.com/oshirase/oshirase/data"
)

// sla gives the month's availability reports something to say: how
// downtime is counted with a credit table, commitments on two products,
// one contract with its own (stricter) commitment and the report mailed,
// one whose service began in the middle of a month.
func (s *seeder) sla() {
	s.at(s.day(-400, 10, 30), "sla settings", func(st *data.Store) error {
		return st.SaveSLASettings(s.ctx, data.SLASettings{MajorWeight: 100, PartialWeight: 30, DegradedWeight: 0, NoticeDays: 3,
			CreditTiers: "99.9:10,99.0:25,95.0:50"})
	})
	s.at(s.day(-320, 11, 30), "sla commitments", func(st *data.Store) error {
		for _, c := range []struct{ key, target string }{{"calendar", "99.9"}, {"reports", "99.5"}, {"connect", "99.9"}} {
			if err := st.SetProductSLATarget(s.ctx, s.prod[c.key], c.target); err != nil {
				return err
			}
		}
		return nil
	})
	s.at(s.day(-300, 11, 5), "sla terms HS-2024-0215", func(st *data.Store) error {
		return st.SetContractSLA(s.ctx, s.contract["HS-2024-0215"], data.ContractSLA{SLATarget: "99.95", ReportMail: true})
	})
	// Signed 20 days ago; the service began on the 16th after signing.
	signed := s.day(-20, 11, 5)
	l := signed.In(s.loc)
	start := time.Date(l.Year(), l.Month(), 16, 0, 0, 0, 0, s.loc)
	if l.Day() >= 16 {
		start = start.AddDate(0, 1, 0)
	}
	s.at(signed, "sla terms HS-2026-0003", func(st *data.Store) error {
		return st.SetContractSLA(s.ctx, s.contract["HS-2026-0003"], data.ContractSLA{StartedAt: &start})
	})
}
