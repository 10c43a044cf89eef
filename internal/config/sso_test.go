package config

import (
	"slices"
	"strings"
	"testing"
)

var oidcBase = []string{"OSHIRASE_OIDC_ISSUER", "https://login.microsoftonline.com/tenant/v2.0",
	"OSHIRASE_OIDC_CLIENT_ID", "oshirase", "OSHIRASE_OIDC_CLIENT_SECRET", "s3cret"}

func withOIDC(kv ...string) []string { return append(slices.Clone(oidcBase), kv...) }

func TestSSOConfiguration(t *testing.T) {
	c, err := Load(env())
	if err != nil || c.SSO != nil || c.PasswordLogin != PasswordLoginOn || c.BreakGlass != nil {
		t.Fatalf("without OIDC: %+v %v", c, err)
	}
	c, err = Load(env(withOIDC()...))
	if err != nil || c.SSO == nil || c.SSO.Name != "SSO" || c.SSO.JIT || c.SSO.RoleClaim != "" || c.SSO.ClientSecret != "s3cret" {
		t.Fatalf("defaults: %+v %v", c.SSO, err)
	}
	c, err = Load(env(withOIDC("OSHIRASE_OIDC_NAME", "Microsoft Entra ID", "OSHIRASE_OIDC_SCOPES", "groups, openid offline_access",
		"OSHIRASE_OIDC_ROLE_CLAIM", "roles", "OSHIRASE_OIDC_ADMIN_VALUES", "Status.Admin, ", "OSHIRASE_OIDC_EDITOR_VALUES", "Status.Editor,Support",
		"OSHIRASE_OIDC_JIT", "true", "OSHIRASE_OIDC_ALLOWED_DOMAINS", "@Example.co.jp, example.com",
		"OSHIRASE_PASSWORD_LOGIN", "break-glass", "OSHIRASE_BREAK_GLASS", "Root@Example.com, ops@example.com")...))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SSO
	if s.Name != "Microsoft Entra ID" || !slices.Equal(s.Scopes, []string{"groups", "offline_access"}) || s.RoleClaim != "roles" ||
		!slices.Equal(s.AdminValues, []string{"Status.Admin"}) || !slices.Equal(s.EditorValues, []string{"Status.Editor", "Support"}) || !s.JIT ||
		!slices.Equal(s.AllowedDomains, []string{"example.co.jp", "example.com"}) {
		t.Fatalf("read: %+v", s)
	}
	if c.PasswordLogin != PasswordLoginBreakGlass || !slices.Equal(c.BreakGlass, []string{"root@example.com", "ops@example.com"}) {
		t.Fatalf("break-glass: %q %v", c.PasswordLogin, c.BreakGlass)
	}
	for _, issuer := range []string{"http://localhost:9998", "http://127.0.0.1:5556/dex", "http://[::1]:8080"} {
		if _, err := Load(env("OSHIRASE_OIDC_ISSUER", issuer, "OSHIRASE_OIDC_CLIENT_ID", "x", "OSHIRASE_OIDC_CLIENT_SECRET", "y")); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
}

func TestSSOBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env      []string
		variable string
	}{
		{[]string{"OSHIRASE_OIDC_ISSUER", "https://accounts.google.com"}, "OSHIRASE_OIDC_CLIENT_"},
		{[]string{"OSHIRASE_OIDC_CLIENT_ID", "x", "OSHIRASE_OIDC_CLIENT_SECRET", "y"}, "OSHIRASE_OIDC_ISSUER"},
		{[]string{"OSHIRASE_OIDC_ISSUER", "https://accounts.google.com", "OSHIRASE_OIDC_CLIENT_ID", "x"}, "OSHIRASE_OIDC_CLIENT_SECRET"},
		{withOIDC("OSHIRASE_OIDC_ISSUER", "http://idp.example.com"), "OSHIRASE_OIDC_ISSUER"},
		{withOIDC("OSHIRASE_OIDC_ISSUER", "https://idp.example.com/?tenant=1"), "OSHIRASE_OIDC_ISSUER"},
		{withOIDC("OSHIRASE_OIDC_ISSUER", "login.microsoftonline.com"), "OSHIRASE_OIDC_ISSUER"},
		{[]string{"OSHIRASE_OIDC_NAME", "Okta"}, "OSHIRASE_OIDC_NAME"},
		{[]string{"OSHIRASE_OIDC_JIT", "true"}, "OSHIRASE_OIDC_JIT"},
		{withOIDC("OSHIRASE_OIDC_JIT", "sometimes"), "OSHIRASE_OIDC_JIT"},
		{withOIDC("OSHIRASE_OIDC_ROLE_CLAIM", "groups"), "OSHIRASE_OIDC_ROLE_CLAIM"},
		{withOIDC("OSHIRASE_OIDC_ADMIN_VALUES", "admins"), "OSHIRASE_OIDC_ADMIN_VALUES"},
		{withOIDC("OSHIRASE_OIDC_EDITOR_VALUES", "editors"), "OSHIRASE_OIDC_EDITOR_VALUES"},
		{withOIDC("OSHIRASE_OIDC_ALLOWED_DOMAINS", "user@example.com"), "OSHIRASE_OIDC_ALLOWED_DOMAINS"},
		{withOIDC("OSHIRASE_OIDC_ALLOWED_DOMAINS", "localhost"), "OSHIRASE_OIDC_ALLOWED_DOMAINS"},
		{withOIDC("OSHIRASE_PASSWORD_LOGIN", "off"), "OSHIRASE_PASSWORD_LOGIN"},
		{[]string{"OSHIRASE_PASSWORD_LOGIN", "break-glass", "OSHIRASE_BREAK_GLASS", "a@example.com"}, "OSHIRASE_PASSWORD_LOGIN"},
		{withOIDC("OSHIRASE_PASSWORD_LOGIN", "break-glass"), "OSHIRASE_BREAK_GLASS"},
		{withOIDC("OSHIRASE_PASSWORD_LOGIN", "break-glass", "OSHIRASE_BREAK_GLASS", "root"), "OSHIRASE_BREAK_GLASS"},
		{withOIDC("OSHIRASE_BREAK_GLASS", "root@example.com"), "OSHIRASE_BREAK_GLASS"},
	}
	for _, tc := range cases {
		_, err := Load(env(tc.env...))
		if err == nil || !strings.HasPrefix(err.Error(), tc.variable) {
			t.Errorf("%v: got %v, want an error naming %s", tc.env, err, tc.variable)
		}
	}
}
