package mail

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// ContactToken signs a contact id for the preferences and unsubscribe links
// in every email. It does not expire: a link in an old email keeps working.
func ContactToken(secret string, contactID int64) string {
	id := strconv.FormatInt(contactID, 10)
	return id + "." + sign(secret, "contact:"+id)
}

// VerifyContactToken returns the contact id a token was made for, or false
// when it was not signed with secret.
func VerifyContactToken(secret, token string) (int64, bool) {
	id, mac, ok := strings.Cut(token, ".")
	if !ok || len(id) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return 0, false
	}
	if !hmac.Equal([]byte(mac), []byte(sign(secret, "contact:"+id))) {
		return 0, false
	}
	return n, true
}

// sign is a 128-bit HMAC-SHA256, base64url without padding.
func sign(secret, msg string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// Purposes of subscriber tokens: one link confirms, one changes what is
// received, one unsubscribes.
const (
	PurposeConfirm     = "subscribe-confirm"
	PurposeManage      = "subscriber-manage"
	PurposeUnsubscribe = "subscriber"
)

// PurposePortalLink signs the id of a sign-in link to the customer portal
// (single use and short-lived: the database row says whether it still
// works).
const PurposePortalLink = "portal-link"

// PurposeContactConfirm signs the id of a contact a customer added, for
// the address to confirm.
const PurposeContactConfirm = "contact-confirm"

// SubscriberToken signs a subscriber id for one purpose.
func SubscriberToken(secret, purpose string, id int64) string {
	s := strconv.FormatInt(id, 10)
	return s + "." + sign(secret, purpose+":"+s)
}

// VerifySubscriberToken returns the subscriber id a token was made for.
func VerifySubscriberToken(secret, purpose, token string) (int64, bool) {
	id, mac, ok := strings.Cut(token, ".")
	if !ok || len(id) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return 0, false
	}
	return n, hmac.Equal([]byte(mac), []byte(sign(secret, purpose+":"+id)))
}
