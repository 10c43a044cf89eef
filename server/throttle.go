package server

import (
	"math"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// retryAfter tells a throttled client when to come back: whole seconds,
// rounded up, never less than one (a "0" invites an immediate retry that is
// refused again).
func (s *Server) retryAfter(c echo.Context, until time.Time) {
	secs := int64(math.Ceil(until.Sub(s.opts.Now()).Seconds()))
	c.Response().Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
