package demo

import (
	"fmt"
	"time"

	"github.com/oshirase/oshirase/data"
)

// maintenance is the vendor's planned work: done, cancelled, running,
// being verified, and ahead (one announced by email with a reminder, one
// shown on the page only).
func (s *seeder) maintenance() {
	// Windows open now start on a ten-minute mark, as people schedule them.
	mark := s.now.Truncate(10 * time.Minute)

	// Completed: reminded two days before, opened by the scheduler,
	// verified and closed by an operator.
	var done int64
	s.at(s.day(-16, 15, 0), "schedule the database upgrade", func(st *data.Store) error {
		m, err := s.schedule(st, editorEmail, data.NewMaintenance{TitleJA: "ライセンス認証基盤のデータベース更新", TitleEN: "Database upgrade behind license checks",
			StartsAt: s.day(-9, 2, 0), EndsAt: s.day(-9, 4, 0), ReminderLead: 48 * time.Hour,
			BodyJA:       "ライセンス認証基盤のデータベースを新しいバージョンに更新いたします。\n\n作業中は、プラグインの起動時にライセンスを確認できないため、**最大5分程度**、起動に時間がかかる場合がございます。ご利用中の画面には影響ございません。",
			BodyEN:       "We will upgrade the database behind license checks.\n\nDuring the work, licenses cannot be checked, so the plugin may take **up to about five minutes** longer to start. Screens already open are not affected.",
			ComponentIDs: []int64{s.comp["license"], s.comp["signin"]}, Notice: held})
		done = m
		s.f.Completed = m
		return err
	})
	s.at(s.day(-11, 2, 0), "reminder of the database upgrade", func(st *data.Store) error {
		_, err := st.SendMaintenanceReminder(s.ctx, done, true)
		return err
	})
	s.at(s.day(-9, 2, 0), "the database upgrade starts", func(st *data.Store) error {
		_, err := st.AutoAdvanceMaintenance(s.ctx, done, held)
		return err
	})
	s.at(s.day(-9, 3, 10), "the database upgrade is verified", func(st *data.Store) error {
		return s.step(st, editorEmail, done, data.Verifying, "データベースの更新が完了し、現在、動作確認を行っております。",
			"The upgrade is done and we are checking that everything works.")
	})
	s.at(s.day(-9, 3, 40), "the database upgrade is done", func(st *data.Store) error {
		return s.step(st, editorEmail, done, data.Completed, "動作確認が完了し、予定より早く作業を終了いたしました。ご協力いただき、ありがとうございました。",
			"Our checks are complete and the work finished ahead of schedule. Thank you for your patience.")
	})

	// Cancelled: moved once, then called off.
	var cdn int64
	cdnIn := data.NewMaintenance{TitleJA: "プラグイン配信（CDN）の設定変更", TitleEN: "Configuration change of plugin delivery (CDN)",
		StartsAt: s.day(2, 1, 0), EndsAt: s.day(2, 5, 0),
		BodyJA: "CDNの二重化に向けた設定変更を行います。作業中は、プラグインの表示に数秒程度時間がかかる場合がございます。",
		BodyEN: "We will change the CDN configuration to serve from two providers. During the work, plugins may take a few seconds longer to appear.",
		Notice: held}
	s.at(s.day(-7, 11, 0), "schedule the CDN change", func(st *data.Store) error {
		cdnIn.ComponentIDs = []int64{s.comp["calendar-cdn"], s.comp["reports-cdn"]}
		m, err := s.schedule(st, adminEmail, cdnIn)
		cdn, s.f.Cancelled = m, m
		return err
	})
	s.at(s.day(-5, 14, 0), "move the CDN change", func(st *data.Store) error {
		return s.reschedule(st, adminEmail, cdn, cdnIn, s.day(2, 1, 30), s.day(2, 5, 30))
	})
	s.at(s.day(-1, 18, 0), "call off the CDN change", func(st *data.Store) error {
		return s.step(st, adminEmail, cdn, data.Cancelled, "CDN事業者との調整の結果、今回の作業は中止いたします。新しい日程が決まりましたら、あらためてお知らせいたします。",
			"After talking with our CDN provider we have called off this work. We will let you know the new date once it is set.")
	})

	// In progress: opened by the scheduler forty minutes ago.
	var conn int64
	s.at(s.day(-6, 16, 0), "schedule the connector upgrade", func(st *data.Store) error {
		m, err := s.schedule(st, editorEmail, data.NewMaintenance{TitleJA: "外部サービス連携基盤のバージョン更新", TitleEN: "Upgrade of the service connector platform",
			StartsAt: mark.Add(-40 * time.Minute), EndsAt: mark.Add(80 * time.Minute),
			BodyJA:       "外部サービス連携基盤を新しいバージョンに更新いたします。作業中は、会計・チャット・ストレージとのデータのやり取りが一時的に遅れる場合がございます。遅れたデータは、作業の完了後に順次反映されます。",
			BodyEN:       "We will upgrade the platform our service connectors run on. During the work, data exchanged with accounting, chat and storage services may be delayed for a while; it catches up once the work is done.",
			ComponentIDs: []int64{s.comp["connectors"]}, Notice: held})
		conn, s.f.InProgress = m, m
		return err
	})
	s.at(mark.Add(-40*time.Minute-24*time.Hour), "reminder of the connector upgrade", func(st *data.Store) error {
		_, err := st.SendMaintenanceReminder(s.ctx, conn, true)
		return err
	})
	s.at(mark.Add(-40*time.Minute), "the connector upgrade starts", func(st *data.Store) error {
		_, err := st.AutoAdvanceMaintenance(s.ctx, conn, held)
		return err
	})
	s.at(s.ago(8*time.Minute), "the connector upgrade goes to plan", func(st *data.Store) error {
		return s.step(st, editorEmail, conn, data.InProgress, "作業は予定どおり進んでおります。", "The work is going to plan.")
	})

	// Verifying: started by an operator, now being checked.
	var editor int64
	s.at(s.day(-10, 11, 0), "schedule the editor's move", func(st *data.Store) error {
		m, err := s.schedule(st, adminEmail, data.NewMaintenance{TitleJA: "テンプレート編集画面のサーバー移行", TitleEN: "Moving the template editor to new servers",
			StartsAt: mark.Add(-90 * time.Minute), EndsAt: mark.Add(60 * time.Minute), ReminderLead: 72 * time.Hour,
			BodyJA:       "テンプレート編集画面を新しいサーバーへ移行いたします。作業中は、テンプレートを保存できません。帳票の出力には影響ございません。",
			BodyEN:       "We are moving the template editor to new servers. Templates cannot be saved during the work. Producing documents is not affected.",
			ComponentIDs: []int64{s.comp["editor"]}, Notice: held})
		editor, s.f.Verifying = m, m
		return err
	})
	s.at(mark.Add(-90*time.Minute-72*time.Hour), "reminder of the editor's move", func(st *data.Store) error {
		_, err := st.SendMaintenanceReminder(s.ctx, editor, true)
		return err
	})
	s.at(mark.Add(-90*time.Minute), "the editor's move starts", func(st *data.Store) error {
		return s.step(st, adminEmail, editor, data.InProgress, "作業を開始いたしました。", "The work has started.")
	})
	s.at(s.ago(15*time.Minute), "the editor's move is verified", func(st *data.Store) error {
		return s.step(st, adminEmail, editor, data.Verifying, "移行作業が完了し、現在、動作確認を行っております。",
			"The move is done and we are checking that everything works.")
	})

	// Scheduled: announced, then moved half an hour earlier.
	signinIn := data.NewMaintenance{TitleJA: "アカウント・ログイン基盤の定期メンテナンス", TitleEN: "Scheduled maintenance of accounts and sign-in",
		StartsAt: s.day(5, 2, 0), EndsAt: s.day(5, 5, 0), ReminderLead: 48 * time.Hour,
		BodyJA: "アカウント・ログイン基盤の定期メンテナンスを実施いたします。\n\n- 作業中は、各製品の管理画面にログインできません。\n- ログイン済みの画面は、そのままご利用いただけます。\n\nご不便をおかけいたしますが、ご理解とご協力をお願いいたします。",
		BodyEN: "We will carry out scheduled maintenance of accounts and sign-in.\n\n- You cannot sign in to the products' admin screens during the work.\n- Screens you are already signed in to keep working.\n\nThank you for your understanding.",
		Notice: held}
	var signin int64
	s.at(s.day(-3, 15, 0), "schedule the sign-in maintenance", func(st *data.Store) error {
		signinIn.ComponentIDs = []int64{s.comp["signin"], s.comp["portal"]}
		m, err := s.schedule(st, editorEmail, signinIn)
		signin, s.f.Scheduled = m, m
		return err
	})
	s.at(s.day(-2, 11, 0), "move the sign-in maintenance", func(st *data.Store) error {
		return s.reschedule(st, editorEmail, signin, signinIn, s.day(5, 1, 30), s.day(5, 5, 0))
	})

	// Ahead, on the page only: no email, no reminder.
	s.at(s.day(-1, 10, 0), "schedule more PDF capacity", func(st *data.Store) error {
		_, err := s.schedule(st, adminEmail, data.NewMaintenance{TitleJA: "PDF生成サーバーの増強", TitleEN: "More capacity for PDF rendering",
			StartsAt: s.day(21, 1, 0), EndsAt: s.day(21, 6, 0), ReminderLead: -1,
			BodyJA:       "PDF生成サーバーを増強いたします。作業は無停止で行うため、サービスへの影響はございません。",
			BodyEN:       "We will add capacity to PDF rendering. The work needs no downtime and does not affect the service.",
			ComponentIDs: []int64{s.comp["renderer"]}})
		return err
	})
}

// schedule plans a window as an operator does from the console.
func (s *seeder) schedule(st *data.Store, who string, in data.NewMaintenance) (int64, error) {
	in.OperatorID = s.op[who]
	m, err := st.CreateMaintenance(s.ctx, in)
	if err != nil {
		return 0, err
	}
	s.f.Maintenances = append(s.f.Maintenances, m.ID)
	return m.ID, s.audit(st, who, "POST /admin/maintenance", "", map[string]any{"title_ja": in.TitleJA, "notify": in.Notice.Send})
}

func (s *seeder) reschedule(st *data.Store, who string, id int64, in data.NewMaintenance, starts, ends time.Time) error {
	if err := st.UpdateMaintenance(s.ctx, id, data.MaintenanceEdit{TitleJA: in.TitleJA, TitleEN: in.TitleEN, StartsAt: starts, EndsAt: ends,
		ReminderLead: in.ReminderLead, ComponentIDs: in.ComponentIDs}); err != nil {
		return err
	}
	return s.audit(st, who, "POST /admin/maintenance/:id", fmt.Sprintf("id=%d", id), map[string]any{"starts_at": starts, "ends_at": ends})
}

// step moves a window to a status with a message, emailing what that
// step emails.
func (s *seeder) step(st *data.Store, who string, id int64, status, ja, en string) error {
	if _, err := st.PostMaintenanceUpdate(s.ctx, id, data.NewMaintenanceUpdate{Status: status, BodyJA: ja, BodyEN: en,
		OperatorID: s.op[who], Notice: held}); err != nil {
		return err
	}
	return s.audit(st, who, "POST /admin/maintenance/:id/updates", fmt.Sprintf("id=%d", id), map[string]any{"status": status, "notify": true})
}

// upgrade is a version upgrade and when its notices go.
type upgrade struct {
	product, version                       string
	created                                time.Time
	starts, ends                           time.Time
	summaryJA, summaryEN, notesJA, notesEN string
	leads                                  []time.Duration
	// moveTo, when set, is the start it was moved to at moved (the window
	// keeps its length).
	moved, moveTo time.Time
	cancel        time.Time
}

// upgrades are announced a week and a day ahead (the big one two weeks
// too): one done, one ahead and moved once, one cancelled.
func (s *seeder) upgrades() {
	day := 24 * time.Hour
	for i, u := range []upgrade{
		{product: "calendar", version: "3.2.0", created: s.day(-25, 11, 0), starts: s.day(-10, 22, 0), ends: s.day(-10, 23, 30),
			summaryJA: "予定の繰り返し設定に「毎月第N曜日」を追加します。",
			summaryEN: "Adds “the Nth weekday of every month” to repeating events.",
			notesJA:   "### 主な変更点\n\n- 繰り返し設定に「毎月第N曜日」を追加\n- 会議室の予約画面で、空き状況を週単位で表示\n- 不具合の修正（終日予定が前日に表示される場合がある問題）\n\n作業中の約30分間、予定の登録・変更ができない場合がございます。",
			notesEN:   "### What changes\n\n- Repeating events can fall on the Nth weekday of every month\n- Room booking shows availability a week at a time\n- Fixed: all-day events could appear on the day before\n\nFor about 30 minutes during the upgrade you may be unable to add or change events.",
			leads:     data.DefaultLeadTimes},
		{product: "reports", version: "5.0.0", created: s.day(-9, 10, 0), starts: s.day(5, 21, 0), ends: s.day(5, 23, 0),
			moved: s.day(-4, 15, 0), moveTo: s.day(6, 21, 0),
			summaryJA: "PDFの生成エンジンを刷新し、帳票の出力が最大2倍速くなります。",
			summaryEN: "A new PDF engine renders your documents up to twice as fast.",
			notesJA:   "### 主な変更点\n\n- PDF生成エンジンの刷新（出力速度が最大2倍）\n- 帳票へのQRコードの埋め込みに対応\n- テンプレートの一括ダウンロード\n\n### ご注意\n\n- v3以前の形式のテンプレートは、初回の編集時に新しい形式へ自動で変換されます。\n- 作業中の約2時間、帳票の出力ができません。",
			notesEN:   "### What changes\n\n- A new PDF engine (up to twice as fast)\n- QR codes in documents\n- Download all your templates at once\n\n### Please note\n\n- Templates in the v3 format or older are converted the first time you edit them.\n- Documents cannot be produced for about two hours during the upgrade.",
			leads:     []time.Duration{14 * day, 7 * day, day}},
		{product: "connect", version: "2.4.0", created: s.day(-12, 14, 0), starts: s.day(3, 22, 0), ends: s.day(4, 0, 30), cancel: s.day(-2, 10, 0),
			summaryJA: "ストレージサービスとの連携で、フォルダー単位の同期に対応します。",
			summaryEN: "Storage connectors can sync whole folders.",
			notesJA:   "- フォルダー単位の同期\n- 同期の履歴を90日間保存",
			notesEN:   "- Sync whole folders\n- Sync history kept for 90 days",
			leads:     data.DefaultLeadTimes},
	} {
		var id int64
		in := data.UpgradeInput{Version: u.version, StartsAt: u.starts, EndsAt: u.ends, SummaryJA: u.summaryJA, SummaryEN: u.summaryEN,
			NotesJA: u.notesJA, NotesEN: u.notesEN, LeadTimes: u.leads}
		s.at(u.created, "upgrade "+u.product+" "+u.version, func(st *data.Store) error {
			in.ProductID = s.prod[u.product]
			made, err := st.CreateUpgrade(s.ctx, in)
			if err != nil {
				return err
			}
			id = made.ID
			s.f.Upgrades = append(s.f.Upgrades, id)
			switch i {
			case 0:
				s.f.PastUpgrade = id
			case 1:
				s.f.NextUpgrade = id
			case 2:
				s.f.CancelledUpgrade = id
			}
			return s.audit(st, adminEmail, "POST /admin/upgrades", "", map[string]any{"version": u.version})
		})
		starts := u.starts
		if !u.moved.IsZero() {
			s.at(u.moved, "move upgrade "+u.version, func(st *data.Store) error {
				moved := in
				moved.StartsAt, moved.EndsAt = u.moveTo, u.moveTo.Add(u.ends.Sub(u.starts))
				if err := st.UpdateUpgrade(s.ctx, id, moved, held); err != nil {
					return err
				}
				return s.audit(st, adminEmail, "POST /admin/upgrades/:id", fmt.Sprintf("id=%d", id), map[string]any{"starts_at": u.moveTo})
			})
		}
		for _, lead := range u.leads {
			due := starts.Add(-lead)
			if !u.moved.IsZero() && !due.Before(u.moved) {
				due = u.moveTo.Add(-lead)
			}
			if due.After(s.now) || (!u.cancel.IsZero() && due.After(u.cancel)) {
				continue // still ahead, or never: stays pending or is skipped
			}
			s.at(due, fmt.Sprintf("upgrade %s notice %s ahead", u.version, data.FormatLeads([]time.Duration{lead})), func(st *data.Store) error {
				up, err := st.Upgrade(s.ctx, id)
				if err != nil {
					return err
				}
				for _, n := range up.Notices {
					if n.Lead() == lead {
						_, err := st.SendUpgradeNotice(s.ctx, n.ID, true)
						return err
					}
				}
				return fmt.Errorf("no notice %s ahead", lead)
			})
		}
		if !u.cancel.IsZero() {
			s.at(u.cancel, "cancel upgrade "+u.version, func(st *data.Store) error {
				if err := st.CancelUpgrade(s.ctx, id, held); err != nil {
					return err
				}
				return s.audit(st, adminEmail, "POST /admin/upgrades/:id/cancel", fmt.Sprintf("id=%d", id), nil)
			})
		}
	}
}

// news is the vendor's announcements, one of them published later.
func (s *seeder) news() {
	for _, a := range []struct {
		product                          string
		written, publish                 time.Time
		titleJA, titleEN, bodyJA, bodyEN string
	}{
		{"connect", s.day(-60, 10, 0), s.day(-60, 10, 0), "ひだまりコネクト：チャットサービスとの連携に対応しました",
			"Hidamari Connect now works with chat services",
			"ひだまりコネクトが、主要なチャットサービスとの連携に対応いたしました。業務アプリのレコードが更新された際に、チャットのチャンネルへ通知できます。\n\n設定方法は、ヘルプセンターの「チャット連携の設定」をご覧ください。",
			"Hidamari Connect now works with the major chat services: when a record in your app changes, a message can go to a chat channel.\n\nSee “Setting up chat” in our help centre."},
		{"", s.day(-30, 10, 0), s.day(-30, 10, 0), "サポート窓口の受付時間を変更いたします", "New support desk hours",
			"来月より、サポート窓口のお電話での受付時間を、平日 9:00〜18:00 に変更いたします（従来は 10:00〜17:00）。メールでのお問い合わせは、引き続き24時間受け付けております。",
			"From next month our support desk answers the phone on weekdays from 9:00 to 18:00 JST (it was 10:00 to 17:00). Email is answered around the clock as before."},
		{"reports", s.day(-4, 11, 0), s.day(-4, 11, 0), "ひだまり帳票：テンプレートの一括ダウンロードに対応しました",
			"Hidamari Reports: download all your templates at once",
			"テンプレート編集画面から、すべてのテンプレートをまとめてダウンロードできるようになりました。バックアップや、別の環境への移行にご利用ください。",
			"You can now download every template at once from the template editor, for backups or to move them to another environment."},
		{"", s.day(-1, 15, 0), s.day(2, 10, 0), "セキュリティホワイトペーパー（第4版）を公開しました", "Security whitepaper, 4th edition",
			"セキュリティホワイトペーパーを改訂し、第4版を公開いたしました。アクセスログの保管期間（13か月）と、障害発生時のお知らせの方針を追記しております。\n\nホワイトペーパーは、ページ下部のリンクからご覧いただけます。",
			"We have revised our security whitepaper. The 4th edition adds how long we keep access logs (13 months) and how we tell you about incidents.\n\nYou will find it through the link at the foot of this page."},
	} {
		s.at(a.written, "announcement "+a.titleEN, func(st *data.Store) error {
			in := data.AnnouncementInput{TitleJA: a.titleJA, TitleEN: a.titleEN, BodyJA: a.bodyJA, BodyEN: a.bodyEN, PublishAt: a.publish}
			if id := s.prod[a.product]; id != 0 {
				in.ProductID = &id
			}
			made, err := st.CreateAnnouncement(s.ctx, in)
			if err != nil {
				return err
			}
			s.f.Announcements = append(s.f.Announcements, made.ID)
			if a.publish.After(s.now) {
				s.f.ScheduledAnnouncement = made.ID
			}
			return s.audit(st, editorEmail, "POST /admin/announcements", "", map[string]any{"title_ja": a.titleJA})
		})
	}
}
