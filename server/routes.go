package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes declares every route of the application in one place.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Pre(methodPolicy)
	e.Use(s.recoverPanics, securityHeaders, middleware.BodyLimit("1M"), s.negotiateLanguage)

	e.GET("/", s.showStatusPage)
	e.GET("/incidents/:id", s.showIncident)
	e.GET("/maintenance/:id", s.showMaintenance)
	e.GET("/history", s.showHistory)
	e.GET("/healthz", s.healthz)
	e.GET("/static/:version/*", s.serveStatic)

	admin := e.Group("/admin", noStore, s.csrf(), s.loadOperator)
	admin.GET("/login", s.showLogin)
	admin.POST("/login", s.login)
	admin.POST("/logout", s.logout)

	op := admin.Group("", s.requireOperator)
	op.GET("", s.showDashboard)
	op.GET("/account", s.showAccount)
	op.POST("/account/password", s.changePassword)

	op.GET("/products", s.listProducts)
	op.GET("/products/new", s.newProduct)
	op.POST("/products", s.createProduct)
	op.GET("/products/:id/edit", s.editProduct)
	op.POST("/products/:id", s.updateProduct)
	op.POST("/products/:id/delete", s.deleteProduct)
	op.POST("/products/:id/move", s.moveProduct)
	op.GET("/components/new", s.newComponent)
	op.POST("/components", s.createComponent)
	op.GET("/components/:id/edit", s.editComponent)
	op.POST("/components/:id", s.updateComponent)
	op.POST("/components/:id/delete", s.deleteComponent)
	op.POST("/components/:id/move", s.moveComponent)
	op.POST("/components/:id/status", s.setComponentStatus)

	op.GET("/incidents", s.listIncidents)
	op.GET("/incidents/new", s.newIncident)
	op.POST("/incidents", s.createIncident)
	op.GET("/incidents/:id", s.manageIncident)
	op.POST("/incidents/:id/updates", s.postIncidentUpdate)
	op.GET("/incidents/:id/edit", s.editIncident)
	op.POST("/incidents/:id", s.updateIncident)
	op.GET("/incidents/:id/updates/:uid/edit", s.editIncidentUpdate)
	op.POST("/incidents/:id/updates/:uid", s.saveIncidentUpdate)
	op.POST("/incidents/:id/updates/:uid/delete", s.deleteIncidentUpdate)

	op.GET("/maintenance", s.listMaintenance)
	op.GET("/maintenance/new", s.newMaintenance)
	op.POST("/maintenance", s.createMaintenance)
	op.GET("/maintenance/:id", s.manageMaintenance)
	op.POST("/maintenance/:id/updates", s.postMaintenanceUpdate)
	op.GET("/maintenance/:id/edit", s.editMaintenance)
	op.POST("/maintenance/:id", s.updateMaintenance)
	op.GET("/maintenance/:id/updates/:uid/edit", s.editMaintenanceUpdate)
	op.POST("/maintenance/:id/updates/:uid", s.saveMaintenanceUpdate)

	adm := op.Group("", s.requireAdmin)
	adm.GET("/operators", s.listOperators)
	adm.GET("/operators/new", s.newOperator)
	adm.POST("/operators", s.createOperator)
	adm.POST("/operators/:id/role", s.setOperatorRole)
	adm.POST("/operators/:id/disable", s.disableOperator)
	adm.POST("/operators/:id/enable", s.enableOperator)
	return e
}

// methodPolicy refuses TRACE before routing, so nothing ever echoes a
// request back.
func methodPolicy(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodTrace {
			return echo.ErrMethodNotAllowed
		}
		return next(c)
	}
}
