package main

import (
	"github.com/oshirase/oshirase/internal/config"
	"github.com/oshirase/oshirase/server"
)

// ssoOptions hands the identity provider's settings to the server; nil
// when single sign-on is not configured.
func ssoOptions(cfg *config.Config) *server.SSOOptions {
	s := cfg.SSO
	if s == nil {
		return nil
	}
	o := &server.SSOOptions{Issuer: s.Issuer, ClientID: s.ClientID, ClientSecret: s.ClientSecret, Name: s.Name, Scopes: s.Scopes,
		RoleClaim: s.RoleClaim, AdminValues: s.AdminValues, EditorValues: s.EditorValues, JIT: s.JIT, AllowedDomains: s.AllowedDomains}
	if cfg.PasswordLogin == config.PasswordLoginBreakGlass {
		o.BreakGlass = cfg.BreakGlass
	}
	return o
}
