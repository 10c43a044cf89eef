package channelmsg

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/data/datatest"
)

func newWriter(t *testing.T) *Writer {
	t.Helper()
	w, err := New("https://status.example.com/", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func notice(t *testing.T, c data.NoticeContent) data.Notification {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return data.Notification{ID: 41, Kind: c.Kind, Content: string(b), CreatedAt: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)}
}

func TestMrkdwn(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"bold", "**重要** and __also__", "*重要* and *also*"},
		{"italic", "*soon* _now_", "_soon_ _now_"},
		{"strike", "~~old~~", "~old~"},
		{"link", "[詳細](https://example.com/a?b=1&c=2)", "<https://example.com/a?b=1&c=2|詳細>"},
		{"autolink", "see https://example.com/x", "see <https://example.com/x>"},
		{"heading", "# 影響\n\ntext", "*影響*\n\ntext"},
		{"heading level 3", "### Next steps", "*Next steps*"},
		{"list", "- a\n- b", "• a\n• b"},
		{"ordered list", "3. a\n4. b", "3. a\n4. b"},
		{"nested list", "- a\n  - b", "• a\n    • b"},
		{"code span", "run `a <b>`", "run `a &lt;b&gt;`"},
		{"code block", "```\nx := <-ch\n```", "```\nx := &lt;-ch\n```"},
		{"blockquote", "> quoted", "> quoted"},
		{"line break", "line1\nline2", "line1\nline2"},
		{"entities", "1 < 2 & 3 > 0", "1 &lt; 2 &amp; 3 &gt; 0"},
		{"character reference", "&copy; &amp;", "© &amp;"},
		{"backslash escape", `\*not bold\*`, "*not bold*"},
		// Hostile: what would ping a workspace, run script or smuggle a
		// second link must arrive as inert text.
		{"mention", "<!channel> <!here> <@U123>", "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;"},
		{"mention as text", "hi &lt;!channel&gt;", "hi &lt;!channel&gt;"},
		{"raw html", "<script>alert(1)</script>\n\nafter", "after"},
		{"inline html", "a <b onclick=x>b</b> c", "a b c"},
		{"javascript link", "[click](javascript:alert(1))", "click"},
		{"relative link", "[here](/admin)", "here"},
		{"label with pipe and angle", "[a|b>c](https://example.com/)", "<https://example.com/|a∣b&gt;c>"},
		{"address with pipe", "[x](<https://example.com/a|b>)", "<https://example.com/a%7Cb|x>"},
		{"slack link syntax", "<https://evil.example|https://bank.example>", "https://evil.example|https://bank.example"},
		{"image", "![alt text](https://example.com/i.png)", "alt text"},
		{"task list", "- [x] done\n- [ ] todo", "• ☑ done\n• ☐ todo"},
		{"fence inside code", "````\n```\n````", "```\n`\u200b``\n```"},
		{"table", "| a | b |\n|---|---|\n| 1 | 2 |", "a | b\n1 | 2"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Mrkdwn(c.in); got != c.want {
				t.Errorf("Mrkdwn(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// slackMessage is the part of a Slack payload the limits apply to.
type slackMessage struct {
	Text        string
	Attachments []struct {
		Blocks []struct {
			Type string
			Text *struct{ Text string }
			// Fields and context elements share a shape.
			Fields   []struct{ Text string }
			Elements []struct{ Text string }
		}
	}
}

func TestSlackRespectsLimits(t *testing.T) {
	w := newWriter(t)
	para := strings.Repeat("Database latency is elevated in **ap-northeast-1**; see [the runbook](https://example.com/rb). ", 10)
	comps := make([]data.NoticeComponent, 300)
	for i := range comps {
		comps[i] = data.NoticeComponent{NoticeName: data.NoticeName{JA: "コンポーネント" + strings.Repeat("名", 20), EN: "Component"}, Status: data.MajorOutage}
	}
	cases := []struct {
		name       string
		body       string
		title      string
		components []data.NoticeComponent
		whole      bool // the whole body arrives, with no link to the rest
	}{
		{name: "short", body: "Investigating.", whole: true},
		{name: "exactly one section", body: strings.Repeat("a", 3000), whole: true},
		{name: "10,000 characters in paragraphs", body: strings.Repeat(para+"\n\n", 20)[:10000], whole: true},
		{name: "10,000 characters, no break", body: strings.Repeat("x", 10000), whole: true},
		{name: "10,000 Japanese characters", body: strings.Repeat("障害が発生しています。", 1000), whole: true},
		{name: "10,000 characters of one list", body: strings.Repeat("- item **bold** [l](https://e.com/)\n", 280), whole: true},
		{name: "200,000 characters", body: strings.Repeat(para+"\n", 200)},
		{name: "many short lines", body: strings.Repeat("a\n\n", 20000)},
		{name: "long title and many components", body: "x", title: strings.Repeat("長いタイトル", 100), components: comps, whole: true},
		{name: "hostile", body: strings.Repeat("<!channel> [x](javascript:alert(1)) <script>y</script> **z** ", 300), whole: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			title := c.title
			if title == "" {
				title = "CDN の障害"
			}
			n := notice(t, data.NoticeContent{Kind: data.IncidentUpdated, Impact: "major", Status: data.Identified, TitleJA: title,
				BodyJA: c.body, Components: c.components, Path: "/incidents/3"})
			raw, err := w.Body(data.ChannelSlack, n, "ja")
			if err != nil {
				t.Fatal(err)
			}
			var msg slackMessage
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatal(err)
			}
			blocks := msg.Attachments[0].Blocks
			if len(blocks) > slackBlocks {
				t.Fatalf("%d blocks, Slack takes at most %d", len(blocks), slackBlocks)
			}
			var body []string
			for i, b := range blocks {
				if b.Text != nil {
					if l := utf8.RuneCountInString(b.Text.Text); l > slackSectionText || l == 0 {
						t.Errorf("block %d holds %d characters, Slack takes 1–%d", i, l, slackSectionText)
					}
					if i > 0 {
						body = append(body, b.Text.Text)
					}
				}
				for _, f := range append(b.Fields, b.Elements...) {
					if l := utf8.RuneCountInString(f.Text); l > slackFieldText {
						t.Errorf("block %d has a field of %d characters, Slack takes %d", i, l, slackFieldText)
					}
				}
			}
			if strings.Contains(string(raw), "<!channel>") || strings.Contains(string(raw), "javascript:") || strings.Contains(string(raw), "script>") {
				t.Errorf("hostile markup survived: %.300s", raw)
			}
			last := body[len(body)-1]
			more := strings.Contains(last, "<https://status.example.com/incidents/3|")
			if more == c.whole {
				t.Errorf("link to the rest shown: %v, want %v (last block %.200q)", more, !c.whole, last)
			}
			if c.whole {
				// Nothing lost: the sections put back together are the
				// whole message, up to the whitespace at the cuts.
				squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
				if got, want := squash(strings.Join(body, "")), squash(Mrkdwn(c.body)); got != want {
					t.Errorf("body split lost text: got %d characters, want %d", len(got), len(want))
				}
			}
		})
	}
}

func TestTeamsRespectsPayloadLimit(t *testing.T) {
	w := newWriter(t)
	cases := []struct {
		name  string
		body  string
		whole bool
	}{
		{"short", "**Investigating** [status](https://example.com/)", true},
		{"10,000 characters", strings.Repeat("Latency is elevated. ", 476), true},
		{"10,000 Japanese characters", strings.Repeat("障害が発生しています。", 1000), false},
		{"200,000 characters", strings.Repeat("word ", 40000), false},
		{"hostile", strings.Repeat("<script>x</script> [a](javascript:b) ", 100), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := notice(t, data.NoticeContent{Kind: data.IncidentOpened, Impact: "minor", Status: data.Investigating, TitleJA: "障害",
				BodyJA: c.body, Path: "/incidents/3"})
			raw, err := w.Body(data.ChannelTeams, n, "ja")
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > teamsPayload {
				t.Fatalf("payload is %d bytes, Teams takes about %d", len(raw), teamsPayload)
			}
			var msg struct {
				Attachments []struct {
					Content struct{ Body []struct{ Text string } }
				}
			}
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatal(err)
			}
			blocks := msg.Attachments[0].Content.Body
			text := blocks[len(blocks)-1].Text
			more := strings.Contains(text, "](https://status.example.com/incidents/3)")
			if more == c.whole {
				t.Errorf("link to the rest shown: %v, want %v", more, !c.whole)
			}
			if strings.Contains(string(raw), "javascript:") || strings.Contains(string(raw), "<script") {
				t.Errorf("hostile markup survived: %.300s", raw)
			}
		})
	}
}

func TestWebhookCarriesStatuspageFields(t *testing.T) {
	w := newWriter(t)
	started := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	created := started.Add(5 * time.Minute)
	updated := started.Add(90 * time.Minute)
	resolved := updated
	cdn := data.NoticeComponent{NoticeName: data.NoticeName{JA: "配信", EN: "CDN"}, Product: data.NoticeName{JA: "ウェブ", EN: "Web"}, ID: 5}
	down, up := cdn, cdn
	down.Status, up.Status = data.MajorOutage, data.Operational
	incident := data.NoticeContent{Kind: data.IncidentResolved, Impact: "critical", Status: data.Resolved, TitleJA: "障害", TitleEN: "Outage",
		BodyJA: "復旧しました", BodyEN: "Fixed", Components: []data.NoticeComponent{up}, StartedAt: &started, ResolvedAt: &resolved,
		UpdatedAt: &updated, CreatedAt: &created, UpdateID: 9, Path: "/incidents/3",
		Updates: []data.NoticeUpdate{
			{ID: 9, Status: data.Resolved, BodyJA: "復旧しました", BodyEN: "Fixed", CreatedAt: updated, Components: []data.NoticeComponent{up}},
			{ID: 8, Status: data.Investigating, BodyJA: "調査中", BodyEN: "Looking", CreatedAt: created, Components: []data.NoticeComponent{down}},
		}}
	open := incident
	open.Kind, open.Status, open.Updates, open.ResolvedAt = data.IncidentOpened, data.Investigating, nil, nil
	starts, ends := started, started.Add(time.Hour)
	maint := data.NoticeContent{Kind: data.MaintenanceStarted, Status: data.InProgress, TitleEN: "DB upgrade", TitleJA: "DB更新",
		BodyJA: "開始しました", BodyEN: "Started", Components: []data.NoticeComponent{cdn}, StartsAt: &starts, EndsAt: &ends, CreatedAt: &created, UpdateID: 4,
		Path: "/maintenance/2"}
	component := data.NoticeContent{Kind: data.ComponentUpdated, Status: data.PartialOutage, OldStatus: data.Operational, ComponentID: 5,
		TitleJA: "配信", TitleEN: "CDN", Components: []data.NoticeComponent{cdn}, UpdatedAt: &updated, Path: "/"}

	cases := []struct {
		name    string
		content data.NoticeContent
		manage  string
		want    map[string]any // dotted path → value
	}{
		{"resolved incident", incident, "https://status.example.com/subscribe/channel/tok", map[string]any{
			"meta.unsubscribe": "https://status.example.com/subscribe/channel/tok", "meta.documentation": "https://status.example.com/subscribe",
			"meta.event": data.IncidentResolved, "event": data.IncidentResolved,
			"page.id": "oshirase", "page.url": "https://status.example.com", "page.status_indicator": "none",
			"page.status_description": "All Systems Operational",
			"incident.id":             "i3", "incident.name": "障害", "incident.status": data.Resolved, "incident.impact": "critical",
			"incident.created_at": "2026-05-01T08:05:00Z", "incident.updated_at": "2026-05-01T09:30:00Z",
			"incident.resolved_at": "2026-05-01T09:30:00Z", "incident.shortlink": "https://status.example.com/incidents/3",
			"incident.components.0.id":                                     "c5",
			"incident.components.0.name":                                   "Web - CDN",
			"incident.incident_updates.#":                                  2,
			"incident.incident_updates.0.id":                               "u9",
			"incident.incident_updates.0.status":                           data.Resolved,
			"incident.incident_updates.0.body":                             "復旧しました",
			"incident.incident_updates.0.incident_id":                      "i3",
			"incident.incident_updates.0.affected_components.0.code":       "c5",
			"incident.incident_updates.0.affected_components.0.old_status": data.MajorOutage,
			"incident.incident_updates.0.affected_components.0.new_status": data.Operational,
			"incident.incident_updates.1.id":                               "u8",
			"incident.incident_updates.1.created_at":                       "2026-05-01T08:05:00Z",
			"incident.incident_updates.1.display_at":                       "2026-05-01T08:00:00Z",
			"incident.incident_updates.1.affected_components.0.old_status": data.Operational,
			"incident.incident_updates.1.affected_components.0.new_status": data.MajorOutage,
		}},
		{"open incident, older notice without history", open, "", map[string]any{
			"meta.unsubscribe":      "https://status.example.com/subscribe/channel",
			"page.status_indicator": "critical", "page.status_description": "Major Service Outage",
			"incident.resolved_at":           nil,
			"incident.incident_updates.#":    1,
			"incident.incident_updates.0.id": "u9",
		}},
		{"maintenance", maint, "", map[string]any{
			"page.status_indicator": "maintenance", "incident.id": "m2", "incident.impact": "maintenance",
			"incident.scheduled_for": "2026-05-01T08:00:00Z", "incident.scheduled_until": "2026-05-01T09:00:00Z",
			"incident.components.0.status":   data.UnderMaintenance,
			"incident.incident_updates.0.id": "mu4", "incident.incident_updates.0.body": "開始しました",
		}},
		{"component update", component, "", map[string]any{
			"page.status_indicator": "major", "page.status_description": "Partial System Outage",
			"component_update.id": "cu41", "component_update.component_id": "c5", "component_update.old_status": data.Operational,
			"component_update.new_status": data.PartialOutage, "component_update.created_at": "2026-05-01T09:30:00Z",
			"component.id": "c5", "component.status": data.PartialOutage,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := w.BodyFor(data.ChannelWebhook, notice(t, c.content), "ja", c.manage)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			for path, want := range c.want {
				got, ok := lookup(doc, path)
				if !ok {
					t.Errorf("%s missing in %s", path, raw)
					continue
				}
				if n, isInt := want.(int); isInt {
					want = float64(n)
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

// lookup follows a dotted path through decoded JSON; "#" is a list's length.
func lookup(v any, path string) (any, bool) {
	for _, key := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[key]; !ok {
				return nil, false
			}
		case []any:
			if key == "#" {
				return float64(len(x)), true
			}
			i := 0
			for _, r := range key {
				i = i*10 + int(r-'0')
			}
			if i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// TestWebhookListsEveryUpdate follows a notice from the store: the
// resolution's webhook lists the incident's whole timeline, with the ids
// the JSON API gives.
func TestWebhookListsEveryUpdate(t *testing.T) {
	clock := datatest.NewClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	s := datatest.Open(t, clock)
	ctx := context.Background()
	p, err := s.CreateProduct(ctx, data.ProductInput{NameJA: "ウェブ", NameEN: "Web"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateComponent(ctx, data.ComponentInput{ProductID: p.ID, NameJA: "配信", NameEN: "CDN"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateContract(ctx, data.ContractInput{Code: "C00001", Name: "顧客", Active: true, ProductIDs: []int64{p.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddContact(ctx, k.ID, data.ContactInput{Email: "a@example.com", Lang: "ja", Role: data.RolePrimary}); err != nil {
		t.Fatal(err)
	}
	inc, err := s.CreateIncident(ctx, data.NewIncident{TitleJA: "障害", Impact: "major", Status: data.Investigating, BodyJA: "調査中",
		Components: map[int64]string{c.ID: data.MajorOutage}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	u, err := s.PostIncidentUpdate(ctx, inc.ID, data.NewIncidentUpdate{Status: data.Resolved, BodyJA: "復旧",
		Components: map[int64]string{c.ID: data.Operational}, Notice: data.Notice{Send: true}})
	if err != nil {
		t.Fatal(err)
	}
	ns, _, _, err := s.Notifications(ctx, 1, 0)
	if err != nil || len(ns) != 1 {
		t.Fatalf("notifications: %v, %v", ns, err)
	}
	raw, err := newWriter(t).Body(data.ChannelWebhook, ns[0], "ja")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	cid := fmt.Sprintf("c%d", c.ID)
	for path, want := range map[string]any{
		"incident.id": fmt.Sprintf("i%d", inc.ID), "incident.status": data.Resolved, "page.status_indicator": "none",
		"incident.incident_updates.#":    float64(2),
		"incident.incident_updates.0.id": fmt.Sprintf("u%d", u.ID), "incident.incident_updates.0.body": "復旧",
		"incident.incident_updates.0.affected_components.0.code":       cid,
		"incident.incident_updates.0.affected_components.0.old_status": data.MajorOutage,
		"incident.incident_updates.1.body":                             "調査中",
		"incident.incident_updates.1.affected_components.0.new_status": data.MajorOutage,
		"incident.components.0.id":                                     cid,
	} {
		if got, ok := lookup(doc, path); !ok || got != want {
			t.Errorf("%s = %#v, want %#v\n%s", path, got, want, raw)
		}
	}
}

func TestTeamsMarkdown(t *testing.T) {
	cases := []struct{ in, want string }{
		{"# 影響\n\n**重要** *soon*", "**影響**\n\n**重要** _soon_"},
		{"[詳細](https://example.com/a (b))", "[詳細](https://example.com/a)"},
		{"[詳細](https://example.com/a(b))", "[詳細](https://example.com/a%28b%29)"},
		{"- a\n- b", "- a\n- b"},
		{"<script>x</script>\n\n[y](javascript:alert(1)) <img src=x onerror=y>", "y"},
	}
	for _, c := range cases {
		if got := teamsMarkdown(c.in); got != c.want {
			t.Errorf("teamsMarkdown(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
