package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/pquerna/otp/totp"

	"github.com/oshirase/oshirase/data"
)

// softKey is an authenticator in software: one credential, a P-256 key, a
// sign count, as a phone or a security key would hold it.
type softKey struct {
	t      *testing.T
	id     []byte
	key    *ecdsa.PrivateKey
	count  uint32
	handle []byte
	// origin is where the browser says the page was; rpID the site.
	origin, rpID string
}

func newSoftKey(t *testing.T, origin string) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	u, _ := url.Parse(origin)
	return &softKey{t: t, id: id, key: k, origin: origin, rpID: u.Hostname()}
}

var b64 = base64.RawURLEncoding

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data: the site, the flags (user present
// and verified, plus extra) and the count.
func (k *softKey) authData(extra byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append(rp[:], 0x01|0x04|extra)
	return binary.BigEndian.AppendUint32(out, k.count)
}

// create answers navigator.credentials.create with the options a begin
// request returned.
func (k *softKey) create(begin map[string]any) json.RawMessage {
	k.t.Helper()
	pk := begin["publicKey"].(map[string]any)
	k.handle, _ = b64.DecodeString(pk["user"].(map[string]any)["id"].(string))
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: k.key.X.FillBytes(make([]byte, 32)), YCoord: k.key.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		k.t.Fatal(err)
	}
	ad := k.authData(0x40) // attested credential data follows
	ad = append(ad, make([]byte, 16)...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = append(append(ad, k.id...), cose...)
	att, err := webauthncbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{"none", map[string]any{}, ad})
	if err != nil {
		k.t.Fatal(err)
	}
	cd := k.clientData("webauthn.create", pk["challenge"].(string))
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform"})
	return b
}

// get answers navigator.credentials.get, counting one more use.
func (k *softKey) get(begin map[string]any) json.RawMessage {
	k.t.Helper()
	k.count++
	pk := begin["publicKey"].(map[string]any)
	ad := k.authData(0)
	cd := k.clientData("webauthn.get", pk["challenge"].(string))
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	resp := map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad), "signature": b64.EncodeToString(sig)}
	if k.handle != nil {
		resp["userHandle"] = b64.EncodeToString(k.handle)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": resp, "clientExtensionResults": map[string]any{}})
	return b
}

// postJSON sends JSON as passkey.js does, with the CSRF token in its
// header unless noCSRF.
func (c *client) postJSON(path string, body any, noCSRF bool) (response, map[string]any) {
	c.a.t.Helper()
	var raw []byte
	switch v := body.(type) {
	case string:
		raw = []byte(v)
	default:
		raw, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(http.MethodPost, c.a.srv.URL+path, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if !noCSRF {
		req.Header.Set("X-CSRF-Token", c.token())
	}
	r := c.do(req)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		c.a.t.Fatalf("POST %s: %d, not JSON: %s", path, r.code, r.body)
	}
	return r, out
}

// registerPasskey adds k to the signed-in operator's passkeys.
func registerPasskey(t *testing.T, c *client, k *softKey, name string) {
	t.Helper()
	r, begin := c.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "correct horse battery"}, false)
	if r.code != http.StatusOK {
		t.Fatalf("register begin: %d %v", r.code, begin)
	}
	r, done := c.postJSON("/admin/account/passkeys/finish", map[string]any{"ticket": begin["ticket"], "name": name, "credential": k.create(begin)}, false)
	if r.code != http.StatusOK || done["redirect"] == nil {
		t.Fatalf("register finish: %d %v", r.code, done)
	}
}

// passkeySignIn signs a fresh client in with k alone, returning the
// finish answer.
func passkeySignIn(t *testing.T, c *client, k *softKey) (response, map[string]any) {
	t.Helper()
	c.get("/admin/login")
	r, begin := c.postJSON("/admin/login/passkey/begin", nil, false)
	if r.code != http.StatusOK {
		t.Fatalf("login begin: %d %v", r.code, begin)
	}
	return c.postJSON("/admin/login/passkey/finish", map[string]any{"ticket": begin["ticket"], "credential": k.get(begin), "next": "/admin/incidents"}, false)
}

// auditChanges lists the changes of every entry with that action.
func auditChanges(t *testing.T, a *testApp, action string) []string {
	t.Helper()
	es, _, err := a.store.Audit(context.Background(), data.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Action == action {
			out = append(out, e.Changes)
		}
	}
	return out
}

func hasAudit(t *testing.T, a *testApp, action, contains string) bool {
	t.Helper()
	for _, ch := range auditChanges(t, a, action) {
		if strings.Contains(ch, contains) {
			return true
		}
	}
	return false
}

// TestPasskeyFlows: an operator registers a passkey (after the password
// again), signs in with it alone, then with the password and the passkey
// as second factor; the account page lists, renames and removes it; each
// step is in the audit trail.
func TestPasskeyFlows(t *testing.T) {
	a := newTestServer(t)
	k := newSoftKey(t, "http://status.example.com")
	adm := a.client()
	adm.login("admin@example.com")

	// The password is asked again; a wrong one is refused.
	r, out := adm.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "wrong"}, false)
	if r.code != http.StatusBadRequest || out["error"] != "現在のパスワードが正しくありません。" {
		t.Fatalf("wrong password: %d %v", r.code, out)
	}
	registerPasskey(t, adm, k, "  MacBook Pro  ")
	page := adm.get("/admin/account")
	expect(t, page, http.StatusOK, "MacBook Pro", "パスキー", `action="/admin/account/passkeys/`)
	if !hasAudit(t, a, "account.passkey_added", `"name":"MacBook Pro"`) {
		t.Fatal("the new passkey is not in the audit trail")
	}
	// The same authenticator is excluded the next time.
	_, begin := adm.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "correct horse battery"}, false)
	if ex, _ := begin["publicKey"].(map[string]any)["excludeCredentials"].([]any); len(ex) != 1 {
		t.Fatalf("exclude list %v", begin["publicKey"])
	}
	sel := begin["publicKey"].(map[string]any)["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" || sel["userVerification"] != "required" {
		t.Fatalf("authenticator selection %v", sel)
	}

	// Signed in with the passkey alone, where the form said to go.
	c := a.client()
	r, out = passkeySignIn(t, c, k)
	if r.code != http.StatusOK || out["redirect"] != "/admin/incidents" {
		t.Fatalf("passkey sign-in: %d %v", r.code, out)
	}
	expect(t, c.get("/admin/incidents"), http.StatusOK)
	if !hasAudit(t, a, "login", `"method":"passkey"`) {
		t.Fatal("the passkey sign-in is not in the audit trail")
	}
	expectSessionMethod(t, a, "passkey")

	// With the password, the passkey is the second step.
	p := a.client()
	p.get("/admin/login")
	r = p.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/admin/login/2fa") {
		t.Fatalf("password with a passkey: %d %s", r.code, r.header.Get("Location"))
	}
	expect(t, p.get("/admin"), http.StatusSeeOther)
	twofa := p.get("/admin/login/2fa")
	expect(t, twofa, http.StatusOK, "パスキーで確認", `data-passkey="second"`)
	// No authenticator app to ask a code of; the recovery codes given
	// with the first passkey are the way in without it.
	expectNot(t, twofa, `autocomplete="one-time-code"`)
	expect(t, twofa, http.StatusOK, "パスキーを使えない場合", "リカバリーコード")
	r, begin = p.postJSON("/admin/login/2fa/passkey/begin", nil, false)
	if r.code != http.StatusOK {
		t.Fatalf("second begin: %d %v", r.code, begin)
	}
	if allow, _ := begin["publicKey"].(map[string]any)["allowCredentials"].([]any); len(allow) != 1 {
		t.Fatalf("allow list %v", begin["publicKey"])
	}
	r, out = p.postJSON("/admin/login/2fa/passkey/finish", map[string]any{"ticket": begin["ticket"], "credential": k.get(begin)}, false)
	if r.code != http.StatusOK || out["redirect"] != "/admin" {
		t.Fatalf("second finish: %d %v", r.code, out)
	}
	expect(t, p.get("/admin/account"), http.StatusOK)
	expectSessionMethod(t, a, "password+passkey")
	if !hasAudit(t, a, "login", `"second_factor":true`) {
		t.Fatal("the second step is not in the audit trail")
	}

	// Rename, then remove (asked first without script).
	list, _ := a.store.OperatorPasskeys(context.Background(), operatorID(t, a, "admin@example.com"))
	id := strconv.FormatInt(list[0].ID, 10)
	r = adm.post("/admin/account/passkeys/"+id+"/rename", url.Values{"name": {""}})
	expect(t, r, http.StatusBadRequest, "aria-invalid")
	r = adm.post("/admin/account/passkeys/"+id+"/rename", url.Values{"name": {"仕事用 MacBook"}})
	expect(t, r, http.StatusSeeOther)
	expect(t, adm.get("/admin/account"), http.StatusOK, "仕事用 MacBook", "パスキーの名前を変更しました。")
	ed := a.client()
	ed.login("editor@example.com")
	// Another operator's passkey: as if there were none, nothing changes.
	expect(t, ed.post("/admin/account/passkeys/"+id+"/rename", url.Values{"name": {"mine"}}), http.StatusSeeOther)
	expect(t, ed.post("/admin/account/passkeys/"+id+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	expect(t, ed.get("/admin/account"), http.StatusOK, "このパスキーは見つかりませんでした")
	if got, _ := a.store.OperatorPasskeys(context.Background(), list[0].OperatorID); len(got) != 1 || got[0].Name != "仕事用 MacBook" {
		t.Fatalf("another operator changed the passkey: %+v", got)
	}
	expect(t, adm.post("/admin/account/passkeys/"+id+"/delete", nil), http.StatusOK, "パスキー「仕事用 MacBook」を削除しますか。")
	expect(t, adm.post("/admin/account/passkeys/"+id+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if n, _ := a.store.CountPasskeys(context.Background(), list[0].OperatorID); n != 0 {
		t.Fatalf("%d passkeys left", n)
	}
	if !hasAudit(t, a, "account.passkey_removed", "仕事用 MacBook") || !hasAudit(t, a, "account.passkey_renamed", "仕事用 MacBook") {
		t.Fatal("rename and removal are not in the audit trail")
	}
	// A removed passkey signs nobody in.
	r, out = passkeySignIn(t, a.client(), k)
	if r.code != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "登録されていません") {
		t.Fatalf("removed passkey: %d %v", r.code, out)
	}
}

// TestPasskeyHostile: what an attacker or a broken browser sends is
// refused with a clear message in the visitor's language and a 4xx, never
// a 500, and a refused sign-in is in the audit trail.
func TestPasskeyHostile(t *testing.T) {
	a := newTestServer(t)
	k := newSoftKey(t, "http://status.example.com")
	adm := a.client()
	adm.login("admin@example.com")
	registerPasskey(t, adm, k, "key")
	ed := a.client()
	ed.login("editor@example.com")
	edKey := newSoftKey(t, "http://status.example.com")
	registerPasskey(t, ed, edKey, "editor key")
	begin := func(c *client) map[string]any {
		t.Helper()
		c.get("/admin/login")
		r, b := c.postJSON("/admin/login/passkey/begin", nil, false)
		if r.code != http.StatusOK {
			t.Fatalf("begin: %d %v", r.code, b)
		}
		return b
	}
	finish := func(c *client, body any) (int, string) {
		t.Helper()
		r, out := c.postJSON("/admin/login/passkey/finish", body, false)
		msg, _ := out["error"].(string)
		return r.code, msg
	}

	t.Run("malformed JSON", func(t *testing.T) {
		c := a.client()
		begin(c)
		for _, body := range []string{`{`, `[]`, `{"ticket": 5}`, strings.Repeat("x", 70000)} {
			if code, msg := finish(c, body); code != http.StatusBadRequest || !strings.Contains(msg, "読み取れませんでした") {
				t.Errorf("%.20q: %d %q", body, code, msg)
			}
		}
		b := begin(c)
		if code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": map[string]any{"id": "x"}}); code != http.StatusBadRequest || msg == "" {
			t.Errorf("a credential that is not one: %d %q", code, msg)
		}
	})
	t.Run("finish without begin", func(t *testing.T) {
		c := a.client()
		c.get("/admin/login")
		b := map[string]any{"publicKey": map[string]any{"challenge": b64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}}
		code, msg := finish(c, map[string]any{"ticket": "made-up", "credential": k.get(b)})
		if code != http.StatusBadRequest || !strings.Contains(msg, "有効期限が切れたか") {
			t.Errorf("%d %q", code, msg)
		}
	})
	t.Run("replayed challenge", func(t *testing.T) {
		c := a.client()
		b := begin(c)
		body := map[string]any{"ticket": b["ticket"], "credential": k.get(b)}
		if code, msg := finish(c, body); code != http.StatusOK {
			t.Fatalf("first answer: %d %q", code, msg)
		}
		c.get("/admin/login") // the same browser, signed in or not
		if code, msg := finish(c, body); code != http.StatusBadRequest || !strings.Contains(msg, "すでに使用されています") {
			t.Errorf("replayed: %d %q", code, msg)
		}
	})
	t.Run("challenge of another browser", func(t *testing.T) {
		mine, theirs := a.client(), a.client()
		b := begin(mine)
		theirs.get("/admin/login")
		if code, msg := finish(theirs, map[string]any{"ticket": b["ticket"], "credential": k.get(b)}); code != http.StatusBadRequest || msg == "" {
			t.Errorf("%d %q", code, msg)
		}
		expect(t, theirs.get("/admin"), http.StatusSeeOther) // not signed in
	})
	t.Run("expired challenge", func(t *testing.T) {
		c := a.client()
		b := begin(c)
		a.clock.Advance(passkeyTTL + time.Second)
		if code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": k.get(b)}); code != http.StatusBadRequest || !strings.Contains(msg, "有効期限") {
			t.Errorf("%d %q", code, msg)
		}
	})
	t.Run("CSRF missing", func(t *testing.T) {
		c := a.client()
		c.lang = "en"
		c.get("/admin/login")
		for _, path := range []string{"/admin/login/passkey/begin", "/admin/login/passkey/finish", "/admin/login/2fa/passkey/begin"} {
			r, out := c.postJSON(path, map[string]any{}, true)
			if r.code != http.StatusForbidden || out["error"] != "This form has expired. Please reload the page and try again." {
				t.Errorf("%s: %d %v", path, r.code, out)
			}
		}
		r, out := adm.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "correct horse battery"}, true)
		if r.code != http.StatusForbidden || out["error"] == "" {
			t.Errorf("register: %d %v", r.code, out)
		}
	})
	t.Run("unknown credential", func(t *testing.T) {
		c := a.client()
		b := begin(c)
		stranger := newSoftKey(t, "http://status.example.com")
		stranger.handle = []byte("someone")
		if code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": stranger.get(b)}); code != http.StatusUnauthorized || !strings.Contains(msg, "登録されていません") {
			t.Errorf("%d %q", code, msg)
		}
		if !hasAudit(t, a, "login.passkey_failed", "unknown_credential") {
			t.Error("not audited")
		}
	})
	t.Run("another site", func(t *testing.T) {
		c := a.client()
		b := begin(c)
		phish := *k
		phish.origin = "http://status.example.com.evil.test"
		if code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": phish.get(b)}); code != http.StatusUnauthorized || msg == "" {
			t.Errorf("%d %q", code, msg)
		}
		k.count = phish.count
	})
	t.Run("cloned authenticator", func(t *testing.T) {
		c := a.client()
		twin := *k
		twin.count = 0 // a copy that has signed fewer times
		b := begin(c)
		code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": twin.get(b)})
		if code != http.StatusUnauthorized || !strings.Contains(msg, "複製された可能性") {
			t.Errorf("%d %q", code, msg)
		}
		if !hasAudit(t, a, "login.passkey_failed", "sign_count") {
			t.Error("not audited")
		}
		expect(t, c.get("/admin"), http.StatusSeeOther)
	})
	t.Run("another user's credential as second factor", func(t *testing.T) {
		p := a.client()
		p.get("/admin/login")
		p.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
		r, b := p.postJSON("/admin/login/2fa/passkey/begin", nil, false)
		if r.code != http.StatusOK {
			t.Fatalf("begin: %d %v", r.code, b)
		}
		r, out := p.postJSON("/admin/login/2fa/passkey/finish", map[string]any{"ticket": b["ticket"], "credential": edKey.get(b)}, false)
		if r.code != http.StatusUnauthorized || out["error"] == "" {
			t.Errorf("%d %v", r.code, out)
		}
		expect(t, p.get("/admin"), http.StatusSeeOther)
		// Without a password first, there is no second step to take.
		q := a.client()
		q.get("/admin/login")
		r, out = q.postJSON("/admin/login/2fa/passkey/begin", nil, false)
		if r.code != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "パスワードでログインしてください") {
			t.Errorf("no pending sign-in: %d %v", r.code, out)
		}
	})
	t.Run("disabled operator", func(t *testing.T) {
		if err := a.store.SetOperatorDisabled(context.Background(), operatorID(t, a, "editor@example.com"), true); err != nil {
			t.Fatal(err)
		}
		c := a.client()
		b := begin(c)
		if code, msg := finish(c, map[string]any{"ticket": b["ticket"], "credential": edKey.get(b)}); code != http.StatusUnauthorized || msg == "" {
			t.Errorf("%d %q", code, msg)
		}
		if !hasAudit(t, a, "login.passkey_failed", `"reason":"disabled"`) {
			t.Error("not audited")
		}
		expect(t, c.get("/admin"), http.StatusSeeOther)
	})
	t.Run("registration answered for another site", func(t *testing.T) {
		r, b := adm.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "correct horse battery"}, false)
		if r.code != http.StatusOK {
			t.Fatal(r.code)
		}
		evil := newSoftKey(t, "http://evil.test")
		r, out := adm.postJSON("/admin/account/passkeys/finish", map[string]any{"ticket": b["ticket"], "credential": evil.create(b)}, false)
		if r.code != http.StatusUnauthorized || out["error"] == "" {
			t.Errorf("%d %v", r.code, out)
		}
		if !hasAudit(t, a, "account.passkey_add_failed", "invalid") {
			t.Error("not audited")
		}
	})
	t.Run("registration ticket used by another session", func(t *testing.T) {
		_, b := adm.postJSON("/admin/account/passkeys/begin", map[string]any{"password": "correct horse battery"}, false)
		// The same operator in another browser, and another operator
		// (disabled by now, so not even signed in).
		other := a.client()
		if r, out := passkeySignIn(t, other, k); r.code != http.StatusOK {
			t.Fatalf("sign in: %d %v", r.code, out)
		}
		for _, c := range []*client{other, ed} {
			r, out := c.postJSON("/admin/account/passkeys/finish", map[string]any{"ticket": b["ticket"], "credential": newSoftKey(t, "http://status.example.com").create(b)}, false)
			if r.code/100 != 4 || out["error"] == "" {
				t.Errorf("%d %v", r.code, out)
			}
		}
	})
	t.Run("throttled", func(t *testing.T) {
		c := a.client()
		for i := 0; i < 30; i++ {
			b := begin(c)
			code, _ := finish(c, map[string]any{"ticket": b["ticket"], "credential": map[string]any{}})
			if code == http.StatusTooManyRequests {
				return
			}
		}
		t.Error("never throttled")
	})
}

// TestPasskeyLastFactorRequired: where admins must use two-factor sign-in,
// a passkey counts as their second factor, and the last one cannot be
// removed (as the authenticator app cannot be turned off).
func TestPasskeyLastFactorRequired(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.Require2FA = true
	adm := a.client()
	adm.login("admin@example.com")
	// Sent to set up a second factor: the account page still works.
	expect(t, adm.get("/admin/incidents"), http.StatusSeeOther)
	k1 := newSoftKey(t, "http://status.example.com")
	registerPasskey(t, adm, k1, "one")
	expect(t, adm.get("/admin/incidents"), http.StatusOK)
	page := adm.get("/admin/account")
	expect(t, page, http.StatusOK, "唯一の2段階目の確認手段")
	expectNot(t, page, "/delete")
	list, _ := a.store.OperatorPasskeys(context.Background(), operatorID(t, a, "admin@example.com"))
	id := strconv.FormatInt(list[0].ID, 10)
	expect(t, adm.post("/admin/account/passkeys/"+id+"/delete", url.Values{"confirm": {"1"}}), http.StatusForbidden)
	registerPasskey(t, adm, newSoftKey(t, "http://status.example.com"), "two")
	expect(t, adm.post("/admin/account/passkeys/"+id+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
	if n, _ := a.store.CountPasskeys(context.Background(), list[0].OperatorID); n != 1 {
		t.Fatalf("%d passkeys", n)
	}
	// An editor is not held to it.
	ed := a.client()
	ed.login("editor@example.com")
	registerPasskey(t, ed, newSoftKey(t, "http://status.example.com"), "editor")
	el, _ := a.store.OperatorPasskeys(context.Background(), operatorID(t, a, "editor@example.com"))
	expect(t, ed.post("/admin/account/passkeys/"+strconv.FormatInt(el[0].ID, 10)+"/delete", url.Values{"confirm": {"1"}}), http.StatusSeeOther)
}

// TestPasskeyNeedsHostName: with an IP address for a base URL the login
// page offers no passkey and the endpoints say why.
func TestPasskeyNeedsHostName(t *testing.T) {
	a := newTestServer(t)
	a.app.opts.BaseURL, _ = url.Parse("http://192.0.2.10")
	c := a.client()
	expectNot(t, c.get("/admin/login"), "data-passkey")
	r, out := c.postJSON("/admin/login/passkey/begin", nil, false)
	if r.code != http.StatusNotFound || !strings.Contains(out["error"].(string), "OSHIRASE_BASE_URL") {
		t.Fatalf("%d %v", r.code, out)
	}
}

// expectSessionMethod fails unless one of the admin's sessions began so.
func expectSessionMethod(t *testing.T, a *testApp, method string) {
	t.Helper()
	sessions, err := a.store.OperatorSessions(context.Background(), operatorID(t, a, "admin@example.com"), sessionIdle)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.Method == method {
			return
		}
	}
	t.Fatalf("no session began with %q", method)
}

// TestPasskeyBesideAuthenticatorApp: an operator with both an
// authenticator app and a passkey is offered both after the password,
// and either one finishes the sign-in.
func TestPasskeyBesideAuthenticatorApp(t *testing.T) {
	a := newTestServer(t)
	adm := a.client()
	adm.login("admin@example.com")
	secret, _ := enableTOTP(t, a, adm)
	k := newSoftKey(t, "http://status.example.com")
	registerPasskey(t, adm, k, "key")
	password := func() *client {
		c := a.client()
		c.get("/admin/login")
		c.post("/admin/login", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})
		return c
	}
	c := password()
	page := c.get("/admin/login/2fa")
	expect(t, page, http.StatusOK, "確認コードの入力", `data-passkey="second"`, `name="code"`, "認証アプリの確認コード")
	a.clock.Advance(time.Minute)
	code, _ := totp.GenerateCode(secret, a.clock.Now())
	expect(t, c.post("/admin/login/2fa", url.Values{"code": {code}}), http.StatusSeeOther)
	expect(t, c.get("/admin"), http.StatusOK)

	c = password()
	r, b := c.postJSON("/admin/login/2fa/passkey/begin", nil, false)
	if r.code != http.StatusOK {
		t.Fatalf("begin: %d %v", r.code, b)
	}
	if r, out := c.postJSON("/admin/login/2fa/passkey/finish", map[string]any{"ticket": b["ticket"], "credential": k.get(b), "next": "/admin/account"}, false); r.code != http.StatusOK || out["redirect"] != "/admin/account" {
		t.Fatalf("finish: %d %v", r.code, out)
	}
	expect(t, c.get("/admin/account"), http.StatusOK)
	// A wrong code after the password is still a wrong code.
	d := password()
	expect(t, d.post("/admin/login/2fa", url.Values{"code": {"000000"}}), http.StatusUnauthorized, `data-passkey="second"`)
}

// TestPasskeyBreakGlass: where everyone but the break-glass admins signs
// in through the identity provider, a passkey is refused as the password
// is, and a break-glass admin's passkey sign-in says so in the audit
// trail.
func TestPasskeyBreakGlass(t *testing.T) {
	a := newTestServer(t)
	adminKey, editorKey := newSoftKey(t, "http://status.example.com"), newSoftKey(t, "http://status.example.com")
	adm, ed := a.client(), a.client()
	adm.login("admin@example.com")
	ed.login("editor@example.com")
	registerPasskey(t, adm, adminKey, "admin")
	registerPasskey(t, ed, editorKey, "editor")
	a.app.sso = &ssoProvider{opts: SSOOptions{BreakGlass: []string{"admin@example.com"}}}
	signIn := func(k *softKey) (int, map[string]any) {
		c := a.client()
		c.get("/admin/login/2fa") // any console page gives the browser its CSRF cookie
		_, b := c.postJSON("/admin/login/passkey/begin", nil, false)
		r, out := c.postJSON("/admin/login/passkey/finish", map[string]any{"ticket": b["ticket"], "credential": k.get(b)}, false)
		return r.code, out
	}
	if code, out := signIn(editorKey); code != http.StatusForbidden || !strings.Contains(out["error"].(string), "シングルサインオン") {
		t.Fatalf("editor: %d %v", code, out)
	}
	if !hasAudit(t, a, "login.passkey_refused", "sso_only") {
		t.Fatal("the refusal is not in the audit trail")
	}
	if code, out := signIn(adminKey); code != http.StatusOK {
		t.Fatalf("break-glass admin: %d %v", code, out)
	}
	if !hasAudit(t, a, "login", `"break_glass":true`) {
		t.Fatal("the break-glass sign-in is not marked")
	}
}

// TestPasskeyAfterHostChange: passkeys belong to the base URL's host.
// Once OSHIRASE_BASE_URL moves to another host the old ones sign nobody
// in, no longer stand for a second factor (so their owner signs in with
// the password alone rather than being locked out), and the account page
// says why.
func TestPasskeyAfterHostChange(t *testing.T) {
	a := newTestServer(t)
	k := newSoftKey(t, "http://status.example.com")
	adm := a.client()
	adm.login("admin@example.com")
	registerPasskey(t, adm, k, "old site")
	a.app.opts.BaseURL, _ = url.Parse("http://status.example.jp")
	moved := *k
	moved.origin, moved.rpID = "http://status.example.jp", "status.example.jp"
	if r, out := passkeySignIn(t, a.client(), &moved); r.code != http.StatusUnauthorized {
		t.Fatalf("old passkey at the new host: %d %v", r.code, out)
	}
	c := a.client()
	c.login("admin@example.com") // no second step asked
	expect(t, c.get("/admin/account"), http.StatusOK, "status.example.com で登録されたため")
}
