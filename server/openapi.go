package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes the operator API (OpenAPI 3.0). A test checks that
// every /api/admin route is in it.
func openAPIDoc(base string) map[string]any {
	obj := func(props map[string]any, required ...string) map[string]any {
		m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	str := map[string]any{"type": "string"}
	boolean := map[string]any{"type": "boolean"}
	ts := map[string]any{"type": "string", "format": "date-time"}
	statusMap := map[string]any{"type": "object", "description": "component id → status", "additionalProperties": map[string]any{
		"type": "string", "enum": []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}}}
	incStatus := map[string]any{"type": "string", "enum": []string{"investigating", "identified", "monitoring", "resolved"}}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	ok := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
	}
	body := func(schema map[string]any) map[string]any {
		return map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	}
	op := func(summary string, reqBody map[string]any, success string, code string) map[string]any {
		o := map[string]any{"summary": summary, "responses": map[string]any{code: ok(success),
			"400": errResp("Malformed JSON, unknown field or wrong type"), "401": errResp("No token, or an unknown or revoked one"),
			"403": errResp("A read token on a write call"), "404": errResp("No such object"), "422": errResp("Invalid fields")}}
		if reqBody != nil {
			o["requestBody"] = reqBody
		}
		return o
	}
	idParam := map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}}
	keyParam := map[string]any{"name": "Idempotency-Key", "in": "header", "required": false,
		"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey},
		"description": "Makes the call safe to retry: the same key and body within 24 hours return the first answer (marked Idempotent-Replayed: true) and do nothing again; the same key with another body is a 422 (idempotency_key_reused); while the first is still running, a 409 (request_in_progress). Keys are per token."}
	params := func(m map[string]any, ps ...map[string]any) map[string]any {
		list := make([]any, len(ps))
		for i, p := range ps {
			list[i] = p
		}
		m["parameters"] = list
		return m
	}
	withID := func(m map[string]any) map[string]any { return params(m, idParam) }
	// creating marks a call that takes an Idempotency-Key.
	creating := func(m map[string]any, withPath bool) map[string]any {
		m["responses"].(map[string]any)["409"] = errResp("A request with this Idempotency-Key is still being answered")
		if withPath {
			return params(m, idParam, keyParam)
		}
		return params(m, keyParam)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Oshirase operator API", "version": "1",
			"description": "Declare incidents, post updates, set component statuses, schedule maintenance and watch email delivery. Authenticate with a bearer token created by an admin in the console (scope read or write)."},
		"servers":  []any{map[string]any{"url": base}},
		"security": []any{map[string]any{"bearer": []string{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": obj(map[string]any{"error": obj(map[string]any{"code": str, "message": str,
				"fields": map[string]any{"type": "object", "additionalProperties": str}}, "code", "message")}, "error")},
		},
		"paths": map[string]any{
			"/api/admin/components": map[string]any{"get": op("List components and their shown status", nil, "Components (Statuspage format)", "200"),
				"post": creating(op("Create a component", body(componentSchema(obj, str, true)), "The component", "201"), false)},
			"/api/admin/components/{id}/status": map[string]any{"put": creating(op("Set a component's status by hand",
				body(obj(map[string]any{"status": statusMap["additionalProperties"]}, "status")), "The new status", "200"), true)},
			"/api/admin/incidents": map[string]any{"post": creating(op("Declare an incident", body(obj(map[string]any{
				"title_ja": str, "title_en": str, "impact": map[string]any{"type": "string", "enum": []string{"none", "minor", "major", "critical"}},
				"status": incStatus, "body_ja": str, "body_en": str, "components": statusMap, "started_at": ts, "notify": boolean},
				"title_ja", "impact", "body_ja")), "The incident (Statuspage format)", "201"), false)},
			"/api/admin/incidents/{id}/updates": map[string]any{"post": creating(op("Post an update", body(obj(map[string]any{
				"status": incStatus, "body_ja": str, "body_en": str, "components": statusMap, "notify": boolean,
				"reopen": boolean, "at": ts}, "status", "body_ja")),
				"The incident with its updates", "201"), true)},
			"/api/admin/incidents/{id}/resolve": map[string]any{"post": creating(op("Resolve an incident", body(obj(map[string]any{
				"body_ja": str, "body_en": str, "notify": boolean})), "The resolved incident", "201"), true)},
			"/api/admin/maintenance": map[string]any{"post": creating(op("Schedule maintenance", body(obj(map[string]any{
				"title_ja": str, "title_en": str, "starts_at": ts, "ends_at": ts, "body_ja": str, "body_en": str,
				"components": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}, "notify": boolean},
				"title_ja", "starts_at", "ends_at", "body_ja", "components")), "The maintenance (Statuspage format)", "201"), false)},
			"/api/admin/products": map[string]any{
				"get":  op("List products and their components", nil, "Products", "200"),
				"post": creating(op("Create a product", body(productSchema(obj, str, boolean)), "The product", "201"), false)},
			"/api/admin/products/{id}": map[string]any{
				"put":    creating(op("Change a product", body(productSchema(obj, str, boolean)), "The product", "200"), true),
				"delete": withID(op("Delete a product that has no components left", nil, "Deleted", "204"))},
			"/api/admin/products/{id}/move": map[string]any{"post": withID(op("Move a product up or down", body(moveSchema(obj)), "Moved", "204"))},
			"/api/admin/components/{id}": map[string]any{
				"put":    creating(op("Change a component", body(componentSchema(obj, str, false)), "Changed", "204"), true),
				"delete": withID(op("Delete a component no incident or maintenance names", nil, "Deleted", "204"))},
			"/api/admin/components/{id}/move": map[string]any{"post": withID(op("Move a component up or down", body(moveSchema(obj)), "Moved", "204"))},
			"/api/admin/maintenance/{id}/updates": map[string]any{"post": creating(op("Post a maintenance update", body(obj(map[string]any{
				"status":  map[string]any{"type": "string", "enum": []string{"scheduled", "in_progress", "verifying", "completed", "cancelled"}},
				"body_ja": str, "body_en": str, "notify": boolean}, "status", "body_ja")), "The maintenance (Statuspage format)", "201"), true)},
			"/api/admin/contracts": map[string]any{
				"get":  op("List contracts and their contacts (?q= searches)", nil, "Contracts", "200"),
				"post": creating(op("Create a contract", body(contractSchema(obj, str, boolean)), "The contract", "201"), false)},
			"/api/admin/contracts/{id}": map[string]any{"put": creating(op("Change a contract", body(contractSchema(obj, str, boolean)), "The contract", "200"), true)},
			"/api/admin/contracts/{id}/contacts": map[string]any{"post": creating(op("Add a contact to a contract", body(obj(map[string]any{
				"name": str, "email": str, "lang": map[string]any{"type": "string", "enum": []string{"ja", "en"}},
				"role": map[string]any{"type": "string", "enum": []string{"primary", "additional"}}}, "email", "lang", "role")), "The contract", "201"), true)},
			"/api/admin/contacts/{id}": map[string]any{
				"put": creating(op("Change a contact", body(obj(map[string]any{"name": str, "email": str,
					"lang": map[string]any{"type": "string", "enum": []string{"ja", "en"}},
					"role": map[string]any{"type": "string", "enum": []string{"primary", "additional"}}}, "email", "lang", "role")), "Changed", "204"), true),
				"delete": withID(op("Remove a contact", nil, "Removed", "204"))},
			"/api/admin/upgrades/{id}": map[string]any{"put": creating(op("Change an upgrade; a new window tells those already told", body(obj(map[string]any{
				"product_id": map[string]any{"type": "integer"}, "version": str, "starts_at": ts, "ends_at": ts, "summary_ja": str, "summary_en": str,
				"notes_ja": str, "notes_en": str}, "product_id", "version", "starts_at", "ends_at", "summary_ja")), "Changed", "204"), true)},
			"/api/admin/contracts/import": map[string]any{"post": params(map[string]any{"summary": "Import contracts and contacts from the console's CSV (UTF-8 or Shift_JIS); each imported contract's contacts become exactly the file's",
				"requestBody": map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}},
				"responses": map[string]any{"200": ok("What it did (or, with dry_run, would do)"), "422": ok("The file's problems, line by line; nothing changed"),
					"401": errResp("No token"), "403": errResp("A read token")}},
				map[string]any{"name": "dry_run", "in": "query", "required": false, "schema": boolean, "description": "true: check and count, change nothing"})},
			"/api/admin/subscribers":      map[string]any{"get": op("List subscribers (?q= searches)", nil, "Subscribers", "200")},
			"/api/admin/subscribers/{id}": map[string]any{"delete": withID(op("Remove a subscriber", nil, "Removed", "204"))},
			"/api/admin/announcements":    map[string]any{"post": creating(op("Publish an announcement (now or at publish_at)", body(announcementSchema(obj, str, ts)), "The announcement", "201"), false)},
			"/api/admin/announcements/{id}": map[string]any{
				"put":    creating(op("Change an announcement", body(announcementSchema(obj, str, ts)), "Changed", "204"), true),
				"delete": withID(op("Delete an announcement", nil, "Deleted", "204"))},
			"/api/admin/upgrades": map[string]any{
				"get": op("List version upgrades", nil, "Upgrades", "200"),
				"post": creating(op("Announce a version upgrade (primary contacts are emailed at the default lead times)", body(obj(map[string]any{
					"product_id": map[string]any{"type": "integer"}, "version": str, "starts_at": ts, "ends_at": ts, "summary_ja": str, "summary_en": str,
					"notes_ja": str, "notes_en": str}, "product_id", "version", "starts_at", "ends_at", "summary_ja")), "The upgrade", "201"), false)},
			"/api/admin/upgrades/{id}/cancel": map[string]any{"post": creating(op("Cancel an upgrade (notify: tell those already told)", body(obj(map[string]any{"notify": boolean})), "Cancelled", "204"), true)},
			"/api/admin/policy": map[string]any{
				"get": op("The notice policy: which contact roles each impact emails", nil, "The policy", "200"),
				"put": creating(op("Change the notice policy", body(obj(map[string]any{"policy": map[string]any{"type": "array", "items": obj(map[string]any{
					"impact":         map[string]any{"type": "string", "enum": []string{"critical", "major", "minor", "none", "maintenance"}},
					"notify_primary": boolean, "notify_additional": boolean}, "impact")}}, "policy")), "The policy", "200"), false)},
			"/api/admin/monitors": map[string]any{
				"get":  op("List monitors (checks) and their state", nil, "Monitors", "200"),
				"post": creating(op("Add a monitor to a component", body(monitorSchema(obj, str, boolean, true)), "The monitor", "201"), false)},
			"/api/admin/monitors/{id}": map[string]any{
				"put":    creating(op("Change a monitor (it starts afresh)", body(monitorSchema(obj, str, boolean, false)), "The monitor", "200"), true),
				"delete": withID(op("Delete a monitor, its results and its report", nil, "Deleted", "204"))},
			"/api/admin/notifications":      map[string]any{"get": op("List notifications and their delivery state", nil, "Notifications", "200")},
			"/api/admin/notifications/{id}": map[string]any{"get": withID(op("One notification and its delivery counts", nil, "The notification", "200"))},
			"/api/admin/openapi.json": map[string]any{"get": map[string]any{"summary": "This document", "security": []any{},
				"responses": map[string]any{"200": ok("OpenAPI 3 document")}}},
		},
	}
}

func productSchema(obj func(map[string]any, ...string) map[string]any, str, boolean map[string]any) map[string]any {
	return obj(map[string]any{"name_ja": str, "name_en": str, "description_ja": str, "description_en": str, "collapsed": boolean}, "name_ja")
}

func componentSchema(obj func(map[string]any, ...string) map[string]any, str map[string]any, create bool) map[string]any {
	props := map[string]any{"product_id": map[string]any{"type": "integer"}, "name_ja": str, "name_en": str, "description_ja": str, "description_en": str,
		"contract_only": map[string]any{"type": "boolean", "description": "Shown only to the contracts using its product: never on the public page, JSON, feeds or calendars, nor to public subscribers. Omitted on a change: kept."}}
	if create {
		return obj(props, "product_id", "name_ja")
	}
	return obj(props, "name_ja")
}

func contractSchema(obj func(map[string]any, ...string) map[string]any, str, boolean map[string]any) map[string]any {
	return obj(map[string]any{"code": str, "name": str, "active": boolean,
		"product_ids": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}}, "code", "name")
}

func announcementSchema(obj func(map[string]any, ...string) map[string]any, str, ts map[string]any) map[string]any {
	return obj(map[string]any{"title_ja": str, "title_en": str, "body_ja": str, "body_en": str,
		"product_id": map[string]any{"type": "integer"}, "publish_at": ts}, "title_ja", "body_ja")
}

func moveSchema(obj func(map[string]any, ...string) map[string]any) map[string]any {
	return obj(map[string]any{"direction": map[string]any{"type": "string", "enum": []string{"up", "down"}}}, "direction")
}

// monitorSchema describes a monitor as the API takes it; omitted optional
// fields take the console's defaults.
func monitorSchema(obj func(map[string]any, ...string) map[string]any, str, boolean map[string]any, create bool) map[string]any {
	integer := map[string]any{"type": "integer"}
	props := map[string]any{"component_id": integer, "name": str, "target": str,
		"kind":   map[string]any{"type": "string", "enum": []string{"http", "tcp", "tls", "dns"}},
		"method": map[string]any{"type": "string", "enum": []string{"GET", "HEAD", "POST", "OPTIONS"}}, "expect_codes": str,
		"keyword": str, "headers": str, "follow_redirects": boolean, "warn_days": integer,
		"dns_type": map[string]any{"type": "string", "enum": []string{"A", "AAAA", "CNAME", "MX", "TXT"}}, "dns_expect": str,
		"dns_server": str, "interval_s": map[string]any{"type": "integer", "minimum": 30}, "timeout_s": integer,
		"fail_threshold": integer, "ok_threshold": integer,
		"failure_status": map[string]any{"type": "string", "enum": []string{"degraded_performance", "partial_outage", "major_outage"}},
		"enabled":        boolean}
	if create {
		return obj(props, "component_id", "name", "kind", "target")
	}
	return obj(props, "name", "kind", "target")
}

func (s *Server) showOpenAPI(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return c.JSON(http.StatusOK, openAPIDoc(s.opts.BaseURL.String()))
}
