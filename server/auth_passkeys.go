package server

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// passkeyRoutes adds passkey sign-in under /admin and the passkey list of
// the account page under the signed-in group.
func (s *Server) passkeyRoutes(admin, signedIn *echo.Group) {}

// hasPasskeys reports whether op has registered a passkey.
func (s *Server) hasPasskeys(ctx context.Context, op *data.Operator) (bool, error) { return false, nil }

// passkeyRow is one of the operator's passkeys on the account page.
type passkeyRow struct{}

// fillPasskeys lists the operator's passkeys on the account page.
func (s *Server) fillPasskeys(c echo.Context, v *accountPage) error { return nil }
