package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The catalogue, maintenance updates and the notice policy through the
// operator API, with the console's validation (422 with the fields).

type apiProductInput struct {
	NameJA        string `json:"name_ja" maxlen:"100"`
	NameEN        string `json:"name_en,omitempty" maxlen:"100"`
	DescriptionJA string `json:"description_ja,omitempty"`
	DescriptionEN string `json:"description_en,omitempty"`
	Collapsed     bool   `json:"collapsed,omitempty" doc:"Shown on the page as one row that opens to list its components."`
}

func (in apiProductInput) input() data.ProductInput {
	return data.ProductInput{NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN, Collapsed: in.Collapsed}
}

type apiComponentInput struct {
	ProductID     string `json:"product_id,omitempty" ref:"p" doc:"Required to create; omitted on a change: kept."`
	NameJA        string `json:"name_ja" maxlen:"100"`
	NameEN        string `json:"name_en,omitempty" maxlen:"100"`
	DescriptionJA string `json:"description_ja,omitempty"`
	DescriptionEN string `json:"description_en,omitempty"`
	ContractOnly  *bool  `json:"contract_only,omitempty" doc:"Shown only to the contracts using its product: never on the public page, JSON, feeds or calendars, nor to public subscribers. Omitted on a change: kept."`
}

func (in apiComponentInput) input(product int64) data.ComponentInput {
	return data.ComponentInput{ProductID: product, NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN,
		ContractOnly: in.ContractOnly != nil && *in.ContractOnly}
}

type apiMove struct {
	Direction string `json:"direction" enum:"up,down"`
}

func (m apiMove) delta() (int, error) {
	switch m.Direction {
	case "up":
		return -1, nil
	case "down":
		return 1, nil
	}
	return 0, apiFail(http.StatusUnprocessableEntity, "invalid", `"direction" must be "up" or "down".`)
}

// apiList is a whole list (of something that is never long).
type apiList[T any] struct {
	Items []T `json:"items"`
}

func newAPIList[T any](items []T) apiList[T] {
	if items == nil {
		items = []T{}
	}
	return apiList[T]{Items: items}
}

// apiProduct is a product as the API shows it.
type apiProduct struct {
	ID            string         `json:"id" ref:"p"`
	NameJA        string         `json:"name_ja"`
	NameEN        string         `json:"name_en"`
	DescriptionJA string         `json:"description_ja"`
	DescriptionEN string         `json:"description_en"`
	Position      int            `json:"position"`
	Collapsed     bool           `json:"collapsed"`
	SLATarget     string         `json:"sla_target" doc:"The availability committed to, in percent (\"99.9\"); empty for none."`
	Status        string         `json:"status" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"Its worst component's shown status."`
	Components    []apiComponent `json:"components"`
}

type apiComponent struct {
	ID            string `json:"id" ref:"c"`
	ProductID     string `json:"product_id" ref:"p"`
	NameJA        string `json:"name_ja"`
	NameEN        string `json:"name_en"`
	DescriptionJA string `json:"description_ja"`
	DescriptionEN string `json:"description_en"`
	Status        string `json:"status" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"The status set by hand (or by the API)."`
	ShownStatus   string `json:"shown_status" enum:"operational,degraded_performance,partial_outage,major_outage,under_maintenance" doc:"What the page shows: the hand-set status made worse by open incidents and running maintenance."`
	AutoStatus    string `json:"auto_status" doc:"The worst status its monitors and alert webhooks report now; empty when none does."`
	Position      int    `json:"position"`
	ContractOnly  bool   `json:"contract_only" doc:"Shown only to the contracts using its product."`
}

func toAPIComponent(c *data.Component, v *catalogView) apiComponent {
	out := apiComponent{ID: apiRef("c", c.ID), ProductID: apiRef("p", c.ProductID), NameJA: c.NameJA, NameEN: c.NameEN, DescriptionJA: c.DescriptionJA,
		DescriptionEN: c.DescriptionEN, Status: c.Status, ShownStatus: c.Status, AutoStatus: c.AutoStatus, Position: c.Position, ContractOnly: c.ContractOnly}
	if v != nil && v.Status[c.ID] != "" {
		out.ShownStatus = v.Status[c.ID]
	}
	return out
}

func toAPIProduct(p *data.Product, v *catalogView) apiProduct {
	out := apiProduct{ID: apiRef("p", p.ID), NameJA: p.NameJA, NameEN: p.NameEN, DescriptionJA: p.DescriptionJA, DescriptionEN: p.DescriptionEN,
		Position: p.Position, Collapsed: p.Collapsed, SLATarget: p.SLATarget, Status: data.Operational, Components: []apiComponent{}}
	if v != nil {
		out.Status = v.ProductStatus(p)
	}
	for i := range p.Components {
		out.Components = append(out.Components, toAPIComponent(&p.Components[i], v))
	}
	return out
}

// apiCatalog is the catalogue with the shown statuses, as the page sees it.
func (s *Server) apiCatalog(ctx context.Context) (*catalogView, error) {
	d, err := s.loadOperatorAPI(ctx, "en")
	if err != nil {
		return nil, err
	}
	return d.catalog, nil
}

func (s *Server) catalogOps() []apiOp {
	idem := func(op apiOp) apiOp { op.Idempotent = true; return op }
	return []apiOp{
		{ID: "listProducts", Method: http.MethodGet, Path: "/products", Tag: "catalogue", Summary: "List products and their components, with the shown statuses",
			Out: apiList[apiProduct]{}, Code: http.StatusOK, Handle: s.apiListProducts},
		idem(apiOp{ID: "createProduct", Method: http.MethodPost, Path: "/products", Tag: "catalogue", Summary: "Create a product",
			In: apiProductInput{}, Out: apiProduct{}, Code: http.StatusCreated, Handle: s.apiCreateProduct}),
		{ID: "getProduct", Method: http.MethodGet, Path: "/products/:id", IDs: []string{"p"}, Tag: "catalogue", Summary: "One product and its components",
			Out: apiProduct{}, Code: http.StatusOK, Handle: apiShow(s.apiShowProduct)},
		idem(apiOp{ID: "updateProduct", Method: http.MethodPut, Path: "/products/:id", IDs: []string{"p"}, Tag: "catalogue", Summary: "Change a product",
			In: apiProductInput{}, Out: apiProduct{}, Code: http.StatusOK, Handle: s.apiUpdateProduct}),
		{ID: "deleteProduct", Method: http.MethodDelete, Path: "/products/:id", IDs: []string{"p"}, Tag: "catalogue", Summary: "Delete a product that has no components left",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteProduct, s.apiDeleteProduct)},
		{ID: "moveProduct", Method: http.MethodPost, Path: "/products/:id/move", IDs: []string{"p"}, Tag: "catalogue", Summary: "Move a product up or down",
			In: apiMove{}, Out: apiList[apiProduct]{}, Code: http.StatusOK, Handle: s.apiMoveProduct},
		{ID: "listComponents", Method: http.MethodGet, Path: "/components", Tag: "catalogue", Summary: "List components and their shown status",
			Out: apiList[apiComponent]{}, Code: http.StatusOK, Handle: s.apiListComponents},
		idem(apiOp{ID: "createComponent", Method: http.MethodPost, Path: "/components", Tag: "catalogue", Summary: "Create a component",
			In: apiComponentInput{}, Out: apiComponent{}, Code: http.StatusCreated, Handle: s.apiCreateComponent}),
		idem(apiOp{ID: "updateComponent", Method: http.MethodPut, Path: "/components/:id", IDs: []string{"c"}, Tag: "catalogue", Summary: "Change a component",
			In: apiComponentInput{}, Out: apiComponent{}, Code: http.StatusOK, Handle: s.apiUpdateComponent}),
		{ID: "getComponent", Method: http.MethodGet, Path: "/components/:id", IDs: []string{"c"}, Tag: "catalogue", Summary: "One component and its shown status",
			Out: apiComponent{}, Code: http.StatusOK, Handle: apiShow(s.apiShowComponent)},
		{ID: "deleteComponent", Method: http.MethodDelete, Path: "/components/:id", IDs: []string{"c"}, Tag: "catalogue", Summary: "Delete a component no incident or maintenance names",
			Out: apiConsequence{}, Code: http.StatusOK, Destructive: true, Handle: s.destructive(s.describeDeleteComponent, s.apiDeleteComponent)},
		{ID: "moveComponent", Method: http.MethodPost, Path: "/components/:id/move", IDs: []string{"c"}, Tag: "catalogue", Summary: "Move a component up or down",
			In: apiMove{}, Out: apiList[apiComponent]{}, Code: http.StatusOK, Handle: s.apiMoveComponent},
		idem(apiOp{ID: "setComponentStatus", Method: http.MethodPut, Path: "/components/:id/status", IDs: []string{"c"}, Tag: "catalogue", Summary: "Set a component's status by hand",
			In: apiSetComponentStatus{}, Out: apiComponent{}, Code: http.StatusOK, Handle: s.apiSetComponentStatus}),
		{ID: "getPolicy", Method: http.MethodGet, Path: "/policy", Tag: "contracts", Summary: "The notice policy: which contact roles each impact emails",
			Out: apiPolicy{}, Code: http.StatusOK, Handle: s.apiGetPolicy},
		idem(apiOp{ID: "setPolicy", Method: http.MethodPut, Path: "/policy", Tag: "contracts", Summary: "Change the notice policy (rows not given are kept)",
			In: apiPolicy{}, Out: apiPolicy{}, Code: http.StatusOK, Handle: s.apiSetPolicy}),
	}
}

func (s *Server) apiListProducts(c echo.Context) error {
	v, err := s.apiCatalog(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiProduct, len(v.Products))
	for i := range v.Products {
		out[i] = toAPIProduct(&v.Products[i], v)
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

func (s *Server) apiListComponents(c echo.Context) error {
	v, err := s.apiCatalog(c.Request().Context())
	if err != nil {
		return err
	}
	out := []apiComponent{}
	for i := range v.Products {
		for j := range v.Products[i].Components {
			out = append(out, toAPIComponent(&v.Products[i].Components[j], v))
		}
	}
	return c.JSON(http.StatusOK, newAPIList(out))
}

// apiShowProduct answers with a product as the page now shows it.
func (s *Server) apiShowProduct(c echo.Context, id int64, code int) error {
	v, err := s.apiCatalog(c.Request().Context())
	if err != nil {
		return err
	}
	p := v.products[id]
	if p == nil {
		return apiFail(http.StatusNotFound, "not_found", "No such product.")
	}
	return c.JSON(code, toAPIProduct(p, v))
}

// apiShowComponent answers with a component as the page now shows it.
func (s *Server) apiShowComponent(c echo.Context, id int64, code int) error {
	v, err := s.apiCatalog(c.Request().Context())
	if err != nil {
		return err
	}
	cp := v.components[id]
	if cp == nil {
		return apiFail(http.StatusNotFound, "not_found", "No such component.")
	}
	return c.JSON(code, toAPIComponent(cp, v))
}

func (s *Server) apiCreateProduct(c echo.Context) error {
	var in apiProductInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := s.store.CreateProduct(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return s.apiShowProduct(c, p.ID, http.StatusCreated)
}

func (s *Server) apiUpdateProduct(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiProductInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateProduct(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "product"))
	}
	s.changed()
	return s.apiShowProduct(c, id, http.StatusOK)
}

func (s *Server) apiDeleteProduct(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteProduct(c.Request().Context(), id); err != nil {
		return s.apiInvalid(notFoundJSON(err, "product"))
	}
	s.changed()
	return nil
}

func (s *Server) apiMoveProduct(c echo.Context) error {
	if err := s.apiMove(c, "product", s.store.MoveProduct); err != nil {
		return err
	}
	return s.apiListProducts(c)
}

func (s *Server) apiMoveComponent(c echo.Context) error {
	if err := s.apiMove(c, "component", s.store.MoveComponent); err != nil {
		return err
	}
	return s.apiListComponents(c)
}

func (s *Server) apiMove(c echo.Context, what string, move func(ctx context.Context, id int64, delta int) error) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiMove
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	d, err := in.delta()
	if err != nil {
		return err
	}
	if err := move(c.Request().Context(), id, d); err != nil {
		return s.apiInvalid(notFoundJSON(err, what))
	}
	s.changed()
	return nil
}

func (s *Server) apiCreateComponent(c echo.Context) error {
	var in apiComponentInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.ProductID == "" {
		return apiFields(map[string]string{"product_id": "A component belongs to a product: give its id."})
	}
	product, err := bodyRef("p", "product_id", in.ProductID)
	if err != nil {
		return err
	}
	cp, err := s.store.CreateComponent(c.Request().Context(), in.input(product))
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return s.apiShowComponent(c, cp.ID, http.StatusCreated)
}

func (s *Server) apiUpdateComponent(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiComponentInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	cp, err := s.store.Component(c.Request().Context(), id)
	if err != nil {
		return notFoundJSON(err, "component")
	}
	product := cp.ProductID
	if in.ProductID != "" {
		if product, err = bodyRef("p", "product_id", in.ProductID); err != nil {
			return err
		}
	}
	if in.ContractOnly == nil {
		in.ContractOnly = &cp.ContractOnly
	}
	if err := s.store.UpdateComponent(c.Request().Context(), id, in.input(product)); err != nil {
		return s.apiInvalid(notFoundJSON(err, "component"))
	}
	s.changed()
	return s.apiShowComponent(c, id, http.StatusOK)
}

func (s *Server) apiDeleteComponent(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteComponent(c.Request().Context(), id); err != nil {
		return s.apiInvalid(notFoundJSON(err, "component"))
	}
	s.changed()
	return nil
}

type apiPolicyRow struct {
	Impact           string `json:"impact" enum:"critical,major,minor,none,maintenance"`
	NotifyPrimary    bool   `json:"notify_primary"`
	NotifyAdditional bool   `json:"notify_additional"`
}

type apiPolicy struct {
	Policy []apiPolicyRow `json:"policy"`
}

func (s *Server) apiGetPolicy(c echo.Context) error {
	rows, err := s.store.Policy(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiPolicyRow, len(rows))
	for i, r := range rows {
		out[i] = apiPolicyRow{Impact: r.Impact, NotifyPrimary: r.NotifyPrimary, NotifyAdditional: r.NotifyAdditional}
	}
	return c.JSON(http.StatusOK, apiPolicy{Policy: out})
}

func (s *Server) apiSetPolicy(c echo.Context) error {
	var in apiPolicy
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	rows := make([]data.NoticePolicy, len(in.Policy))
	for i, r := range in.Policy {
		rows[i] = data.NoticePolicy{Impact: r.Impact, NotifyPrimary: r.NotifyPrimary, NotifyAdditional: r.NotifyAdditional}
	}
	if err := s.store.SetPolicy(c.Request().Context(), rows); err != nil {
		return s.apiInvalid(err)
	}
	return s.apiGetPolicy(c)
}
