package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshirase/oshirase/data"
)

// TestPostmortem: an operator writes a postmortem on a resolved incident,
// keeps it as a draft (nobody sees it), publishes it with a notice (the
// page, incidents.json and exactly one email per contact), and corrects
// it without a second email. An open incident refuses one, in the
// operator's language.
func TestPostmortem(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"ja@example.com": "primary/ja", "en@example.com": "primary/en"})
	op := a.client()
	op.login("editor@example.com")
	id := declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, true, nil)
	rig.deliver()
	path := "/admin/incidents/" + id + "/postmortem"

	expect(t, op.get(path), http.StatusOK, "事後報告", `name="postmortem_ja"`)
	r := op.post(path, url.Values{"postmortem_ja": {"原因です。"}, "publish": {"1"}})
	expect(t, r, http.StatusBadRequest, "復旧済みの障害にのみ")
	if a.notificationCount() != 1 {
		t.Fatal("a refused postmortem queued mail")
	}

	a.clock.Advance(time.Hour)
	expect(t, op.post("/admin/incidents/"+id+"/updates", url.Values{"status": {"resolved"}, "body_ja": {"復旧しました。"}}), http.StatusSeeOther)
	expect(t, op.get("/admin/incidents/"+id), http.StatusOK, `href="/admin/incidents/`+id+`/postmortem"`)

	// Hostile and empty input: a clear error, nothing saved.
	expect(t, op.post(path, url.Values{"postmortem_ja": {"  "}}), http.StatusBadRequest, "入力してください")
	expect(t, op.post(path, url.Values{"postmortem_ja": {"ok"}, "postmortem_en": {"bad\x00"}}), http.StatusBadRequest)
	if inc, _ := a.store.Incident(t.Context(), mustID(t, id)); inc.PostmortemJA != "" {
		t.Fatal("a refused postmortem was saved")
	}

	// A draft.
	md := url.Values{"postmortem_ja": {"## 原因\n設定の誤りです。<script>alert(1)</script>"}, "postmortem_en": {"## Cause\nA wrong setting."}}
	expect(t, op.post(path, md), http.StatusSeeOther)
	expectNot(t, a.client().get("/incidents/"+id), "設定の誤りです。")
	if got := postmortemOf(t, a, "ja"); got.body != nil || got.published != nil {
		t.Fatalf("a draft in incidents.json: %+v", got)
	}
	if len(rig.deliver()) != 0 {
		t.Fatal("a draft was emailed")
	}
	expect(t, op.get(path), http.StatusOK, "設定の誤りです。", "下書き")

	// Published, with a notice.
	a.clock.Advance(time.Hour)
	pub := url.Values{"publish": {"1"}, "notify": {"1"}}
	for k, v := range md {
		pub[k] = v
	}
	expect(t, op.post(path, pub), http.StatusSeeOther)
	page := a.client().get("/incidents/" + id)
	expect(t, page, http.StatusOK, `id="postmortem"`, "事後報告", "<h2>原因</h2>", "設定の誤りです。")
	expectNot(t, page, "<script>alert(1)</script>")
	en := a.client()
	en.lang = "en"
	expect(t, en.get("/incidents/"+id), http.StatusOK, "Postmortem", "A wrong setting.")
	if got := postmortemOf(t, a, "en"); got.body == nil || !strings.Contains(*got.body, "A wrong setting.") || got.published == nil {
		t.Fatalf("incidents.json: %+v", got)
	}
	if got := postmortemOf(t, a, "ja"); got.body == nil || !strings.Contains(*got.body, "設定の誤りです。") {
		t.Fatalf("incidents.json in Japanese: %+v", got)
	}
	mails := rig.deliver()
	if len(mails["ja@example.com"]) != 1 || len(mails["en@example.com"]) != 1 {
		t.Fatalf("postmortem mail: %v", recipients(mails))
	}
	if s := subject(t, mails["ja@example.com"][0]); !strings.Contains(s, "事後報告") {
		t.Errorf("subject %q", s)
	}
	if s := subject(t, mails["en@example.com"][0]); !strings.Contains(s, "Postmortem") {
		t.Errorf("subject %q", s)
	}
	if body := textOf(t, mails["en@example.com"][0]); !strings.Contains(body, "A wrong setting.") || !strings.Contains(body, "/incidents/"+id+"#postmortem") {
		t.Errorf("mail body:\n%s", body)
	}

	// A correction, notify ticked again: no second email.
	pub.Set("postmortem_en", "## Cause\nA wrong setting, now fixed.")
	expect(t, op.post(path, pub), http.StatusSeeOther)
	if got := rig.deliver(); len(got) != 0 {
		t.Fatalf("a correction emailed %v", recipients(got))
	}
	expect(t, en.get("/incidents/"+id), http.StatusOK, "now fixed")
	expect(t, op.get(path), http.StatusOK, "お知らせ済み")
}

type postmortemJSON struct{ body, published *string }

func postmortemOf(t *testing.T, a *testApp, lang string) postmortemJSON {
	t.Helper()
	var doc struct {
		Incidents []struct {
			PostmortemBody        *string `json:"postmortem_body"`
			PostmortemPublishedAt *string `json:"postmortem_published_at"`
		} `json:"incidents"`
	}
	strictJSON(t, a, "/api/v2/incidents.json?lang="+lang, nil, &doc)
	if len(doc.Incidents) != 1 {
		t.Fatalf("%d incidents", len(doc.Incidents))
	}
	return postmortemJSON{doc.Incidents[0].PostmortemBody, doc.Incidents[0].PostmortemPublishedAt}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
