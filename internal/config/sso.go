package config

import (
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
)

// SSO is operators' sign-in through an OpenID Connect identity provider
// (OSHIRASE_OIDC_*).
type SSO struct {
	// Issuer is the provider's issuer URL, exactly as its tokens say it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name labels the sign-in button, such as "Microsoft Entra ID".
	Name string
	// Scopes are asked for beyond openid, email and profile (groups for Okta).
	Scopes []string
	// RoleClaim names the claim that gives an operator's role (groups,
	// roles); empty keeps roles in Oshirase. With it, a value in
	// AdminValues makes an admin, one in EditorValues an editor, and
	// anyone matching neither gets no access.
	RoleClaim    string
	AdminValues  []string
	EditorValues []string
	// JIT creates an operator at their first sign-in.
	JIT bool
	// AllowedDomains, when set, are the only email domains let in.
	AllowedDomains []string
}

// Password sign-in (OSHIRASE_PASSWORD_LOGIN).
const (
	// PasswordLoginOn lets every operator sign in with a password.
	PasswordLoginOn = "on"
	// PasswordLoginBreakGlass keeps password (and passkey) sign-in for
	// the break-glass admins alone; everyone else goes through the
	// identity provider.
	PasswordLoginBreakGlass = "break-glass"
)

// checkSSO reads OSHIRASE_OIDC_*, OSHIRASE_PASSWORD_LOGIN and
// OSHIRASE_BREAK_GLASS.
func (c *Config) checkSSO(get func(name, def string) string) error {
	issuer, id, secret := get("OSHIRASE_OIDC_ISSUER", ""), get("OSHIRASE_OIDC_CLIENT_ID", ""), get("OSHIRASE_OIDC_CLIENT_SECRET", "")
	if issuer != "" || id != "" || secret != "" {
		for i, v := range []string{issuer, id, secret} {
			if name := []string{"OSHIRASE_OIDC_ISSUER", "OSHIRASE_OIDC_CLIENT_ID", "OSHIRASE_OIDC_CLIENT_SECRET"}[i]; v == "" {
				return fmt.Errorf("%s: set OSHIRASE_OIDC_ISSUER, OSHIRASE_OIDC_CLIENT_ID and OSHIRASE_OIDC_CLIENT_SECRET together, or none of them", name)
			}
		}
		if err := checkIssuer(issuer); err != nil {
			return err
		}
		c.SSO = &SSO{Issuer: issuer, ClientID: id, ClientSecret: secret, Name: get("OSHIRASE_OIDC_NAME", "SSO")}
	} else {
		for _, name := range []string{"OSHIRASE_OIDC_NAME", "OSHIRASE_OIDC_SCOPES", "OSHIRASE_OIDC_ROLE_CLAIM", "OSHIRASE_OIDC_ADMIN_VALUES",
			"OSHIRASE_OIDC_EDITOR_VALUES", "OSHIRASE_OIDC_JIT", "OSHIRASE_OIDC_ALLOWED_DOMAINS"} {
			if get(name, "") != "" {
				return fmt.Errorf("%s: needs OSHIRASE_OIDC_ISSUER, OSHIRASE_OIDC_CLIENT_ID and OSHIRASE_OIDC_CLIENT_SECRET", name)
			}
		}
	}
	if s := c.SSO; s != nil {
		if err := s.read(get); err != nil {
			return err
		}
	}
	return c.checkPasswordLogin(get)
}

// checkIssuer accepts an https issuer, or http on this machine (a provider
// under test).
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("OSHIRASE_OIDC_ISSUER: %q must be the provider's issuer URL, such as https://login.microsoftonline.com/<tenant-id>/v2.0", issuer)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || (net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("OSHIRASE_OIDC_ISSUER: %q must be https:// (http:// only on localhost)", issuer)
}

func (s *SSO) read(get func(name, def string) string) error {
	seen := map[string]bool{"openid": true, "email": true, "profile": true}
	for _, sc := range strings.FieldsFunc(get("OSHIRASE_OIDC_SCOPES", ""), func(r rune) bool { return r == ',' || r == ' ' }) {
		if strings.ContainsAny(sc, "\"\\") || !printable(sc) {
			return fmt.Errorf("OSHIRASE_OIDC_SCOPES: %q is not a scope such as groups", sc)
		}
		if !seen[sc] {
			seen[sc] = true
			s.Scopes = append(s.Scopes, sc)
		}
	}
	s.RoleClaim = get("OSHIRASE_OIDC_ROLE_CLAIM", "")
	s.AdminValues = list(get("OSHIRASE_OIDC_ADMIN_VALUES", ""))
	s.EditorValues = list(get("OSHIRASE_OIDC_EDITOR_VALUES", ""))
	switch {
	case s.RoleClaim == "" && len(s.AdminValues)+len(s.EditorValues) > 0:
		name := "OSHIRASE_OIDC_ADMIN_VALUES"
		if len(s.AdminValues) == 0 {
			name = "OSHIRASE_OIDC_EDITOR_VALUES"
		}
		return fmt.Errorf("%s: needs OSHIRASE_OIDC_ROLE_CLAIM, the claim these values are looked for in (such as groups or roles)", name)
	case s.RoleClaim != "" && len(s.AdminValues)+len(s.EditorValues) == 0:
		return fmt.Errorf("OSHIRASE_OIDC_ROLE_CLAIM: set OSHIRASE_OIDC_ADMIN_VALUES and/or OSHIRASE_OIDC_EDITOR_VALUES too, or nobody could sign in")
	case s.RoleClaim != "" && !printable(s.RoleClaim):
		return fmt.Errorf("OSHIRASE_OIDC_ROLE_CLAIM: %q is not a claim name such as groups or roles", s.RoleClaim)
	}
	switch v := strings.ToLower(get("OSHIRASE_OIDC_JIT", "false")); v {
	case "true", "1", "yes":
		s.JIT = true
	case "false", "0", "no":
	default:
		return fmt.Errorf("OSHIRASE_OIDC_JIT: %q must be true or false", v)
	}
	for _, d := range list(get("OSHIRASE_OIDC_ALLOWED_DOMAINS", "")) {
		d = strings.ToLower(strings.TrimPrefix(d, "@"))
		if !strings.Contains(d, ".") || strings.ContainsAny(d, "@/: ") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return fmt.Errorf("OSHIRASE_OIDC_ALLOWED_DOMAINS: %q is not an email domain such as example.co.jp", d)
		}
		s.AllowedDomains = append(s.AllowedDomains, d)
	}
	return nil
}

func (c *Config) checkPasswordLogin(get func(name, def string) string) error {
	glass := list(get("OSHIRASE_BREAK_GLASS", ""))
	switch v := strings.ToLower(get("OSHIRASE_PASSWORD_LOGIN", PasswordLoginOn)); v {
	case PasswordLoginOn:
		c.PasswordLogin = v
		if len(glass) > 0 {
			return fmt.Errorf("OSHIRASE_BREAK_GLASS: only used with OSHIRASE_PASSWORD_LOGIN=break-glass (now every operator may sign in with a password)")
		}
		return nil
	case PasswordLoginBreakGlass:
		c.PasswordLogin = v
	default:
		return fmt.Errorf("OSHIRASE_PASSWORD_LOGIN: %q must be on or break-glass", v)
	}
	if c.SSO == nil {
		return fmt.Errorf("OSHIRASE_PASSWORD_LOGIN: break-glass needs single sign-on configured (OSHIRASE_OIDC_ISSUER, OSHIRASE_OIDC_CLIENT_ID, OSHIRASE_OIDC_CLIENT_SECRET)")
	}
	if len(glass) == 0 {
		return fmt.Errorf("OSHIRASE_BREAK_GLASS: list the admin addresses that may still sign in with a password, such as admin-emergency@example.com")
	}
	for _, a := range glass {
		a = strings.ToLower(a)
		if m, err := netmail.ParseAddress(a); err != nil || m.Address != a {
			return fmt.Errorf("OSHIRASE_BREAK_GLASS: %q is not an email address", a)
		}
		c.BreakGlass = append(c.BreakGlass, a)
	}
	return nil
}

// list splits a comma-separated value, dropping blanks.
func list(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return s != ""
}
