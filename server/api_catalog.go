package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oshirase/oshirase/data"
)

// The catalogue, maintenance updates and the notice policy through the
// operator API, with the console's validation (422 with the fields).

type apiProductIn struct {
	NameJA        string `json:"name_ja"`
	NameEN        string `json:"name_en"`
	DescriptionJA string `json:"description_ja"`
	DescriptionEN string `json:"description_en"`
	Collapsed     bool   `json:"collapsed"`
}

func (in apiProductIn) input() data.ProductInput {
	return data.ProductInput{NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN, Collapsed: in.Collapsed}
}

type apiComponentIn struct {
	ProductID     int64  `json:"product_id"`
	NameJA        string `json:"name_ja"`
	NameEN        string `json:"name_en"`
	DescriptionJA string `json:"description_ja"`
	DescriptionEN string `json:"description_en"`
	// ContractOnly: absent keeps what an update finds (false on create).
	ContractOnly *bool `json:"contract_only"`
}

func (in apiComponentIn) input() data.ComponentInput {
	return data.ComponentInput{ProductID: in.ProductID, NameJA: in.NameJA, NameEN: in.NameEN, DescriptionJA: in.DescriptionJA, DescriptionEN: in.DescriptionEN,
		ContractOnly: in.ContractOnly != nil && *in.ContractOnly}
}

type apiMove struct {
	Direction string `json:"direction"`
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

// apiProduct is a product as the API shows it.
type apiProduct struct {
	ID            int64          `json:"id"`
	NameJA        string         `json:"name_ja"`
	NameEN        string         `json:"name_en"`
	DescriptionJA string         `json:"description_ja"`
	DescriptionEN string         `json:"description_en"`
	Position      int            `json:"position"`
	Collapsed     bool           `json:"collapsed"`
	Components    []apiComponent `json:"components"`
}

type apiComponent struct {
	ID        int64  `json:"id"`
	ProductID int64  `json:"product_id"`
	NameJA    string `json:"name_ja"`
	NameEN    string `json:"name_en"`
	Status    string `json:"status"`
	Position  int    `json:"position"`
	// ContractOnly: shown only to the contracts using its product.
	ContractOnly bool `json:"contract_only"`
}

func toAPIComponent(c *data.Component) apiComponent {
	return apiComponent{ID: c.ID, ProductID: c.ProductID, NameJA: c.NameJA, NameEN: c.NameEN, Status: c.Status, Position: c.Position,
		ContractOnly: c.ContractOnly}
}

func toAPIProduct(p *data.Product) apiProduct {
	out := apiProduct{ID: p.ID, NameJA: p.NameJA, NameEN: p.NameEN, DescriptionJA: p.DescriptionJA, DescriptionEN: p.DescriptionEN,
		Position: p.Position, Collapsed: p.Collapsed, Components: []apiComponent{}}
	for i := range p.Components {
		out.Components = append(out.Components, toAPIComponent(&p.Components[i]))
	}
	return out
}

func (s *Server) apiListProducts(c echo.Context) error {
	ps, err := s.store.Products(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiProduct, len(ps))
	for i := range ps {
		out[i] = toAPIProduct(&ps[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"products": out})
}

func (s *Server) apiCreateProduct(c echo.Context) error {
	var in apiProductIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := s.store.CreateProduct(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"product": toAPIProduct(p)})
}

func (s *Server) apiUpdateProduct(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiProductIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.store.UpdateProduct(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "product"))
	}
	s.changed()
	p, err := s.store.Product(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"product": toAPIProduct(p)})
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
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiMoveProduct(c echo.Context) error {
	return s.apiMove(c, "product", s.store.MoveProduct)
}

func (s *Server) apiMoveComponent(c echo.Context) error {
	return s.apiMove(c, "component", s.store.MoveComponent)
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
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiCreateComponent(c echo.Context) error {
	var in apiComponentIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	cp, err := s.store.CreateComponent(c.Request().Context(), in.input())
	if err != nil {
		return s.apiInvalid(err)
	}
	s.changed()
	return c.JSON(http.StatusCreated, map[string]any{"component": toAPIComponent(cp)})
}

func (s *Server) apiUpdateComponent(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiComponentIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.ProductID == 0 || in.ContractOnly == nil {
		cp, err := s.store.Component(c.Request().Context(), id)
		if err != nil {
			return notFoundJSON(err, "component")
		}
		if in.ProductID == 0 {
			in.ProductID = cp.ProductID
		}
		if in.ContractOnly == nil {
			in.ContractOnly = &cp.ContractOnly
		}
	}
	if err := s.store.UpdateComponent(c.Request().Context(), id, in.input()); err != nil {
		return s.apiInvalid(notFoundJSON(err, "component"))
	}
	s.changed()
	return c.NoContent(http.StatusNoContent)
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
	return c.NoContent(http.StatusNoContent)
}

type apiMaintenanceUpdate struct {
	Status string `json:"status"`
	BodyJA string `json:"body_ja"`
	BodyEN string `json:"body_en"`
	Notify bool   `json:"notify"`
}

func (s *Server) apiPostMaintenanceUpdate(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	var in apiMaintenanceUpdate
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	n := s.apiNotice(in.Notify)
	if _, err := s.store.PostMaintenanceUpdate(c.Request().Context(), id, data.NewMaintenanceUpdate{Status: in.Status, BodyJA: in.BodyJA,
		BodyEN: in.BodyEN, Notice: n}); err != nil {
		return s.apiInvalid(notFoundJSON(err, "maintenance"))
	}
	s.changed()
	s.afterNotice(n)
	return s.apiMaintenance(c, id, http.StatusCreated)
}

type apiPolicyRow struct {
	Impact           string `json:"impact"`
	NotifyPrimary    bool   `json:"notify_primary"`
	NotifyAdditional bool   `json:"notify_additional"`
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
	return c.JSON(http.StatusOK, map[string]any{"policy": out})
}

func (s *Server) apiSetPolicy(c echo.Context) error {
	var in struct {
		Policy []apiPolicyRow `json:"policy"`
	}
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
