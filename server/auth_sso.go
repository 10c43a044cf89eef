package server

import (
	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// ssoRoutes adds the OpenID Connect sign-in under /admin.
func (s *Server) ssoRoutes(admin *echo.Group) {}

// localSignInAllowed reports whether op may sign in with a password or a
// passkey: always, unless sign-in goes through the identity provider for
// everyone but the break-glass admins.
func (s *Server) localSignInAllowed(op *data.Operator) bool { return true }
