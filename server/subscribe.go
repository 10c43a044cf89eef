package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/locale"
	"github.com/oshirase/oshirase/internal/mail"
)

type subscribePage struct {
	Products []data.Product
	Langs    []string
	Sent     bool
	Channels []channel
}

// channel is a way to follow the page other than email: an address to
// copy into a feed reader, a calendar, a monitor or a web page.
type channel struct {
	Name, Hint string // message ids
	URL        string
	Badge      bool
}

// channels lists the other ways to follow, in the visitor's language where
// the channel has one (the JSON API speaks English unless asked).
func (s *Server) channels(lang string) []channel {
	base := strings.TrimRight(s.opts.BaseURL.String(), "/")
	q := ""
	if lang != locale.Languages[0] {
		q = "?lang=" + lang
	}
	return []channel{
		{Name: "channel.atom", Hint: "channel.atom_hint", URL: base + "/feed.atom" + q},
		{Name: "channel.rss", Hint: "channel.rss_hint", URL: base + "/feed.rss" + q},
		{Name: "channel.calendar", Hint: "channel.calendar_hint", URL: base + "/maintenance.ics" + q},
		{Name: "channel.api", Hint: "channel.api_hint", URL: base + "/api/v2/summary.json"},
		{Name: "channel.badge", Hint: "channel.badge_hint", URL: base + "/badge.svg", Badge: true},
	}
}

func (s *Server) showSubscribe(c echo.Context) error {
	products, err := s.store.Public().Products(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	f := &form{Values: map[string][]string{"lang": {langOf(c)}}}
	return s.render(c, http.StatusOK, "subscribe", &view{Title: s.t(c, "subscribe.title"), Form: f,
		Data: &subscribePage{Products: products, Langs: data.ContactLanguages, Channels: s.channels(langOf(c))}})
}

// Subscription requests are limited per address and per IP, so the form
// cannot be used to flood someone's inbox with confirmations.
func subscribeIPLimit(n int) time.Duration {
	if n >= 10 {
		return time.Hour
	}
	return 0
}

func subscribeEmailLimit(n int) time.Duration {
	if n >= 3 {
		return 24 * time.Hour
	}
	return 0
}

// subscribe takes a request and sends the confirmation: nothing else is
// ever emailed before the link in it is used. The answer is the same
// whether or not the address was already subscribed.
func (s *Server) subscribe(c echo.Context) error {
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	products, err := s.store.Public().Products(ctx)
	if err != nil {
		return err
	}
	page := &subscribePage{Products: products, Langs: data.ContactLanguages}
	// Counted before the confirmation is sent, atomically, so a burst of
	// requests cannot send more than the limit.
	ipKey, emailKey := data.ThrottleKey("subscribe-ip", c.RealIP()), data.ThrottleKey("subscribe-email", s.keyedHash(data.NormalizeEmail(f.Get("email"))))
	if until, err := s.store.ReserveAttempt(ctx, map[string]func(int) time.Duration{ipKey: subscribeIPLimit, emailKey: subscribeEmailLimit}); err != nil {
		return err
	} else if !until.IsZero() {
		s.retryAfter(c, until)
		f.fail("email", "subscribe_throttled")
		return s.render(c, http.StatusTooManyRequests, "subscribe", &view{Title: s.t(c, "subscribe.title"), Form: f, Data: page})
	}
	ids := f.idsField("products")
	hold := !s.opts.MailEnabled
	if !f.Invalid() {
		_, err = s.store.Subscribe(ctx, f.Get("email"), f.Get("lang"), ids, hold)
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "subscribe", &view{Title: s.t(c, "subscribe.title"), Form: f, Data: page})
	}
	if err != nil {
		return err
	}
	if !hold {
		s.opts.Wake()
	}
	page.Sent = true
	return s.render(c, http.StatusOK, "subscribe", &view{Title: s.t(c, "subscribe.title"), Form: &form{}, Data: page})
}

type subscriptionPage struct {
	Token string
	Done  bool
}

func (s *Server) subscriberFromToken(c echo.Context, purpose string) (*data.Subscriber, string, error) {
	token := c.Param("token")
	var id int64
	ok := false
	for _, secret := range s.secrets() {
		if id, ok = mail.VerifySubscriberToken(secret, purpose, token); ok {
			break
		}
	}
	if !ok || s.opts.Secret == "" {
		return nil, "", echo.ErrNotFound
	}
	sub, err := s.store.Subscriber(c.Request().Context(), id)
	if err != nil {
		return nil, "", err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return sub, token, nil
}

// showConfirm asks before confirming: link scanners open links with GET.
func (s *Server) showConfirm(c echo.Context) error {
	sub, token, err := s.subscriberFromToken(c, mail.PurposeConfirm)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscription_confirm", &view{Title: s.t(c, "subscribe.title"),
		Data: &subscriptionPage{Token: token, Done: sub.ConfirmedAt != nil}})
}

func (s *Server) confirmSubscription(c echo.Context) error {
	sub, token, err := s.subscriberFromToken(c, mail.PurposeConfirm)
	if err != nil {
		return err
	}
	if err := s.store.ConfirmSubscriber(c.Request().Context(), sub.ID); errors.Is(err, data.ErrNotFound) {
		return echo.NewHTTPError(http.StatusGone, "error.confirm_expired")
	} else if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscription_confirm", &view{Title: s.t(c, "subscribe.title"), Data: &subscriptionPage{Token: token, Done: true}})
}

type manageSubscriptionPage struct {
	Products         []data.Product
	Langs            []string
	Email            string
	Token            string
	UnsubscribeToken string
	Done             bool
}

// manageSubscription reads the subscriber from a manage link; only
// confirmed subscriptions can be changed (a pending one is confirmed
// first).
func (s *Server) manageSubscription(c echo.Context) (*data.Subscriber, *manageSubscriptionPage, error) {
	sub, token, err := s.subscriberFromToken(c, mail.PurposeManage)
	if err != nil {
		return nil, nil, err
	}
	if sub.ConfirmedAt == nil {
		return nil, nil, echo.ErrNotFound
	}
	products, err := s.store.Public().Products(c.Request().Context())
	if err != nil {
		return nil, nil, err
	}
	return sub, &manageSubscriptionPage{Products: products, Langs: data.ContactLanguages, Email: sub.Email, Token: token,
		UnsubscribeToken: mail.SubscriberToken(s.opts.Secret, mail.PurposeUnsubscribe, sub.ID)}, nil
}

func (s *Server) showManageSubscription(c echo.Context) error {
	sub, page, err := s.manageSubscription(c)
	if err != nil {
		return err
	}
	f := &form{Values: map[string][]string{"lang": {sub.Lang}}}
	if !sub.AllProducts {
		for _, p := range sub.Products {
			f.Values.Add("products", strconv.FormatInt(p.ProductID, 10))
		}
	}
	return s.render(c, http.StatusOK, "subscription_manage", &view{Title: s.t(c, "subscribe.manage_title"), Form: f, Data: page})
}

func (s *Server) saveManageSubscription(c echo.Context) error {
	sub, page, err := s.manageSubscription(c)
	if err != nil {
		return err
	}
	f, err := readForm(c)
	if err != nil {
		return err
	}
	ids := f.idsField("products")
	if !f.Invalid() {
		err = s.store.UpdateSubscriber(c.Request().Context(), sub.ID, f.Get("lang"), ids)
	}
	if f.Invalid() || f.absorb(err) {
		return s.render(c, http.StatusBadRequest, "subscription_manage", &view{Title: s.t(c, "subscribe.manage_title"), Form: f, Data: page})
	}
	if err != nil {
		return err
	}
	page.Done = true
	return s.render(c, http.StatusOK, "subscription_manage", &view{Title: s.t(c, "subscribe.manage_title"), Form: f, Data: page})
}

func (s *Server) showSubscriberUnsubscribe(c echo.Context) error {
	_, token, err := s.subscriberFromToken(c, mail.PurposeUnsubscribe)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"), Data: &unsubscribePage{Token: token, Subscriber: true}})
}

// unsubscribeSubscriber is one-click (RFC 8058) for subscribers: the
// subscriber is forgotten entirely.
func (s *Server) unsubscribeSubscriber(c echo.Context) error {
	sub, token, err := s.subscriberFromToken(c, mail.PurposeUnsubscribe)
	if err != nil {
		return err
	}
	if err := s.store.Unsubscribe(c.Request().Context(), sub.ID); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "unsubscribe", &view{Title: s.t(c, "unsubscribe.title"), Data: &unsubscribePage{Token: token, Done: true, Subscriber: true}})
}
