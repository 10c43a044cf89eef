package demo

import (
	"errors"
	"fmt"
	"time"

	"github.com/oshirase/oshirase/data"
)

// update is one entry of an incident's timeline.
type update struct {
	at             time.Time
	status, ja, en string
	comps          map[string]string
	reopen         bool
}

// incident is one incident of the story and who handled it.
type incident struct {
	key, who                 string
	titleJA, titleEN, impact string
	notify                   bool
	// fromDraft names the component whose monitor's draft an operator
	// published as this incident.
	fromDraft string
	// written, when set, is when an operator wrote the incident up after
	// it had ended (a backfill).
	written time.Time
	updates []update
}

func (s *seeder) statuses(m map[string]string) map[int64]string {
	out := make(map[int64]string, len(m))
	for k, v := range m {
		out[s.comp[k]] = v
	}
	return out
}

// incidents are a year of them, of every impact, in every status: three
// open now, one published by an alert webhook, one reopened, one
// backfilled, one with a published postmortem.
func (s *seeder) incidents() {
	inc := map[string]int64{}
	for _, story := range s.incidentStories() {
		s.tell(story, inc)
	}

	// The CDN outage: declared before the monitor crossed its threshold,
	// so its draft is dismissed; the start corrected afterwards; a
	// postmortem published two days later.
	s.at(s.day(-3, 15, 26), "dismiss the CDN draft", func(st *data.Store) error {
		d, err := s.waitingDraft(st, "calendar-cdn", data.DraftOpen)
		if err != nil {
			return err
		}
		if err := st.CloseDraft(s.ctx, d.ID, data.DraftDismissed, nil); err != nil {
			return err
		}
		return s.audit(st, editorEmail, "draft.dismiss", fmt.Sprintf("draft=%d", d.ID), nil)
	})
	s.at(s.day(-3, 16, 10), "correct the CDN outage's start", func(st *data.Store) error {
		i, err := st.Incident(s.ctx, inc["cdn"])
		if err != nil {
			return err
		}
		if err := st.UpdateIncident(s.ctx, i.ID, data.IncidentEdit{TitleJA: i.TitleJA, TitleEN: i.TitleEN, Impact: i.Impact,
			StartedAt: s.day(-3, 14, 0), ResolvedAt: i.ResolvedAt}); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "POST /admin/incidents/:id", fmt.Sprintf("id=%d", i.ID), map[string]any{"started_at": s.day(-3, 14, 0)})
	})
	s.at(s.day(-1, 17, 0), "publish the CDN postmortem", func(st *data.Store) error {
		return s.postmortem(st, inc["cdn"], postmortemCDNJA, postmortemCDNEN, true)
	})
	s.at(s.day(-5, 11, 0), "draft the PDF postmortem", func(st *data.Store) error {
		return s.postmortem(st, inc["pdf"], postmortemPDFJA, postmortemPDFEN, false)
	})
	// The relay's incident was published by its alert: an operator gives
	// it a title customers understand and a first word of their own.
	s.at(s.ago(33*time.Minute), "retitle the automatic incident", func(st *data.Store) error {
		i, err := st.Incident(s.ctx, s.f.Automatic)
		if err != nil {
			return err
		}
		return st.UpdateIncident(s.ctx, i.ID, data.IncidentEdit{TitleJA: "ひだまりコネクトで外部サービスからの通知が遅れています",
			TitleEN: "Hidamari Connect is passing on notifications late", Impact: i.Impact, StartedAt: i.StartedAt})
	})
	s.at(s.ago(32*time.Minute), "first word on the automatic incident", func(st *data.Store) error {
		return s.post(st, editorEmail, s.f.Automatic, data.NewIncidentUpdate{Status: data.Investigating, At: s.ago(32 * time.Minute),
			BodyJA:     "外部サービスから業務アプリへの通知の一部が、遅れて届いております。通知が失われることはございません。現在、原因を調査しております。",
			BodyEN:     "Some notifications from other services reach your apps late. None are lost. We are looking into the cause.",
			Components: s.statuses(map[string]string{"relay": data.PartialOutage}), Notice: held})
	})
	s.at(s.now, "remember the named incidents", func(*data.Store) error {
		s.f.Critical, s.f.Postmortem, s.f.Reopened, s.f.Backfilled = inc["pdf-down"], inc["cdn"], inc["pdf"], inc["accounting"]
		s.f.LicenseAPI = s.comp["license"]
		return nil
	})
}

// tell queues an incident's timeline.
func (s *seeder) tell(story incident, ids map[string]int64) {
	first := story.updates[0]
	declareAt := first.at
	if !story.written.IsZero() {
		declareAt = story.written
	}
	notice := data.Notice{}
	if story.notify {
		notice = held
	}
	s.at(declareAt, "incident "+story.key, func(st *data.Store) error {
		// At is given even when it is now, so the timeline reads right on
		// a store whose clock Seed cannot move.
		in := data.NewIncident{TitleJA: story.titleJA, TitleEN: story.titleEN, Impact: story.impact, Status: first.status,
			BodyJA: first.ja, BodyEN: first.en, Components: s.statuses(first.comps), Notice: notice, StartedAt: first.at, At: first.at}
		var draft *data.IncidentDraft
		if story.fromDraft != "" {
			var err error
			if draft, err = s.waitingDraft(st, story.fromDraft, data.DraftOpen); err != nil {
				return err
			}
		}
		in.OperatorID = s.op[story.who]
		i, err := st.CreateIncident(s.ctx, in)
		if err != nil {
			return err
		}
		ids[story.key] = i.ID
		s.f.Incidents = append(s.f.Incidents, i.ID)
		if draft != nil {
			if err := st.CloseDraft(s.ctx, draft.ID, data.DraftPublished, &i.ID); err != nil {
				return err
			}
		}
		return s.audit(st, story.who, "POST /admin/incidents", "", map[string]any{"title_ja": in.TitleJA, "impact": in.Impact,
			"status": in.Status, "notify": story.notify})
	})
	for _, u := range story.updates[1:] {
		at := u.at
		if !story.written.IsZero() {
			at = story.written.Add(time.Minute)
		}
		s.at(at, "update of "+story.key, func(st *data.Store) error {
			in := data.NewIncidentUpdate{Status: u.status, BodyJA: u.ja, BodyEN: u.en, Components: s.statuses(u.comps),
				Notice: notice, Reopen: u.reopen, At: u.at}
			return s.post(st, story.who, ids[story.key], in)
		})
	}
}

// post adds an update as an operator does from the console.
func (s *seeder) post(st *data.Store, who string, id int64, in data.NewIncidentUpdate) error {
	in.OperatorID = s.op[who]
	if _, err := st.PostIncidentUpdate(s.ctx, id, in); err != nil {
		return err
	}
	return s.audit(st, who, "POST /admin/incidents/:id/updates", fmt.Sprintf("id=%d", id), map[string]any{"status": in.Status,
		"notify": in.Notice.Send, "reopen": in.Reopen})
}

func (s *seeder) postmortem(st *data.Store, id int64, ja, en string, publish bool) error {
	who := s.op[editorEmail]
	res, err := st.SavePostmortem(s.ctx, id, data.PostmortemInput{BodyJA: ja, BodyEN: en, Publish: publish, Notice: held, OperatorID: &who})
	if err != nil {
		return err
	}
	return s.audit(st, editorEmail, "incident.postmortem", fmt.Sprintf("incident=%d", id), map[string]any{"published": res.Published, "notified": res.Notified})
}

// waitingDraft is the draft a component's signal prepared and no one has
// acted on yet.
func (s *seeder) waitingDraft(st *data.Store, comp, kind string) (*data.IncidentDraft, error) {
	ds, err := st.IncidentDrafts(s.ctx, data.DraftWaiting, 100)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if ds[i].ComponentID == s.comp[comp] && ds[i].Kind == kind {
			return &ds[i], nil
		}
	}
	return nil, errors.New("no draft waits for " + comp + ": the monitor's story and the incident's disagree")
}

func (s *seeder) incidentStories() []incident {
	const (
		op = data.Operational
		dp = data.DegradedPerformance
		po = data.PartialOutage
		mo = data.MajorOutage
	)
	return []incident{
		{key: "license-old", who: editorEmail, titleJA: "ライセンス認証APIの応答遅延", titleEN: "Slow License API responses", impact: "minor", notify: true,
			updates: []update{
				{at: s.day(-110, 10, 20), status: data.Investigating, comps: map[string]string{"license": dp},
					ja: "10時05分頃から、ライセンス認証APIの応答が遅くなっており、ひだまりカレンダーの起動に時間がかかる場合がございます。現在、原因を調査しております。",
					en: "Since about 10:05 JST the License API has been answering slowly, so Hidamari Calendar may take longer to start. We are looking into the cause."},
				{at: s.day(-110, 10, 55), status: data.Resolved, comps: map[string]string{"license": op},
					ja: "認証サーバーのキャッシュを再構築し、10時50分に応答時間が通常の水準に戻りました。ご不便をおかけし、誠に申し訳ございませんでした。",
					en: "We rebuilt the authentication servers' cache, and response times were back to normal at 10:50 JST. We apologise for the inconvenience."},
			}},
		{key: "sync-old", who: adminEmail, titleJA: "外部カレンダー同期の停止", titleEN: "External calendar sync stopped", impact: "major", notify: true,
			updates: []update{
				{at: s.day(-48, 9, 15), status: data.Investigating, comps: map[string]string{"sync": po},
					ja: "9時頃から、Microsoft 365 との予定の同期が停止しております。Google カレンダーとの同期は正常に動作しております。現在、原因を調査しております。",
					en: "Since about 9:00 JST, events have stopped syncing with Microsoft 365. Syncing with Google Calendar works normally. We are looking into the cause."},
				{at: s.day(-48, 9, 50), status: data.Identified, comps: map[string]string{"sync": po},
					ja: "Microsoft 365 側の API の仕様変更により、認証に失敗していることがわかりました。修正版を準備しております。",
					en: "A change on Microsoft 365's side makes our sign-in to its API fail. We are preparing a fix."},
				{at: s.day(-48, 11, 30), status: data.Monitoring, comps: map[string]string{"sync": dp},
					ja: "修正版を適用し、同期を再開いたしました。停止中の変更は順次反映しており、すべての反映には1時間ほどかかる見込みです。",
					en: "The fix is in place and syncing has resumed. Changes made while it was stopped are catching up, which should take about an hour."},
				{at: s.day(-48, 12, 10), status: data.Resolved, comps: map[string]string{"sync": op},
					ja: "停止中の変更の反映が完了し、同期は正常に動作しております。ご不便をおかけし、誠に申し訳ございませんでした。",
					en: "Everything has caught up and syncing works normally. We apologise for the inconvenience."},
			}},
		{key: "portal-layout", who: editorEmail, titleJA: "契約者ポータルのお知らせ欄の表示崩れ", titleEN: "Layout glitch in the customer portal's news panel", impact: "none",
			updates: []update{
				{at: s.day(-20, 16, 40), status: data.Identified, comps: map[string]string{"portal": dp},
					ja: "契約者ポータルのお知らせ欄で、一部の文字が重なって表示されております。ご契約内容・請求書の確認には影響ございません。",
					en: "Some text overlaps in the customer portal's news panel. Your contract details and invoices are not affected."},
				{at: s.day(-20, 17, 25), status: data.Resolved, comps: map[string]string{"portal": op},
					ja: "表示を修正いたしました。", en: "The layout is fixed."},
			}},
		{key: "accounting", who: editorEmail, titleJA: "会計サービス連携で仕訳の同期が遅れていました", titleEN: "Accounting sync ran late", impact: "minor",
			written: s.day(-10, 16, 0),
			updates: []update{
				{at: s.day(-12, 9, 10), status: data.Identified, comps: map[string]string{"connectors": dp},
					ja: "9時10分頃から、会計サービスとの連携で、仕訳データの同期が最大40分ほど遅れておりました。会計サービス側のメンテナンスの影響によるものです。\n\n※この障害は、発生後に記録したものです。",
					en: "From about 9:10 JST, journal entries synced with the accounting service up to 40 minutes late, because of maintenance on the accounting service's side.\n\n*We recorded this incident after it had ended.*"},
				{at: s.day(-12, 10, 40), status: data.Resolved, comps: map[string]string{"connectors": op},
					ja: "10時40分に同期の遅れは解消し、遅れていたデータもすべて反映されております。",
					en: "The delay cleared at 10:40 JST and every delayed entry has been synced."},
			}},
		{key: "dedicated", who: editorEmail, titleJA: "専用環境でのPDF出力の遅延", titleEN: "Slow PDF rendering in the dedicated environment", impact: "minor", notify: true,
			updates: []update{
				{at: s.day(-15, 14, 10), status: data.Investigating, comps: map[string]string{"dedicated": dp},
					ja: "14時頃から、専用環境でPDFの出力に通常より時間がかかっております。現在、原因を調査しております。",
					en: "Since about 14:00 JST, PDFs take longer than usual to render in the dedicated environment. We are looking into the cause."},
				{at: s.day(-15, 15, 0), status: data.Resolved, comps: map[string]string{"dedicated": op},
					ja: "処理待ちの帳票が集中していたため、処理能力を増強いたしました。14時55分に通常の速度に戻っております。",
					en: "A queue of documents had built up; we added capacity, and rendering was back to its usual speed at 14:55 JST."},
			}},
		{key: "pdf", who: editorEmail, titleJA: "一部の帳票でPDFの出力に失敗する障害", titleEN: "Some documents failed to render as PDF", impact: "major", notify: true,
			updates: []update{
				{at: s.day(-6, 10, 5), status: data.Investigating, comps: map[string]string{"renderer": po},
					ja: "10時頃から、ひだまり帳票で一部の帳票のPDF出力に失敗する事象が発生しております。現在、原因を調査しております。",
					en: "Since about 10:00 JST, some Hidamari Reports documents fail to render as PDF. We are looking into the cause."},
				{at: s.day(-6, 10, 35), status: data.Identified, comps: map[string]string{"renderer": po},
					ja: "画像を多く含む帳票で、PDF生成サーバーのメモリが不足していることがわかりました。サーバーの増設を進めております。",
					en: "Documents with many images run the PDF servers out of memory. We are adding servers."},
				{at: s.day(-6, 11, 20), status: data.Resolved, comps: map[string]string{"renderer": op},
					ja: "サーバーを増設し、PDFの出力が正常に行えることを確認いたしました。失敗した帳票は、お手数ですが再度出力をお願いいたします。",
					en: "With the added servers, documents render normally again. Please run any document that failed once more."},
				{at: s.day(-6, 13, 40), status: data.Identified, comps: map[string]string{"renderer": po}, reopen: true,
					ja: "13時30分頃から、同じ事象が再び発生しております。増設したサーバーにも同様の負荷がかかっていることを確認しており、対応を進めております。",
					en: "The same failures started again at about 13:30 JST. The added servers are under the same load, and we are working on it."},
				{at: s.day(-6, 14, 30), status: data.Monitoring, comps: map[string]string{"renderer": dp},
					ja: "画像の処理方法を変更する修正を適用いたしました。現在、経過を観察しております。",
					en: "We have changed how images are processed. We are watching the results."},
				{at: s.day(-6, 16, 0), status: data.Resolved, comps: map[string]string{"renderer": op},
					ja: "修正の適用後、PDFの出力は安定しております。これをもちまして、本障害は復旧いたしました。ご迷惑をおかけし、誠に申し訳ございませんでした。",
					en: "Rendering has been stable since the fix. This incident is resolved. We apologise for the trouble it caused."},
			}},
		{key: "cdn", who: adminEmail, titleJA: "ひだまりカレンダー・ひだまり帳票が表示されない障害", titleEN: "Hidamari Calendar and Hidamari Reports failed to load",
			impact: "critical", notify: true,
			updates: []update{
				{at: s.day(-3, 14, 5), status: data.Investigating, comps: map[string]string{"calendar-cdn": mo, "reports-cdn": mo},
					ja: "14時頃から、ひだまりカレンダー・ひだまり帳票のプラグインが表示されない状態となっております。プラグインを配信しているCDNで障害が発生しているものとみて、調査しております。",
					en: "Since about 14:00 JST, the Hidamari Calendar and Hidamari Reports plugins do not load. The network that serves their files appears to be failing, and we are looking into it."},
				{at: s.day(-3, 14, 25), status: data.Identified, comps: map[string]string{"calendar-cdn": mo, "reports-cdn": mo},
					ja: "CDN事業者の東京リージョンで障害が発生していることを確認いたしました。予備のCDNへの切り替えを準備しております。",
					en: "Our CDN provider confirms an outage in its Tokyo region. We are preparing to switch to our standby CDN."},
				{at: s.day(-3, 14, 55), status: data.Monitoring, comps: map[string]string{"calendar-cdn": dp, "reports-cdn": dp},
					ja: "予備のCDNへの切り替えを完了し、プラグインが表示されることを確認いたしました。一部の地域では、表示に時間がかかる場合がございます。引き続き経過を観察しております。",
					en: "We have switched to the standby CDN and the plugins load again. In some regions they may be slow to appear. We are watching closely."},
				{at: s.day(-3, 15, 40), status: data.Resolved, comps: map[string]string{"calendar-cdn": op, "reports-cdn": op},
					ja: "CDN事業者の障害が復旧したことを確認し、通常の配信に戻しました。ご迷惑をおかけし、誠に申し訳ございませんでした。原因と再発防止策は、後日あらためてご報告いたします。",
					en: "Our CDN provider has recovered and delivery is back to normal. We apologise for the disruption. We will report on the cause and on what we are changing."},
			}},
		{key: "license", who: editorEmail, fromDraft: "license", titleJA: "ライセンス認証に時間がかかる場合があります", titleEN: "License checks may be slow",
			impact: "minor", notify: true,
			updates: []update{
				{at: s.ago(4*time.Hour + 55*time.Minute), status: data.Investigating, comps: map[string]string{"license": dp},
					ja: "本日、ライセンス認証APIの応答が遅くなっており、ひだまりカレンダーの起動に時間がかかる場合がございます。現在、原因を調査しております。",
					en: "The License API is answering slowly today, so Hidamari Calendar may take longer to start. We are looking into the cause."},
				{at: s.ago(4*time.Hour + 20*time.Minute), status: data.Identified, comps: map[string]string{"license": dp},
					ja: "認証データベースへの接続が集中していることがわかりました。接続数の上限を引き上げる対応を行っております。",
					en: "Connections to the license database are piling up. We are raising its connection limit."},
				{at: s.ago(2*time.Hour + 30*time.Minute), status: data.Monitoring, comps: map[string]string{"license": op},
					ja: "対応が完了し、応答時間は通常の水準に戻っております。念のため、引き続き経過を観察しております。",
					en: "The change is in place and response times are back to normal. We are keeping an eye on it."},
			}},
		{key: "sync", who: adminEmail, titleJA: "外部カレンダー同期が遅れています", titleEN: "External calendar sync is running late", impact: "major", notify: true,
			updates: []update{
				{at: s.ago(2 * time.Hour), status: data.Investigating, comps: map[string]string{"sync": po},
					ja: "Google カレンダーとの予定の同期が、最大30分ほど遅れております。Microsoft 365 との同期は正常に動作しております。現在、原因を調査しております。",
					en: "Events sync with Google Calendar up to 30 minutes late. Syncing with Microsoft 365 works normally. We are looking into the cause."},
				{at: s.ago(75 * time.Minute), status: data.Identified, comps: map[string]string{"sync": po},
					ja: "Google 側の API の利用上限に達していることがわかりました。上限の引き上げを申請するとともに、同期の間隔を調整しております。",
					en: "We have reached Google's API quota. We have asked for a higher one and are spacing out our sync meanwhile."},
			}},
		{key: "pdf-down", who: adminEmail, fromDraft: "renderer", titleJA: "ひだまり帳票でPDFを出力できない状態です", titleEN: "Hidamari Reports cannot produce PDFs",
			impact: "critical", notify: true,
			updates: []update{
				{at: s.ago(25 * time.Minute), status: data.Investigating, comps: map[string]string{"renderer": mo, "editor": po},
					ja: "現在、ひだまり帳票でPDFを出力できない状態となっております。テンプレート編集画面のプレビューも表示されません。原因を調査しております。\n\nご不便をおかけし、誠に申し訳ございません。",
					en: "Hidamari Reports cannot produce PDFs at the moment, and the template editor's preview does not show. We are looking into the cause.\n\nWe apologise for the inconvenience."},
				{at: s.ago(10 * time.Minute), status: data.Identified, comps: map[string]string{"renderer": mo, "editor": po},
					ja: "PDF生成サーバーが接続を受け付けない状態になっていることを確認いたしました。サーバーの再起動と予備系への切り替えを進めております。30分後を目処に、あらためてお知らせいたします。",
					en: "The PDF servers are refusing connections. We are restarting them and moving the work to standby servers. We will update you within 30 minutes."},
			}},
	}
}

const postmortemCDNJA = `## 概要

CDN事業者の東京リージョンで発生した障害により、14時00分から14時55分までの約55分間、ひだまりカレンダー・ひだまり帳票のプラグインが表示されない状態となりました。予備のCDNに切り替えた後も、15時40分まで一部の地域で表示に時間がかかる状態が続きました。

## 影響

- ひだまりカレンダー・ひだまり帳票をご利用のすべてのお客様で、プラグインが表示されませんでした。
- 業務アプリに保存されたデータへの影響はございません。

## 原因

プラグインのファイルを単一のCDN事業者から配信していたため、事業者側の障害がそのままお客様の画面に影響しました。また、予備のCDNへの切り替えが手作業であったため、判断と作業に時間を要しました。

## 再発防止策

1. 2つのCDN事業者から同時に配信し、片方に障害が起きた場合は自動で切り替わるようにいたします。
2. 切り替え手順を見直し、判断から完了までを10分以内に短縮いたします。
3. CDNの監視を1分間隔に強化いたしました（実施済み）。

このたびはご迷惑をおかけし、誠に申し訳ございませんでした。`

const postmortemCDNEN = `## Summary

An outage in our CDN provider's Tokyo region kept the Hidamari Calendar and Hidamari Reports plugins from loading for about 55 minutes, from 14:00 to 14:55 JST. After we switched to our standby CDN, the plugins were slow to load in some regions until 15:40 JST.

## Impact

- The plugins did not load for any Hidamari Calendar or Hidamari Reports customer.
- No data stored in your business apps was affected.

## Cause

We served the plugin files from a single CDN provider, so its outage reached your screens directly. Switching to the standby CDN was a manual step, and deciding on it and carrying it out took time.

## What we are changing

1. We will serve the files from two CDN providers at once and switch automatically when one fails.
2. We have rewritten the switch-over procedure so that it takes under ten minutes from decision to completion.
3. We now check the CDN every minute (done).

We apologise for the disruption.`

const postmortemPDFJA = `## 概要（下書き）

画像を多く含む帳票の処理でPDF生成サーバーのメモリが不足し、10時00分から11時20分まで、および13時30分から16時00分まで、一部の帳票の出力に失敗しました。

## 原因

（調査中）画像の展開処理が、帳票1件ごとにすべての画像をメモリに読み込む実装となっていました。`

const postmortemPDFEN = `## Summary (draft)

Documents with many images ran the PDF servers out of memory, so some documents failed to render from 10:00 to 11:20 JST and again from 13:30 to 16:00 JST.

## Cause

(Under investigation) Each document loaded all of its images into memory at once.`
