package demo

import (
	"strconv"
	"time"

	"github.com/oshirase/oshirase/data"
)

type contact struct {
	name, email, lang, role string
}

// contracts are the vendor's customers: Japanese companies and a
// foreign-owned one, primary contacts registered at signing and
// additional ones added later, reading Japanese or English; one address
// (an outsourced IT firm's) on two contracts; one contract ended.
var contracts = []struct {
	code, name string
	products   []string
	signed     int // days from today
	ended      int // days from today; 0: active
	contacts   []contact
}{
	{"HS-2024-0108", "楓商事株式会社", []string{"calendar", "reports"}, -390, 0, []contact{
		{"山田 花子", "yamada.hanako@kaede-shoji.example", "ja", data.RolePrimary},
		{"佐藤 一郎（情報システム部）", "it-support@kaede-shoji.example", "ja", data.RoleAdditional},
		{"Emily Carter", "e.carter@kaede-shoji.example", "en", data.RoleAdditional},
	}},
	{"HS-2024-0215", "みなと物流株式会社", []string{"connect", "reports", "platform"}, -300, 0, []contact{
		{"伊藤 大輔", "ito.daisuke@minato-logistics.example", "ja", data.RolePrimary},
		{"Raj Patel", "raj.patel@minato-logistics.example", "en", data.RoleAdditional},
		{"木村 亮（株式会社ネクストシステム）", "kimura@next-system.example", "ja", data.RoleAdditional},
	}},
	{"HS-2025-0037", "Blue Harbor Trading K.K.", []string{"calendar", "connect", "platform"}, -200, 0, []contact{
		{"James Miller", "j.miller@blueharbor.example", "en", data.RolePrimary},
		{"中村 由美", "y.nakamura@blueharbor.example", "ja", data.RoleAdditional},
		{"木村 亮（株式会社ネクストシステム）", "kimura@next-system.example", "ja", data.RoleAdditional},
	}},
	{"HS-2023-0042", "さくら精機株式会社", []string{"calendar"}, -395, -60, []contact{
		{"小林 修", "kobayashi.osamu@sakura-seiki.example", "ja", data.RolePrimary},
	}},
	{"HS-2026-0003", "北斗システム開発株式会社", []string{"reports", "calendar"}, -20, 0, []contact{
		{"渡辺 さくら", "watanabe@hokuto-sys.example", "ja", data.RolePrimary},
		{"Chen Wei", "chen.wei@hokuto-sys.example", "en", data.RoleAdditional},
	}},
}

// customers are the contracts, the choices some addresses made for
// themselves, the public subscribers, the webhook, Slack and Teams
// channels, and the alert webhooks of the vendor's own monitoring.
func (s *seeder) customers() {
	for _, c := range contracts {
		s.at(s.day(c.signed, 11, 0), "contract "+c.code, func(st *data.Store) error {
			ids := s.productIDs(c.products...)
			k, err := st.CreateContract(s.ctx, data.ContractInput{Code: c.code, Name: c.name, Active: true, ProductIDs: ids})
			if err != nil {
				return err
			}
			s.contract[c.code] = k.ID
			s.f.Contracts = append(s.f.Contracts, k.ID)
			for _, ct := range c.contacts {
				added, err := st.AddContact(s.ctx, k.ID, data.ContactInput{Name: ct.name, Email: ct.email, Lang: ct.lang, Role: ct.role})
				if err != nil {
					return err
				}
				s.f.Contacts = append(s.f.Contacts, added.ID)
			}
			return nil
		})
		if c.ended != 0 {
			s.at(s.day(c.ended, 10, 0), "end contract "+c.code, func(st *data.Store) error {
				err := st.UpdateContract(s.ctx, s.contract[c.code], data.ContractInput{Code: c.code, Name: c.name, Active: false,
					ProductIDs: s.productIDs(c.products...)})
				if err != nil {
					return err
				}
				return s.audit(st, editorEmail, "contract.update", "contract="+c.code, map[string][2]any{"active": {true, false}})
			})
		}
	}
	// Choices addresses made from their preferences link, and one an
	// operator made on a customer's behalf.
	for _, p := range []struct {
		email, lang string
		optOut      bool
		by          string
		at          int
	}{
		{"y.nakamura@blueharbor.example", "en", false, data.ChosenByPerson, -150},
		{"chen.wei@hokuto-sys.example", "", true, data.ChosenByPerson, -8},
		{"it-support@kaede-shoji.example", "ja", false, data.ChosenByOperator, -90},
	} {
		s.at(s.day(p.at, 13, 0), "choices of "+p.email, func(st *data.Store) error {
			return st.SetChoices(s.ctx, p.email, p.lang, p.optOut, p.by)
		})
	}
	// In the customer portal: みなと物流's primary contact added a colleague
	// three days ago, who has not confirmed yet; 北斗システム開発 keeps the
	// portal closed.
	s.at(s.day(-3, 15, 0), "portal contacts", func(st *data.Store) error {
		added, err := st.AddPortalContact(s.ctx, s.contract["HS-2024-0215"], "ito.daisuke@minato-logistics.example",
			data.ContactInput{Name: "佐々木 美咲", Email: "sasaki.misaki@minato-logistics.example", Lang: "ja"}, true)
		if err != nil {
			return err
		}
		s.f.Contacts = append(s.f.Contacts, added.ID)
		return s.audit(st, "", "portal.contact_add", "contact=ito.daisuke@minato-logistics.example",
			map[string]any{"contract": "HS-2024-0215", "added": added.Email, "lang": added.Lang})
	})
	s.at(s.day(-2, 11, 0), "portal closed", func(st *data.Store) error {
		if err := st.SetContractPortal(s.ctx, s.contract["HS-2026-0003"], false); err != nil {
			return err
		}
		return s.audit(st, adminEmail, "contract.portal", "contract=HS-2026-0003", map[string]any{"open": false})
	})
	s.subscribers()
	s.channels()
	s.integrations()
}

func (s *seeder) productIDs(keys ...string) []int64 {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = s.prod[k]
	}
	return ids
}

// subscribers are members of the public who asked for email: two
// confirmed (all products; two products, in English), one who has not
// clicked the link yet.
func (s *seeder) subscribers() {
	for _, sub := range []struct {
		email, lang string
		products    []string
		at          time.Time
		confirm     time.Duration
	}{
		{"ops-watch@tsubame-design.example", "ja", nil, s.day(-70, 20, 15), 12 * time.Minute},
		{"status@northwind-apps.example", "en", []string{"reports", "connect"}, s.day(-45, 9, 40), 3 * time.Hour},
		{"mori.hiroshi@fujimi-kogyo.example", "ja", []string{"calendar"}, s.ago(5 * time.Hour), 0},
	} {
		var id int64
		s.at(sub.at, "subscriber "+sub.email, func(st *data.Store) error {
			in, err := st.Subscribe(s.ctx, sub.email, sub.lang, s.productIDs(sub.products...), true)
			if err != nil {
				return err
			}
			id = in.ID
			s.f.Subscribers = append(s.f.Subscribers, id)
			if sub.confirm == 0 {
				s.f.Unconfirmed = id
			} else if s.f.Confirmed == 0 {
				s.f.Confirmed = id
			}
			return nil
		})
		if sub.confirm != 0 {
			s.at(sub.at.Add(sub.confirm), "confirm "+sub.email, func(st *data.Store) error {
				return st.ConfirmSubscriber(s.ctx, id)
			})
		}
	}
}

// channels are where notices go besides email. The operators' own (every
// kind: a webhook into the on-call tool, Slack, Teams) receive alerts; the
// subscribers' receive incident and maintenance notices of their
// products. Every address is under .example, so a running demo's sender
// fails on them (one is already failing, one disabled) and nothing leaves
// the machine.
func (s *seeder) channels() {
	type ch struct {
		in            data.ChannelInput
		products      []string
		at            time.Time
		failingSince  time.Time
		lastError     string
		disabledAfter bool
	}
	for _, c := range []ch{
		{in: data.ChannelInput{Kind: data.ChannelWebhook, URL: "https://oncall.hidamari-soft.example/hooks/oshirase", Lang: "ja", Operator: true,
			OwnerEmail: "sre@hidamari-soft.example", Secret: "whsec_oncall_6f1d2c9a8b"}, at: s.day(-150, 10, 0)},
		{in: data.ChannelInput{Kind: data.ChannelSlack, URL: "https://hooks.slack.example/services/T04HDMR2K/B07OPSALRT/q3Jf8kLm2Zx9", Lang: "ja", Operator: true},
			at: s.day(-150, 10, 5)},
		{in: data.ChannelInput{Kind: data.ChannelTeams, URL: "https://hidamarisoft.webhook.office.example/webhookb2/7c1e-ops/IncomingWebhook/4b2a", Lang: "en", Operator: true},
			at: s.day(-120, 16, 0)},
		{in: data.ChannelInput{Kind: data.ChannelWebhook, URL: "https://hooks.kaede-shoji.example/status/hidamari", Lang: "ja",
			OwnerEmail: "it-support@kaede-shoji.example", Secret: "whsec_kaede_0b7e41d2"}, products: []string{"calendar", "reports"}, at: s.day(-110, 14, 0)},
		{in: data.ChannelInput{Kind: data.ChannelSlack, URL: "https://hooks.slack.example/services/T02MINATO/B03STATUS/Vn5yQ1c", Lang: "en",
			OwnerEmail: "raj.patel@minato-logistics.example"}, products: []string{"connect"}, at: s.day(-90, 11, 0)},
		{in: data.ChannelInput{Kind: data.ChannelTeams, URL: "https://blueharbor.webhook.office.example/webhookb2/status/IncomingWebhook/91ac", Lang: "en",
			OwnerEmail: "j.miller@blueharbor.example"}, at: s.day(-80, 10, 30)},
		{in: data.ChannelInput{Kind: data.ChannelWebhook, URL: "https://status-bot.northwind-apps.example/hooks/hidamari", Lang: "en",
			OwnerEmail: "status@northwind-apps.example", Secret: "whsec_northwind_55aa"}, at: s.day(-40, 15, 0),
			failingSince: s.ago(20 * time.Hour), lastError: "Post \"https://status-bot.northwind-apps.example/hooks/hidamari\": 502 Bad Gateway"},
		{in: data.ChannelInput{Kind: data.ChannelSlack, URL: "https://hooks.slack.example/services/T09TSUBAME/B01OLD/archived", Lang: "ja",
			OwnerEmail: "ops-watch@tsubame-design.example"}, products: []string{"reports"}, at: s.day(-200, 10, 0),
			failingSince: s.day(-6, 9, 0), lastError: "Slack answered 404: channel_is_archived", disabledAfter: true},
	} {
		var id int64
		s.at(c.at, "channel "+c.in.URL, func(st *data.Store) error {
			c.in.ProductIDs = s.productIDs(c.products...)
			made, err := st.CreateChannel(s.ctx, c.in)
			if err != nil {
				return err
			}
			id = made.ID
			s.f.Channels = append(s.f.Channels, id)
			if c.in.Operator {
				return s.audit(st, adminEmail, "channel.create", "channel="+strconv.FormatInt(id, 10), map[string]any{"kind": c.in.Kind, "operator": true})
			}
			return nil
		})
		if c.failingSince.IsZero() {
			continue
		}
		s.at(c.failingSince, "channel fails", func(st *data.Store) error {
			_, err := st.ChannelFailed(s.ctx, id, c.lastError)
			return err
		})
		if c.disabledAfter {
			// Still failing after three days: disabled, its owner told.
			s.at(c.failingSince.Add(data.ChannelDisableAfter+time.Hour), "channel disabled", func(st *data.Store) error {
				_, err := st.ChannelFailed(s.ctx, id, c.lastError)
				return err
			})
		}
	}
}

// integrations are the alert webhooks of the vendor's own monitoring:
// Alertmanager, Grafana, a generic one, and an old one revoked.
func (s *seeder) integrations() {
	for _, in := range []struct {
		key, name, kind, status string
		at, revoke              time.Time
	}{
		{"alertmanager", "Prometheus Alertmanager（本番環境）", data.IntegrationAlertmanager, data.MajorOutage, s.day(-120, 14, 0), time.Time{}},
		{"grafana", "Grafana（帳票・連携基盤）", data.IntegrationGrafana, data.PartialOutage, s.day(-90, 15, 30), time.Time{}},
		{"jobs", "社内ジョブ監視（Jenkins）", data.IntegrationGeneric, data.DegradedPerformance, s.day(-60, 11, 0), time.Time{}},
		{"old", "Alertmanager（旧環境）", data.IntegrationAlertmanager, data.MajorOutage, s.day(-330, 10, 0), s.day(-100, 18, 0)},
	} {
		raw, hash := secret("")
		s.at(in.at, "integration "+in.key, func(st *data.Store) error {
			made, err := st.CreateIntegration(s.ctx, in.name, in.kind, in.status, hash, s.op[adminEmail])
			if err != nil {
				return err
			}
			s.integ[in.key] = made.ID
			s.f.Integrations = append(s.f.Integrations, made.ID)
			if in.revoke.IsZero() {
				s.f.HookSecrets[made.ID] = raw
			}
			return s.audit(st, adminEmail, "integration.create", "integration="+strconv.FormatInt(made.ID, 10), map[string]any{"name": in.name, "kind": in.kind})
		})
		if !in.revoke.IsZero() {
			s.at(in.revoke, "revoke integration "+in.key, func(st *data.Store) error {
				if _, err := st.RevokeIntegration(s.ctx, s.integ[in.key], true); err != nil {
					return err
				}
				delete(s.f.HookSecrets, s.integ[in.key])
				return s.audit(st, adminEmail, "integration.revoke", "integration="+strconv.FormatInt(s.integ[in.key], 10), nil)
			})
		}
	}
}

// hook is what an alert webhook reports, as server/hooks.go records it:
// the integration marks the source, the alert's fingerprint tells alerts
// apart.
func (s *seeder) hook(st *data.Store, integ, comp, fingerprint, status, detail string) (*data.SignalOutcome, error) {
	id := s.integ[integ]
	in, err := st.Integration(s.ctx, id)
	if err != nil {
		return nil, err
	}
	if status == "" {
		status = in.FailureStatus
	}
	out, err := st.Signal(s.ctx, data.Signal{ComponentID: s.comp[comp], Source: "hook:" + strconv.FormatInt(id, 10) + ":" + fingerprint,
		Status: status, Detail: in.Name + ": " + detail, Hold: true})
	if err != nil {
		return nil, err
	}
	return out, st.TouchIntegration(s.ctx, id)
}
