package demo

import (
	"fmt"
	"strconv"
	"time"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/password"
)

// The vendor's operators.
const (
	adminEmail  = "takahashi@hidamari-soft.example"
	editorEmail = "suzuki@hidamari-soft.example"
	formerEmail = "tanaka@hidamari-soft.example"
	inviteEmail = "kobayashi@hidamari-soft.example"
)

type product struct {
	key                            string
	nameJA, nameEN, descJA, descEN string
	collapsed                      bool
	components                     []component
}

type component struct {
	key                            string
	nameJA, nameEN, descJA, descEN string
}

// catalogue is what the vendor sells and runs: four products, each with
// the parts customers notice when they fail.
var catalogue = []product{
	{key: "calendar", nameJA: "ひだまりカレンダー", nameEN: "Hidamari Calendar",
		descJA: "お客様の業務アプリ上で、チームの予定共有と会議室・備品の予約ができるプラグインです。",
		descEN: "A plugin for shared team calendars and room and equipment booking, inside your business apps.",
		components: []component{
			{"calendar-cdn", "プラグイン配信（CDN）", "Plugin delivery (CDN)",
				"プラグインのプログラムファイルを配信しています。停止すると、画面にプラグインが表示されません。",
				"Serves the plugin's files. While it is down, the plugin does not appear on screen."},
			{"license", "ライセンス認証API", "License API",
				"ご契約の状態を確認しています。応答が遅れると、プラグインの起動に時間がかかります。",
				"Checks your license. While it is slow, the plugin takes longer to start."},
			{"sync", "外部カレンダー同期", "External calendar sync",
				"Google カレンダー・Microsoft 365 との予定の同期です。",
				"Keeps events in step with Google Calendar and Microsoft 365."},
		}},
	{key: "reports", nameJA: "ひだまり帳票", nameEN: "Hidamari Reports",
		descJA: "業務アプリのデータから、見積書・請求書などのPDFを作成するプラグインです。",
		descEN: "A plugin that turns your records into PDF quotes, invoices and other documents.",
		components: []component{
			{"renderer", "PDF生成サーバー", "PDF rendering",
				"帳票のPDFを作成しています。停止すると、帳票を出力できません。",
				"Renders your documents as PDF. While it is down, no document can be produced."},
			{"reports-cdn", "プラグイン配信（CDN）", "Plugin delivery (CDN)",
				"プラグインのプログラムファイルを配信しています。",
				"Serves the plugin's files."},
			{"editor", "テンプレート編集画面", "Template editor",
				"帳票のレイアウトを作成・編集する画面です。",
				"Where you design the layout of your documents."},
			{"dedicated", "専用環境（契約ユーザー向け）", "Dedicated environment (contract customers)",
				"ご契約のお客様専用のPDF生成環境です。状態は、ご契約のお客様にのみ顧客ポータルでお知らせします。",
				"The PDF rendering environment dedicated to your contract. Its status is shown only to contract customers, in the customer portal."},
		}},
	{key: "connect", nameJA: "ひだまりコネクト", nameEN: "Hidamari Connect", collapsed: true,
		descJA: "業務アプリと会計・チャット・ストレージなどの外部サービスをつなぐ連携プラグインです。",
		descEN: "Connects your business apps with accounting, chat, storage and other services.",
		components: []component{
			{"relay", "Webhook中継", "Webhook relay",
				"外部サービスからの通知を受け取り、業務アプリへ届けています。",
				"Receives notifications from other services and passes them on to your apps."},
			{"connectors", "外部サービス連携", "Service connectors",
				"会計・チャット・ストレージの各サービスとデータをやり取りしています。",
				"Exchanges data with accounting, chat and storage services."},
		}},
	{key: "platform", nameJA: "共通基盤", nameEN: "Shared services", collapsed: true,
		descJA: "すべての製品で共通して利用している仕組みです。",
		descEN: "Used by every product.",
		components: []component{
			{"signin", "アカウント・ログイン", "Accounts and sign-in",
				"製品の管理者アカウントとログインです。",
				"Administrator accounts and sign-in for every product."},
			{"portal", "契約者ポータル", "Customer portal",
				"ご契約内容の確認、請求書のダウンロード、利用者の管理ができます。",
				"Where you see your contract, download invoices and manage your users."},
			{"support", "サポート窓口", "Support desk",
				"メール・お電話でのお問い合わせ窓口です（平日 9:00〜18:00）。",
				"Our support desk by email and phone (weekdays 9:00–18:00 JST)."},
		}},
}

// contractOnly are the components shown only to the contracts using
// their product (Component.ContractOnly), never on the public page.
var contractOnly = map[string]bool{"dedicated": true}

// company is the vendor itself: its operators, its page's branding, its
// products and components, its incident templates and its API tokens.
func (s *seeder) company() {
	start := s.day(-400, 10, 0)
	s.at(start, "operators", func(st *data.Store) error {
		hash, err := password.Hash(s.opts.Password)
		if err != nil {
			return err
		}
		s.pwHash = hash
		admin, err := st.CreateOperator(s.ctx, data.NewOperator{Email: adminEmail, Name: "高橋 誠", Role: data.RoleAdmin, PasswordHash: hash})
		if err != nil {
			return err
		}
		s.op[adminEmail], s.f.Admin, s.f.AdminEmail, s.f.EditorEmail = admin.ID, admin.ID, adminEmail, editorEmail
		return nil
	})
	s.at(start.Add(5*time.Minute), "branding", func(st *data.Store) error {
		return st.SaveBranding(s.ctx, data.BrandingInput{TitleJA: "ひだまりソフト 障害・メンテナンス情報", TitleEN: "Hidamari Soft Status",
			CompanyJA: "株式会社ひだまりソフト", CompanyEN: "Hidamari Soft Inc.", Logo: logoPNG(), Accent: "#a34a06",
			FooterLinks: []data.FooterLink{
				{LabelJA: "会社概要", LabelEN: "About us", URL: "https://www.hidamari-soft.example/company"},
				{LabelJA: "セキュリティホワイトペーパー", LabelEN: "Security whitepaper", URL: "https://www.hidamari-soft.example/security/whitepaper"},
				{LabelJA: "プライバシーポリシー", LabelEN: "Privacy policy", URL: "https://www.hidamari-soft.example/privacy"},
				{LabelJA: "お問い合わせ", LabelEN: "Contact us", URL: "mailto:support@hidamari-soft.example"},
			}})
	})
	for i, p := range catalogue {
		at := start.Add(time.Duration(10+i) * time.Minute)
		if p.key == "connect" {
			at = s.day(-320, 11, 0) // launched later
		}
		s.at(at, "product "+p.key, func(st *data.Store) error {
			pr, err := st.CreateProduct(s.ctx, data.ProductInput{NameJA: p.nameJA, NameEN: p.nameEN, DescriptionJA: p.descJA,
				DescriptionEN: p.descEN, Collapsed: p.collapsed})
			if err != nil {
				return err
			}
			s.prod[p.key] = pr.ID
			s.f.Products = append(s.f.Products, pr.ID)
			if p.key == "connect" {
				// Shown beside the other plugins, above the shared services.
				if err := st.MoveProduct(s.ctx, pr.ID, -1); err != nil {
					return err
				}
			}
			for _, c := range p.components {
				cp, err := st.CreateComponent(s.ctx, data.ComponentInput{ProductID: pr.ID, NameJA: c.nameJA, NameEN: c.nameEN,
					DescriptionJA: c.descJA, DescriptionEN: c.descEN, ContractOnly: contractOnly[c.key]})
				if err != nil {
					return fmt.Errorf("component %s: %w", c.key, err)
				}
				s.comp[c.key] = cp.ID
				s.f.Components = append(s.f.Components, cp.ID)
			}
			return nil
		})
	}
	// The editor joined by invitation; a former colleague's account is
	// disabled; a new hire's invitation waits.
	var inviteHash string
	s.at(s.day(-380, 10, 0), "invite the editor", func(st *data.Store) error {
		_, h := secret("")
		inviteHash = h
		if _, err := st.CreateInvitation(s.ctx, h, editorEmail, data.RoleEditor, "ja", s.op[adminEmail], 72*time.Hour); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "operator.invite", "email="+editorEmail, map[string]any{"role": data.RoleEditor})
	})
	s.at(s.day(-379, 9, 30), "the editor joins", func(st *data.Store) error {
		op, err := st.AcceptInvitation(s.ctx, inviteHash, "鈴木 美咲", s.pwHash, "")
		if err != nil {
			return err
		}
		s.op[editorEmail], s.f.Editor = op.ID, op.ID
		return s.audit(st, editorEmail, "operator.accept_invitation", "email="+editorEmail, map[string]any{"role": op.Role})
	})
	s.at(s.day(-300, 10, 0), "a second editor", func(st *data.Store) error {
		op, err := st.CreateOperator(s.ctx, data.NewOperator{Email: formerEmail, Name: "田中 健", Role: data.RoleEditor, PasswordHash: s.pwHash,
			// He read the console and his alerts in English.
			Lang: "en"})
		if err != nil {
			return err
		}
		s.op[formerEmail], s.f.Former = op.ID, op.ID
		// He signed in through the company's Entra ID: his account there
		// is tied to him, and stays shut out once he is disabled here.
		return st.TieOperatorSSO(s.ctx, op.ID, "https://login.microsoftonline.com/4f1c2b7e-9a3d-4e52-8b61-0d7e3a9c5f24/v2.0", "AAAAAAAAAAAAAAAAAAAAAJ3kq8Hn2V0dY1mZ4oTq")
	})
	s.at(s.day(-30, 17, 30), "disable the editor who left", func(st *data.Store) error {
		if err := st.SetOperatorDisabled(s.ctx, s.f.Former, true); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "operator.disabled", "operator="+formerEmail, map[string][2]any{"disabled": {false, true}})
	})
	s.at(s.day(-1, 16, 0), "invite a new hire", func(st *data.Store) error {
		raw, h := secret("")
		s.f.InviteToken = raw
		if _, err := st.CreateInvitation(s.ctx, h, inviteEmail, data.RoleEditor, "ja", s.op[adminEmail], 72*time.Hour); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "operator.invite", "email="+inviteEmail, map[string]any{"role": data.RoleEditor})
	})
	// Sign-ins within the last two hours (older ones would be idle, signed
	// out): the editor on the office PC and on a phone (used since from
	// another network), the admin with the authenticator app.
	for _, l := range []struct {
		who, method, ua, ip, lastIP string
		at                          time.Time
	}{
		{editorEmail, "password", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			"203.0.113.24", "203.0.113.24", s.ago(70 * time.Minute)},
		{editorEmail, "password", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
			"198.51.100.61", "192.0.2.201", s.ago(25 * time.Minute)},
		{adminEmail, "password+totp", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
			"203.0.113.24", "203.0.113.24", s.ago(50 * time.Minute)},
	} {
		s.at(l.at, "sign-in of "+l.who, func(st *data.Store) error {
			_, id := secret("")
			if err := st.CreateSession(s.ctx, id, s.op[l.who], 12*time.Hour, false); err != nil {
				return err
			}
			if err := st.SetSessionClient(s.ctx, id, data.ClientInfo{UserAgent: l.ua, IP: l.ip}, l.method); err != nil {
				return err
			}
			if l.lastIP != l.ip {
				if err := st.SessionSeenFrom(s.ctx, id, l.lastIP); err != nil {
					return err
				}
			}
			return s.audit(st, l.who, "login", "", map[string]any{"method": l.method})
		})
	}

	s.templates()
	s.tokens()
}

// templates are prepared declarations for the incidents that recur.
func (s *seeder) templates() {
	type tpl struct {
		name, product                    string
		titleJA, titleEN, bodyJA, bodyEN string
		impact, status                   string
		comps                            map[string]string
	}
	for i, t := range []tpl{
		{"CDN障害（初報）", "calendar", "ひだまりカレンダーが表示されない状態が発生しています", "Hidamari Calendar does not load",
			"現在、プラグイン配信用のCDNで障害が発生しており、ひだまりカレンダーが表示されない状態となっております。\n\n原因を調査しております。ご不便をおかけし、誠に申し訳ございません。",
			"The network that serves our plugin files is failing, so Hidamari Calendar does not load.\n\nWe are looking into the cause. We apologise for the inconvenience.",
			"critical", data.Investigating, map[string]string{"calendar-cdn": data.MajorOutage}},
		{"ライセンス認証の遅延", "calendar", "プラグインの起動に時間がかかる場合があります", "The plugin may be slow to start",
			"ライセンス認証APIの応答が遅くなっており、プラグインの起動に時間がかかる場合がございます。\n\n引き続き調査しております。",
			"The License API is answering slowly, so the plugin may take longer to start.\n\nWe are looking into it.",
			"minor", data.Investigating, map[string]string{"license": data.DegradedPerformance}},
		{"帳票出力エラー（原因特定）", "reports", "帳票のPDF出力に失敗する場合があります", "Some PDF documents fail to render",
			"PDF生成サーバーの不具合により、帳票の出力に失敗する場合がございます。原因を特定し、対応を進めております。",
			"A fault in our PDF rendering makes some documents fail. We have found the cause and are fixing it.",
			"major", data.Identified, map[string]string{"renderer": data.PartialOutage}},
		{"全製品共通：調査中の初報", "", "一部のサービスがご利用いただけない状態です", "Some services are unavailable",
			"現在、一部のサービスがご利用いただけない状態となっております。影響範囲と原因を調査しております。\n\n詳細がわかり次第、お知らせいたします。",
			"Some of our services are unavailable. We are working out what is affected and why.\n\nWe will update this page as soon as we know more.",
			"major", data.Investigating, map[string]string{"signin": data.PartialOutage}},
	} {
		s.at(s.day(-200, 14, i*5), "template "+t.name, func(st *data.Store) error {
			comps := map[int64]string{}
			for k, v := range t.comps {
				comps[s.comp[k]] = v
			}
			in, err := st.CreateTemplate(s.ctx, data.TemplateInput{Name: t.name, ProductID: s.prod[t.product], TitleJA: t.titleJA, TitleEN: t.titleEN,
				BodyJA: t.bodyJA, BodyEN: t.bodyEN, Impact: t.impact, Status: t.status, Components: comps})
			if err != nil {
				return err
			}
			s.f.Templates = append(s.f.Templates, in.ID)
			return s.audit(st, editorEmail, "template.save", "template="+strconv.FormatInt(in.ID, 10), map[string]any{"name": t.name, "impact": t.impact})
		})
	}
}

// tokens are the operator API's: the monitoring server's (used minutes
// ago), a dashboard's that never expires, and one revoked long ago.
func (s *seeder) tokens() {
	for _, t := range []struct {
		name, scope, lifetime string
		at                    time.Time
		revoke                time.Time
		use                   bool
	}{
		{"Zabbix 監視サーバー", data.ScopeWrite, "365d", s.day(-60, 15, 0), time.Time{}, true},
		{"社内ダッシュボード（読み取り専用）", data.ScopeRead, "never", s.day(-45, 11, 0), time.Time{}, false},
		{"旧 Nagios 連携", data.ScopeWrite, "90d", s.day(-150, 10, 0), s.day(-70, 10, 0), false},
	} {
		raw, hash := secret("osh_")
		var id int64
		s.at(t.at, "token "+t.name, func(st *data.Store) error {
			tok, err := st.CreateAPIToken(s.ctx, t.name, hash, t.scope, t.lifetime, s.op[adminEmail])
			if err != nil {
				return err
			}
			id = tok.ID
			if t.use {
				s.f.APIToken = raw
			}
			return s.audit(st, adminEmail, "token.create", "token="+t.name, map[string]any{"scope": t.scope})
		})
		if !t.revoke.IsZero() {
			s.at(t.revoke, "revoke "+t.name, func(st *data.Store) error {
				if err := st.RevokeAPIToken(s.ctx, id); err != nil {
					return err
				}
				return s.audit(st, adminEmail, "token.revoke", "token="+t.name, nil)
			})
		}
		if t.use {
			s.at(s.ago(4*time.Minute), "the monitoring server calls the API", func(st *data.Store) error {
				_, err := st.UseAPIToken(s.ctx, hash)
				return err
			})
		}
	}
}

// automation is what each component does with its signals and shows of
// its checks, and a status an operator set by hand.
func (s *seeder) automation() {
	for _, a := range []struct {
		key string
		a   data.Automation
	}{
		{"license", data.Automation{ShowUptime: true, ShowLatency: true, HookKey: "license-api"}},
		{"calendar-cdn", data.Automation{ShowUptime: true, HookKey: "calendar-cdn"}},
		{"renderer", data.Automation{ShowUptime: true, ShowLatency: true, HookKey: "pdf-renderer"}},
		{"reports-cdn", data.Automation{ShowLatency: true, HookKey: "reports-cdn"}},
		// The relay's alerts are trusted: they publish an incident (and
		// email) at once, without waiting for an operator.
		{"relay", data.Automation{AutoPublish: true, AutoImpact: "major", AutoNotify: true, HookKey: "webhook-relay"}},
		{"connectors", data.Automation{HookKey: "connectors"}},
		{"signin", data.Automation{ShowUptime: true, HookKey: "signin"}},
		{"portal", data.Automation{HookKey: "customer-portal"}},
	} {
		s.at(s.day(-100, 15, 0), "automation of "+a.key, func(st *data.Store) error {
			if err := st.SetAutomation(s.ctx, s.comp[a.key], a.a); err != nil {
				return err
			}
			return s.audit(st, adminEmail, "component.automation", "component="+strconv.FormatInt(s.comp[a.key], 10), a.a)
		})
	}
	// The support desk is busy: no incident, a status set by hand.
	s.at(s.ago(3*time.Hour), "support desk busy", func(st *data.Store) error {
		if err := st.SetComponentStatus(s.ctx, s.comp["support"], data.DegradedPerformance); err != nil {
			return err
		}
		return s.audit(st, editorEmail, "component.status", "component="+strconv.FormatInt(s.comp["support"], 10),
			map[string][2]any{"Status": {data.Operational, data.DegradedPerformance}})
	})
}
