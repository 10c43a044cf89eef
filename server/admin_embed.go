package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// embedPage is the console's page of one product's embeddable notice: the
// snippets to copy, and what a host's policy must allow.
type embedPage struct {
	ProductID                   int64
	Name                        string
	ContractOnly                bool
	Origin, Script, Frame, JSON string
	CSP                         string
}

func (s *Server) showEmbed(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, err := s.store.Product(c.Request().Context(), id)
	if err != nil {
		return err
	}
	// A product whose every component is contract-only has no public
	// notice: the snippet would show nothing.
	only := len(p.Components) > 0
	for _, cp := range p.Components {
		only = only && cp.ContractOnly
	}
	origin := strings.TrimRight(s.opts.BaseURL.String(), "/")
	n := strconv.FormatInt(id, 10)
	v := embedPage{ProductID: id, Name: pickLang(langOf(c), p.NameJA, p.NameEN), ContractOnly: only, Origin: origin,
		Script: `<script src="` + origin + `/embed.js" data-product="` + n + `" async></script>`,
		Frame: `<iframe src="` + origin + `/embed/products/` + n + `" title="` + s.t(c, "embed.region") +
			`" width="100%" height="160" frameborder="0" loading="lazy"></iframe>`,
		JSON: origin + "/embed/products/" + n + "/" + langOf(c) + ".json",
		CSP:  "script-src " + origin + "; style-src " + origin + "; connect-src " + origin + "; frame-src " + origin}
	return s.render(c, http.StatusOK, "admin_embed", &view{Title: s.t(c, "embed.title"), Data: v})
}
