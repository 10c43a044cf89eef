package demo

import (
	"time"

	"github.com/oshirase/oshirase/data"
)

// importedSource is the vendor's former Statuspage page, as an import
// names it.
const importedSource = "statuspage:https://hidamari.statuspage.example"

// imported seeds what was moved in from the vendor's former Statuspage
// page when Oshirase was set up: an incident with its whole timeline and a
// finished maintenance, on the components that already existed (adopted,
// not made again), remembered in import_refs so a rerun changes nothing.
func (s *seeder) imported() {
	start := s.day(-398, 14, 5)
	in := data.HistoryImport{Source: importedSource,
		Groups: []data.ImportGroup{{ExternalID: "sp-grp-calendar", NameJA: "ひだまりカレンダー", NameEN: "Hidamari Calendar",
			DescJA: "旧ステータスページのグループ", DescEN: "Group on the former page", LocalID: s.prod["calendar"]}},
		Components: []data.ImportComponent{
			{ExternalID: "sp-cmp-license", GroupID: "sp-grp-calendar", NameJA: "ライセンス認証API", NameEN: "License API",
				DescJA: "旧ページのコンポーネント", DescEN: "Component on the former page", Status: data.Operational, LocalID: s.comp["license"]},
			{ExternalID: "sp-cmp-cdn", GroupID: "sp-grp-calendar", NameJA: "プラグイン配信（CDN）", NameEN: "Plugin delivery (CDN)",
				DescJA: "旧ページのコンポーネント", DescEN: "Component on the former page", Status: data.Operational, LocalID: s.comp["calendar-cdn"]},
		},
		Incidents: []data.ImportIncident{{ExternalID: "sp-inc-9k2x", TitleJA: "ライセンス認証の遅延（旧ステータスページから移行）",
			TitleEN: "Slow license checks (moved from the former status page)", Impact: "minor", Status: data.Resolved, StartedAt: start,
			ResolvedAt: importedTime(start.Add(95 * time.Minute)),
			Updates: []data.ImportUpdate{
				{ExternalID: "sp-upd-1", Status: data.Investigating, BodyJA: "ライセンス認証の応答が遅くなっています。調査しています。",
					BodyEN: "License checks are slow. We are investigating.", At: start, Components: map[string]string{"sp-cmp-license": data.DegradedPerformance}},
				{ExternalID: "sp-upd-2", Status: data.Identified, BodyJA: "データベースの負荷が原因と判明しました。",
					BodyEN: "The cause is load on the database.", At: start.Add(40 * time.Minute), Components: map[string]string{"sp-cmp-license": data.DegradedPerformance}},
				{ExternalID: "sp-upd-3", Status: data.Resolved, BodyJA: "復旧しました。ご不便をおかけしました。",
					BodyEN: "Resolved. We are sorry for the trouble.", At: start.Add(95 * time.Minute), Components: map[string]string{"sp-cmp-license": data.Operational}},
			}}},
		Maintenances: []data.ImportMaintenance{{ExternalID: "sp-mnt-77", TitleJA: "配信サーバーの移設（旧ステータスページから移行）",
			TitleEN: "Moving the delivery servers (from the former status page)", Status: data.Completed,
			StartsAt: s.day(-397, 2, 0), EndsAt: s.day(-397, 4, 0), StartedAt: importedTime(s.day(-397, 2, 0)), CompletedAt: importedTime(s.day(-397, 3, 40)),
			ComponentIDs: []string{"sp-cmp-cdn"},
			Updates: []data.ImportUpdate{
				{ExternalID: "sp-mupd-1", Status: data.Scheduled, BodyJA: "配信サーバーを移設します。", BodyEN: "We will move the delivery servers.", At: s.day(-399, 10, 0)},
				{ExternalID: "sp-mupd-2", Status: data.InProgress, BodyJA: "作業を開始しました。", BodyEN: "The work has started.", At: s.day(-397, 2, 0)},
				{ExternalID: "sp-mupd-3", Status: data.Completed, BodyJA: "作業が完了しました。", BodyEN: "The work is done.", At: s.day(-397, 3, 40)},
			}}},
	}
	s.at(s.day(-396, 11, 0), "move in from the former Statuspage page", func(st *data.Store) error {
		if _, err := st.ApplyHistoryImport(s.ctx, in, false); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "import.statuspage", "source="+importedSource, map[string]int{"created": 10})
	})
}

func importedTime(t time.Time) *time.Time { return &t }
