package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/oshirase/oshirase/data"
)

// TestRelayTroubleIsShownAndBouncesCanBeRetried: while the relay refuses
// mail every console page says what it said; bounced deliveries can be
// sent again, after a confirmation.
func TestRelayTroubleIsShownAndBouncesCanBeRetried(t *testing.T) {
	a := newTestServer(t)
	rig := a.withSMTP()
	p, cdn, _ := a.seedCatalog()
	a.contractWith("K-1", []int64{p}, map[string]string{"gone@example.com": "primary/ja", "ok@example.com": "additional/ja"})
	ctx := context.Background()
	op := a.client()
	op.login("editor@example.com")

	if err := a.store.SetRelayTrouble(ctx, data.RelayTrouble{Stage: "AUTH", Code: 535, Message: "535 5.7.8 Authentication credentials invalid",
		Since: a.clock.Now(), RetryAt: a.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/admin", "/admin/notifications"} {
		expect(t, op.get(path), http.StatusOK, "メールサーバーが送信を受け付けていません", "AUTH で 535", "送信待ちのまま保持されています")
	}
	a.store.ClearRelayTrouble(ctx)
	expectNot(t, op.get("/admin"), "メールサーバーが送信を受け付けていません")

	var refuse atomic.Bool
	refuse.Store(true)
	rig.smtp.RefuseRcpt(func(rcpt string) *smtp.SMTPError {
		if refuse.Load() && rcpt == "gone@example.com" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	})
	declareVia(t, op, "major", map[int64]string{cdn: data.MajorOutage}, true, nil)
	rig.deliver()
	n, counts := a.latestNotification()
	if counts[data.DeliveryBounced] != 1 || counts[data.DeliverySent] != 1 {
		t.Fatalf("counts %v", counts)
	}
	nid := strconv.FormatInt(n.ID, 10)
	expect(t, op.get("/admin/notifications/"+nid), http.StatusOK, "宛先不明の1件を再送する")
	expect(t, op.post("/admin/notifications/"+nid+"/retry-bounced", nil), http.StatusOK, `name="confirm" value="1"`)
	if _, c := a.latestNotification(); c[data.DeliveryBounced] != 1 {
		t.Fatal("retried without confirmation")
	}
	refuse.Store(false)
	expect(t, op.post("/admin/notifications/"+nid+"/retry-bounced", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if got := rig.deliver(); len(got["gone@example.com"]) != 1 || len(got["ok@example.com"]) != 0 {
		t.Fatalf("after the retry: %v", recipients(got))
	}
}
