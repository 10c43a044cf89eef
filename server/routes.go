package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes declares every route of the application in one place.
func (s *Server) routes() *echo.Echo {
	s.fixed = fixedHeaders(s.secure())
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()
	e.Pre(methodPolicy)
	// Imports take files: a contracts CSV, a Statuspage page's JSON.
	isImport := func(c echo.Context) bool {
		p := c.Request().URL.Path
		return p == "/admin/contracts/import" || p == "/admin/import/statuspage"
	}
	// A request without a body (most GETs) has nothing to limit.
	noBody := func(c echo.Context) bool { return c.Request().Body == http.NoBody }
	// The language is known before anything can fail, so every error
	// page (a 413 for an oversized form, say) speaks it.
	e.Use(s.logAccess, s.recoverPanics, s.securityHeaders, s.negotiateLanguage, s.standby,
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M", Skipper: func(c echo.Context) bool { return noBody(c) || isImport(c) }}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "9M", Skipper: func(c echo.Context) bool { return noBody(c) || !isImport(c) }}),
		s.rejectBadText)

	e.GET("/", s.showStatusPage)
	e.GET("/incidents/:id", s.showIncident)
	e.GET("/maintenance/:id", s.showMaintenance)
	e.GET("/history", s.showHistory)
	e.GET("/news", s.showNews)
	e.GET("/news/:id", s.showAnnouncement)
	e.GET("/maintenance/:id/event.ics", s.maintenanceEventICS)
	e.GET("/upgrades/:id/event.ics", s.upgradeEventICS)
	e.GET("/upgrades/:id", s.showPublicUpgrade)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/.well-known/security.txt", s.securityTxt)
	e.GET("/brand/logo", s.serveLogo)
	e.GET("/metrics", s.serveMetrics)
	e.GET("/brand.css", s.serveBrandCSS)

	// Machine-readable status: Statuspage v2 JSON, feeds, calendar, badge.
	for _, p := range []string{"status", "summary", "components", "incidents", "incidents/unresolved",
		"scheduled-maintenances", "scheduled-maintenances/upcoming", "scheduled-maintenances/active"} {
		e.GET("/api/v2/"+p+".json", s.statusJSON)
	}
	e.OPTIONS("/api/v2/*", corsPreflight)
	e.GET("/api/v2/*", apiNotFound)
	e.GET("/feed.atom", s.feed)
	e.GET("/feed.rss", s.feed)
	e.GET("/products/:product/feed.atom", s.feed)
	e.GET("/products/:product/feed.rss", s.feed)
	e.GET("/maintenance.ics", s.icsCalendar)
	e.GET("/products/:product/maintenance.ics", s.icsCalendar)
	e.GET("/badge.svg", s.badge)

	// The embeddable notice for products' own pages (see embed.go).
	e.GET("/embed.js", s.embedScript)
	e.GET("/embed/products/:product", s.embedFrame)
	e.GET("/embed/products/:product/ja", s.embedFrame)
	e.GET("/embed/products/:product/en", s.embedFrame)
	e.GET("/embed/products/:product/ja.json", s.embedJSON)
	e.GET("/embed/products/:product/en.json", s.embedJSON)
	e.OPTIONS("/embed/products/:product/*", embedPreflight)

	// The operator API: bearer tokens, no cookies, so no CSRF.
	e.POST("/api/hooks/:integration/:secret", s.alertHook, s.dbDeadline)
	s.registerAPI(e, e.Group("/api/admin", s.dbDeadline, s.requireToken))
	e.GET("/static/:version/*", s.serveStatic)

	// Links in emails, signed for one contact. Preferences is a form like
	// any other (CSRF); one-click unsubscribe is POSTed by mail clients
	// without cookies (RFC 8058), so its token is its only check.
	prefs := e.Group("/preferences", noStore, s.csrf())
	prefs.GET("/:token", s.showPreferences)
	prefs.POST("/:token", s.savePreferences)
	e.GET("/unsubscribe/:token", s.showUnsubscribe, noStore, s.csrf())
	e.POST("/unsubscribe/:token", s.unsubscribe, noStore)

	// Public subscriptions: double opt-in, settings, one-click unsubscribe.
	sub := e.Group("/subscribe", noStore, s.csrf())
	sub.GET("", s.showSubscribe)
	sub.POST("", s.subscribe)
	sub.GET("/confirm/:token", s.showConfirm)
	sub.POST("/confirm/:token", s.confirmSubscription)
	sub.GET("/manage/:token", s.showManageSubscription)
	sub.POST("/manage/:token", s.saveManageSubscription)
	sub.GET("/unsubscribe/:token", s.showSubscriberUnsubscribe)
	// Webhook, Slack and Teams: verified before use, managed by a signed link.
	sub.GET("/channel", s.showChannelSubscribe)
	sub.POST("/channel", s.subscribeChannel)
	sub.GET("/channel/:token", s.showChannel)
	sub.POST("/channel/:token/delete", s.removeChannel)
	e.POST("/subscribe/unsubscribe/:token", s.unsubscribeSubscriber, noStore)

	// The customer portal: contract contacts, signed in by a mailed link.
	my := e.Group("/my", s.dbDeadline, noStore, s.csrf(), s.loadContact)
	my.GET("", s.showPortal)
	my.POST("/login", s.requestPortalLink)
	my.GET("/login/:token", s.showPortalLink)
	my.POST("/login/:token", s.usePortalLink)
	my.POST("/logout", s.portalLogout)
	mine := my.Group("", s.requireContact)
	mine.GET("/notices/:id", s.showPortalNotice)
	mine.GET("/incidents/:id", s.showPortalIncident)
	mine.GET("/maintenance/:id", s.showPortalMaintenance)
	mine.GET("/contracts/:id/sla", s.showPortalSLA)
	mine.GET("/contracts/:id/contacts", s.showPortalContacts)
	mine.POST("/contracts/:id/contacts", s.addPortalContact)
	mine.POST("/contacts/:id/remove", s.removePortalContact, s.asks(s.describeRemovePortalContact))
	my.GET("/confirm/:token", s.showContactConfirm)
	my.POST("/confirm/:token", s.confirmContact)

	admin := e.Group("/admin", s.dbDeadline, noStore, s.csrf(), s.loadOperator)
	admin.GET("/login", s.showLogin)
	admin.POST("/login", s.login)
	admin.POST("/logout", s.logout)
	admin.GET("/login/2fa", s.showSecondFactor)
	admin.POST("/login/2fa", s.verifySecondFactor)
	admin.GET("/invite/:token", s.showInvitation)
	admin.POST("/invite/:token", s.acceptInvitation)
	s.ssoRoutes(admin)

	op := admin.Group("", s.requireOperator, s.require2FA, s.auditPosts)
	op.GET("", s.showDashboard)
	op.GET("/account", s.showAccount)
	op.GET("/audience", s.showAudience)
	op.POST("/account/password", s.changePassword)
	op.POST("/account/email", s.changeEmail)
	op.POST("/account/lang", s.changeLanguage)
	op.POST("/account/2fa", s.enableTOTP)
	op.POST("/account/2fa/disable", s.disableTOTP)
	op.POST("/account/sessions/end", s.endSession)
	op.POST("/account/sessions/end-others", s.endOtherSessions)
	op.POST("/account/devices/forget", s.forgetDevice)
	s.passkeyRoutes(admin, op)

	op.GET("/products", s.listProducts)
	op.GET("/products/new", s.newProduct)
	op.POST("/products", s.createProduct)
	op.GET("/products/:id/edit", s.editProduct)
	op.GET("/products/:id/embed", s.showEmbed)
	op.POST("/products/:id", s.updateProduct)
	op.POST("/products/:id/delete", s.deleteProduct, s.asks(s.describeDeleteProduct))
	op.POST("/products/:id/move", s.mover(s.store.MoveProduct))
	op.GET("/components/new", s.newComponent)
	op.POST("/components", s.createComponent)
	op.GET("/components/:id/edit", s.editComponent)
	op.GET("/components/:id/monitors", s.showMonitors)
	op.POST("/components/:id/automation", s.saveAutomation)
	op.GET("/components/:id/monitors/new", s.newMonitor)
	op.POST("/components/:id/monitors", s.createMonitor)
	op.GET("/monitors/:id/edit", s.editMonitor)
	op.POST("/monitors/:id", s.updateMonitor)
	op.POST("/monitors/:id/delete", s.deleteMonitor)
	// Upstream dependencies: what a component follows (admin_upstreams.go).
	op.GET("/components/:id/upstreams", s.showUpstreams)
	op.GET("/components/:id/upstreams/new", s.newUpstream)
	op.POST("/components/:id/upstreams", s.createUpstream)
	op.GET("/upstreams/:id/edit", s.editUpstream)
	op.POST("/upstreams/:id", s.updateUpstream)
	op.POST("/upstreams/:id/delete", s.deleteUpstream)
	op.GET("/drafts", s.listDrafts)
	op.POST("/drafts/:id/dismiss", s.dismissDraft)
	op.POST("/components/:id", s.updateComponent)
	op.POST("/components/:id/delete", s.deleteComponent, s.asks(s.describeDeleteComponent))
	op.POST("/components/:id/move", s.mover(s.store.MoveComponent))
	op.POST("/components/:id/status", s.setComponentStatus)

	op.GET("/incidents", s.listIncidents)
	op.GET("/incidents/new", s.newIncident)
	op.POST("/incidents", s.createIncident)
	op.GET("/incidents/:id", s.manageIncident)
	op.POST("/incidents/:id/updates", s.postIncidentUpdate)
	op.GET("/incidents/:id/edit", s.editIncident)
	op.GET("/incidents/:id/postmortem", s.editPostmortem)
	op.POST("/incidents/:id/postmortem", s.savePostmortem)
	op.POST("/incidents/:id", s.updateIncident)
	op.GET("/incidents/:id/updates/:uid/edit", s.editIncidentUpdate)
	op.POST("/incidents/:id/updates/:uid", s.saveIncidentUpdate)
	op.POST("/incidents/:id/updates/:uid/delete", s.deleteIncidentUpdate, s.asks(s.describeDeleteIncidentUpdate))

	op.GET("/maintenance", s.listMaintenance)
	op.GET("/maintenance/new", s.newMaintenance)
	op.POST("/maintenance", s.createMaintenance)
	op.GET("/maintenance/:id", s.manageMaintenance)
	op.POST("/maintenance/:id/updates", s.postMaintenanceUpdate, s.asks(s.describeMaintenanceUpdate))
	op.GET("/maintenance/:id/edit", s.editMaintenance)
	op.POST("/maintenance/:id", s.updateMaintenance)
	op.GET("/maintenance/:id/updates/:uid/edit", s.editMaintenanceUpdate)
	op.POST("/maintenance/:id/updates/:uid", s.saveMaintenanceUpdate)
	// Recurring maintenance (issue 25): the series; occurrences are windows.
	op.GET("/series", s.listSeries)
	op.GET("/series/new", s.newSeries)
	op.POST("/series", s.createSeries)
	op.GET("/series/:id", s.showSeries)
	op.GET("/series/:id/edit", s.editSeries)
	op.POST("/series/:id", s.updateSeries)
	op.POST("/series/:id/stop", s.stopSeries, s.asks(s.describeStopSeries))

	op.GET("/templates", s.listTemplates)
	op.GET("/templates/new", s.newTemplate)
	op.POST("/templates", s.saveTemplate)
	op.GET("/templates/:id", s.editTemplate)
	op.POST("/templates/:id", s.saveTemplate)
	op.POST("/templates/:id/delete", s.deleteTemplate, s.asks(s.describeDeleteTemplate))
	op.GET("/contracts", s.listContracts)
	op.GET("/contracts/new", s.newContract)
	op.POST("/contracts", s.createContract)
	op.GET("/contracts/export.csv", s.exportContracts)
	op.GET("/contracts/import", s.showImport)
	op.POST("/contracts/import", s.previewImport)
	op.POST("/contracts/import/apply", s.applyImport)
	op.GET("/contracts/:id", s.showContract)
	op.POST("/contracts/:id", s.updateContract, s.asks(s.describeContractUpdate))
	op.POST("/contracts/:id/contacts", s.addContact)
	op.POST("/contracts/:id/portal", s.setContractPortal)
	op.GET("/contracts/:id/sla", s.showContractSLA)
	op.GET("/sla", s.showSLABreaches)
	op.POST("/contracts/:id/sla", s.saveContractSLA)
	op.GET("/contacts/:id/address", s.showAddress)
	op.POST("/contacts/:id/address", s.saveAddress)
	op.GET("/contacts/:id/edit", s.editContact)
	op.POST("/contacts/:id", s.updateContact)
	op.POST("/contacts/:id/delete", s.deleteContact, s.asks(s.describeDeleteContact))

	op.GET("/notifications", s.listNotifications)
	op.GET("/notifications/:id", s.showNotification)
	op.GET("/notifications/:id/html/:delivery", s.showNotificationHTML)
	op.POST("/notifications/:id/retry", s.retryNotification)
	op.POST("/notifications/:id/release", s.releaseNotification, s.asks(s.describeRelease))
	op.POST("/notifications/:id/discard", s.discardNotification, s.asks(s.describeDiscard))
	op.POST("/notifications/:id/retry-bounced", s.retryBounced, s.asks(s.describeRetryBounced))
	op.POST("/notifications/discard-held", s.discardAllHeld, s.asks(s.describeDiscardAll))

	op.GET("/policy", s.showPolicy)

	op.GET("/upgrades", s.listUpgrades)
	op.GET("/upgrades/new", s.newUpgrade)
	op.POST("/upgrades", s.createUpgrade)
	op.GET("/upgrades/:id", s.showUpgrade)
	op.POST("/upgrades/:id", s.updateUpgrade)
	op.POST("/upgrades/:id/cancel", s.cancelUpgrade, s.asks(s.describeCancelUpgrade))

	op.GET("/announcements", s.listAnnouncements)
	op.GET("/announcements/new", s.newAnnouncement)
	op.POST("/announcements", s.createAnnouncement)
	op.GET("/announcements/:id/edit", s.editAnnouncement)
	op.POST("/announcements/:id", s.updateAnnouncement)
	op.POST("/announcements/:id/delete", s.deleteAnnouncement, s.asks(s.describeDeleteAnnouncement))

	op.GET("/subscribers", s.listSubscribers)
	op.POST("/subscribers/:id/delete", s.deleteSubscriber, s.asks(s.describeDeleteSubscriber))

	op.GET("/jobs", s.showJobs)
	op.GET("/usage", s.showUsage)
	op.GET("/usage.csv", s.exportUsage)

	adm := op.Group("", s.requireAdmin)
	adm.POST("/policy", s.savePolicy)
	adm.GET("/alerts", s.showAlerts)
	adm.POST("/alerts", s.addAlertChannel)
	adm.POST("/alerts/:id/delete", s.deleteAlertChannel)
	adm.GET("/integrations", s.listIntegrations)
	adm.POST("/integrations", s.createIntegration)
	adm.POST("/integrations/:id/revoke", s.revokeIntegration)
	adm.GET("/sla/settings", s.showSLASettings)
	adm.POST("/sla/settings", s.saveSLASettings)
	adm.GET("/outbound", s.showOutbound)
	adm.POST("/outbound", s.openOutboundRange)
	adm.POST("/outbound/:id/close", s.closeOutboundRange, s.asks(s.describeCloseOutboundRange))
	adm.GET("/branding", s.showBranding)
	adm.POST("/branding", s.saveBranding)
	adm.GET("/audit", s.showAudit)
	adm.GET("/tokens", s.listTokens)
	adm.POST("/tokens", s.createToken)
	adm.POST("/tokens/:id/revoke", s.revokeToken, s.asks(s.describeRevokeToken))
	adm.GET("/operators", s.listOperators)
	adm.GET("/operators/new", s.newOperator)
	adm.POST("/operators", s.inviteOperator)
	adm.POST("/operators/:id/role", s.setOperatorRole)
	adm.POST("/operators/:id/disable", s.disableOperator, s.asks(s.describeDisableOperator))
	adm.POST("/operators/:id/enable", s.enableOperator)
	adm.GET("/operators/:id/sessions", s.showOperatorSessions)
	adm.POST("/operators/:id/sessions/end", s.endOperatorSessions, s.asks(s.describeEndOperatorSessions))
	// Moving in from Statuspage, and the incident history as CSV (issue 25;
	// admin_import_statuspage.go).
	op.GET("/incidents/export.csv", s.exportIncidentsCSV)
	adm.GET("/import/statuspage", s.showStatuspageImport)
	adm.POST("/import/statuspage", s.previewStatuspageImport)
	adm.POST("/import/statuspage/apply", s.applyStatuspageImport)
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
