package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The served OpenAPI document is checked against every API answer the
// tests receive: apiCall and the generated client both go through
// validatingTransport, so a body, a status or a header the document does
// not describe fails the test that received it.

// servedDoc loads and validates the document a test server serves.
func (a *testApp) servedDoc() (*openapi3.T, routers.Router) {
	a.t.Helper()
	a.docOnce.Do(func() {
		r := a.client().get("/api/admin/openapi.json")
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData([]byte(r.body))
		if err != nil {
			a.t.Fatalf("the OpenAPI document does not load: %v", err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			a.t.Fatalf("the OpenAPI document is not valid: %v", err)
		}
		// The document names the configured base address; requests here go
		// to the test listener.
		doc.Servers = openapi3.Servers{{URL: a.srv.URL}}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			a.t.Fatal(err)
		}
		a.doc, a.docRouter = doc, router
		if p := os.Getenv("OSHIRASE_OPENAPI_OUT"); p != "" {
			os.WriteFile(p, []byte(r.body), 0o644)
		}
	})
	return a.doc, a.docRouter
}

// validatingTransport checks each operator API answer against the document.
type validatingTransport struct {
	a    *testApp
	next http.RoundTripper
	mu   sync.Mutex
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/admin/") || req.URL.Path == "/api/admin/openapi.json" {
		return resp, err
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(got))
	v.check(req, body, resp, got)
	return resp, nil
}

func (v *validatingTransport) check(req *http.Request, body []byte, resp *http.Response, got []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.a.t
	t.Helper()
	_, router := v.a.servedDoc()
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(probe)
	if err != nil {
		// Not an operation of the document: it must be refused as the API
		// refuses, with a JSON error.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in the document but answered %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	// A request the server took must be one the document allows: otherwise
	// the document refuses what works.
	if resp.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s was answered %d, but the document refuses the request: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(got)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: the answer (%d) does not match the document: %v\n%.600s", req.Method, req.URL.Path, resp.StatusCode, err, got)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	a := newTestServer(t)
	doc, _ := a.servedDoc()
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			for code, r := range op.Responses.Map() {
				if code == "204" && r.Value.Content != nil {
					t.Errorf("%s %s documents a body on 204", method, path)
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d operations", n)
	}
}

// errorRecorder is a testing.TB that keeps what would have failed a test.
type errorRecorder struct {
	testing.TB
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestValidatingTransportCatchesMismatches: the check every API test relies
// on does fail on an answer the document does not describe.
func TestValidatingTransportCatchesMismatches(t *testing.T) {
	a := newTestServer(t)
	doc, router := a.servedDoc()
	rec := &errorRecorder{TB: t}
	b := &testApp{t: rec, srv: a.srv, doc: doc, docRouter: router}
	b.docOnce.Do(func() {})
	v := &validatingTransport{a: b}
	for _, c := range []struct {
		name, method, path string
		status             int
		body               string
		bad                bool
	}{
		{"an integer id", "GET", "/api/admin/incidents/i1", 200, `{"id": 1}`, true},
		{"a field the document lacks", "GET", "/api/admin/policy", 200, `{"policy": [], "extra": true}`, true},
		{"a status the document lacks", "GET", "/api/admin/policy", 201, `{"policy": []}`, true},
		{"an error without its code", "GET", "/api/admin/policy", 404, `{"error": {"message": "x"}}`, true},
		{"an undocumented path answered", "GET", "/api/admin/nothing", 200, `{}`, true},
		{"a good answer", "GET", "/api/admin/policy", 200, `{"policy": [{"impact": "minor", "notify_primary": true, "notify_additional": false}]}`, false},
	} {
		rec.errs = nil
		req, _ := http.NewRequest(c.method, a.srv.URL+c.path, nil)
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}}}
		v.check(req, nil, resp, []byte(c.body))
		if got := len(rec.errs) > 0; got != c.bad {
			t.Errorf("%s: mismatch found %v, want %v: %v", c.name, got, c.bad, rec.errs)
		}
	}
}
