package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
	"github.com/oshirase/oshirase/internal/mail"
	"github.com/oshirase/oshirase/internal/outbound"
)

// PurposeChannel signs the link that manages a channel subscription.
const purposeChannel = "channel-manage"

// channelPage is the form to follow the page in a webhook, Slack or Teams,
// and what it says once the channel answered.
type channelPage struct {
	Products []data.Product
	Langs    []string
	Kinds    []string
	// After a subscription: where to manage it and, for a webhook, the
	// secret that signs its requests (shown once).
	ManageURL, Secret string
	Operator          bool
	Channels          []data.Channel
	// The console's view of every channel (see admin_channels.go).
	channelsConsole
}

func (s *Server) channelPageData(ctx context.Context, operator bool) (*channelPage, error) {
	// A visitor chooses among what the public sees.
	var products []data.Product
	var err error
	if operator {
		products, err = s.store.Products(ctx)
	} else {
		products, err = s.store.Public().Products(ctx)
	}
	if err != nil {
		return nil, err
	}
	v := &channelPage{Products: products, Langs: data.ContactLanguages, Kinds: data.ChannelKinds, Operator: operator}
	if operator {
		if v.Channels, err = s.store.Channels(ctx, true); err != nil {
			return nil, err
		}
		if v.channelsConsole, err = s.channelsConsole(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (s *Server) showChannelSubscribe(c echo.Context) error {
	v, err := s.channelPageData(c.Request().Context(), false)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	f := &form{Values: map[string][]string{"lang": {langOf(c)}, "kind": {data.ChannelWebhook}}}
	return s.render(c, http.StatusOK, "channel_subscribe", &view{Title: s.t(c, "channels.title"), Form: f, Data: v})
}

// subscribeChannel checks the address (https, not local or private),
// sends the verification — a webhook must answer with the challenge,
// Slack and Teams must accept a short message — and only then saves it.
func (s *Server) subscribeChannel(c echo.Context) error {
	return s.addChannel(c, false)
}

func (s *Server) addChannel(c echo.Context, operator bool) error {
	ctx := c.Request().Context()
	f, err := readForm(c)
	if err != nil {
		return err
	}
	v, err := s.channelPageData(ctx, operator)
	if err != nil {
		return err
	}
	page, title := "channel_subscribe", s.t(c, "channels.title")
	if operator {
		page, title = "alerts", s.t(c, "alerts.title")
	}
	fail := func(code int) error { return s.render(c, code, page, &view{Title: title, Form: f, Data: v}) }
	var sentAt time.Time // when the verification went out
	client := s.opts.Outbound
	if !operator {
		// A visitor's address is reached under the anonymous policy (no
		// range opened for operators), and a failure is answered no sooner
		// than the floor and in one wording, so neither the time nor the
		// message tells an open port from a closed one.
		client = client.Anonymous()
		answer := fail
		fail = func(code int) error {
			if wait := s.opts.AnonymousVerifyFloor - time.Since(sentAt); !sentAt.IsZero() && wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				t.Stop()
			}
			return answer(code)
		}
		key := data.ThrottleKey("channel-ip", c.RealIP())
		if until, err := s.store.ReserveAttempt(ctx, map[string]func(int) time.Duration{key: channelIPLimit}); err != nil {
			return err
		} else if !until.IsZero() {
			s.retryAfter(c, until)
			f.fail("url", "subscribe_throttled")
			return fail(http.StatusTooManyRequests)
		}
	}
	in := data.ChannelInput{Kind: f.Get("kind"), URL: strings.TrimSpace(f.Get("url")), Lang: f.Get("lang"),
		ProductIDs: f.idsField("products"), OwnerEmail: f.Get("owner_email"), Operator: operator}
	if f.Invalid() || f.absorb(s.store.ValidateChannel(ctx, in)) {
		return fail(http.StatusBadRequest)
	}
	if err := client.CheckURL(in.URL); err != nil {
		f.fail("url", refusedKey(err, operator))
		return fail(http.StatusBadRequest)
	}
	if in.Kind == data.ChannelWebhook {
		in.Secret = "whsec_" + randomToken()
	}
	challenge := randomToken()
	body, err := s.opts.Channels.Verification(in.Kind, in.Lang, challenge, s.siteName(in.Lang))
	if err != nil {
		return err
	}
	sentAt = time.Now()
	res, err := client.Post(ctx, in.URL, body, in.Secret, s.opts.Now())
	switch {
	case errors.Is(err, outbound.ErrRefused):
		f.fail("url", refusedKey(err, operator))
		return fail(http.StatusBadRequest)
	case !operator && in.Kind == data.ChannelWebhook && (err != nil || res.Status < 200 || res.Status > 299 || !bytes.Contains(res.Body, []byte(challenge))):
		// One answer for no answer, a refusal and a 2xx without the
		// challenge: a visitor learns only that it did not verify.
		f.fail("url", "channel_not_verified")
		return fail(http.StatusBadRequest)
	case err != nil, res.Status < 200 || res.Status > 299:
		f.fail("url", "channel_unreachable")
		return fail(http.StatusBadRequest)
	case in.Kind == data.ChannelWebhook && !bytes.Contains(res.Body, []byte(challenge)):
		f.fail("url", "channel_no_challenge")
		return fail(http.StatusBadRequest)
	}
	ch, err := s.store.CreateChannel(ctx, in)
	if f.absorb(err) {
		return fail(http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	s.audit(c, "channel.create", "channel="+strconv.FormatInt(ch.ID, 10), map[string]any{"kind": ch.Kind, "operator": operator})
	if operator {
		return s.done(c, "flash.saved", "/admin/alerts")
	}
	v.ManageURL = s.ChannelManageURL(ch.ID, false)
	v.Secret = in.Secret
	return s.render(c, http.StatusOK, page, &view{Title: title, Form: &form{}, Data: v})
}

// refusedKey is the message for a refused channel address: the operators
// hear that an admin can open an internal range; a visitor only that the
// address is not usable.
func refusedKey(err error, operator bool) string {
	switch {
	case operator && errors.Is(err, outbound.ErrNeverOpened):
		return "outbound_never"
	case operator && errors.Is(err, outbound.ErrInternal):
		return "outbound_internal"
	}
	return "channel_url"
}

// channelIPLimit bounds registrations per IP: each sends a request to an
// address someone typed.
func channelIPLimit(n int) time.Duration {
	if n >= 20 {
		return time.Hour
	}
	return 0
}

// siteName is the branded title in lang, else the default.
func (s *Server) siteName(lang string) string {
	if t := s.store.CachedBranding(context.Background()).Title(lang); t != "" {
		return t
	}
	return s.catalog.T(lang, "site.name")
}

func (s *Server) channelFromToken(c echo.Context) (*data.Channel, error) {
	for _, secret := range s.secrets() {
		if id, ok := mail.VerifySubscriberToken(secret, purposeChannel, c.Param("token")); ok && s.opts.Secret != "" {
			ch, err := s.store.Channel(c.Request().Context(), id)
			if errors.Is(err, data.ErrNotFound) {
				return nil, echo.ErrNotFound
			}
			return ch, err
		}
	}
	return nil, echo.ErrNotFound
}

// channelManagePage shows a channel and removes it.
type channelManagePage struct {
	Channel *data.Channel
	Token   string
	Removed bool
}

func (s *Server) showChannel(c echo.Context) error {
	ch, err := s.channelFromToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, "channel_manage", &view{Title: s.t(c, "channels.manage"), Data: &channelManagePage{Channel: ch, Token: c.Param("token")}})
}

func (s *Server) removeChannel(c echo.Context) error {
	ch, err := s.channelFromToken(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteChannel(c.Request().Context(), ch.ID); err != nil {
		return err
	}
	s.audit(c, "channel.delete", "channel="+strconv.FormatInt(ch.ID, 10), nil)
	return s.render(c, http.StatusOK, "channel_manage", &view{Title: s.t(c, "channels.manage"), Data: &channelManagePage{Channel: ch, Removed: true}})
}

func (s *Server) addAlertChannel(c echo.Context) error { return s.addChannel(c, true) }

func (s *Server) deleteAlertChannel(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ch, err := s.store.Channel(c.Request().Context(), id)
	if err != nil || !ch.Operator {
		return echo.ErrNotFound
	}
	if err := s.store.DeleteChannel(c.Request().Context(), id); err != nil {
		return err
	}
	s.audit(c, "channel.delete", "channel="+strconv.FormatInt(id, 10), nil)
	return s.done(c, "flash.deleted", "/admin/alerts")
}

// ChannelManageURL is where a channel is managed: for a subscriber's, the
// signed address where its owner manages or removes it (shown once when
// it is made, and the meta.unsubscribe of every webhook it is sent); for
// an operators' channel, its page in the console.
func (s *Server) ChannelManageURL(id int64, operator bool) string {
	base := strings.TrimRight(s.opts.BaseURL.String(), "/")
	if operator {
		return base + "/admin/alerts?channel=" + strconv.FormatInt(id, 10) + "#deliveries"
	}
	return base + "/subscribe/channel/" + mail.SubscriberToken(s.opts.Secret, purposeChannel, id)
}
