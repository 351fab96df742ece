package intercom_test

// The contract test: the real client talks to the real emulator over HTTP
// through a transport that checks every request and every response against
// Intercom's own OpenAPI description (testdata/contract, a copy of
// shared/reference/intercom/api.intercom.io-2.16.yaml). A violation is either
// a bug in the client (request side), a bug in the emulator (response side),
// or a known gap where the description is wrong about the live API; only the
// last kind may be listed in knownGaps.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// contractDescription is Intercom's OpenAPI description the test holds both
// sides to. Update it together with intercom.DefaultVersion.
const contractDescription = "testdata/contract/api.intercom.io-2.16.yaml"

// descriptionServer is the server the description's routes are matched
// against: requests to the emulator are rewritten to it for FindRoute.
const descriptionServer = "https://api.intercom.io"

// knownGap is a violation that is expected because the description is wrong
// or incomplete about the live API (NOTES.md). It matches a violation by
// method, the description's path template, status (0: any) and a substring of
// the validation error, so that it never hides anything else.
type knownGap struct {
	Method, Path string
	Status       int
	Contains     string
	Reason       string
}

// knownGaps must stay short: every entry is a place where the emulator
// answers as the live API does and the description disagrees, or where the
// description says nothing and the emulator answers as the description does
// elsewhere. Another gap NOTES.md lists is not a violation here:
// conversation_list has its items under "conversations" in the description
// too.
var knownGaps = []knownGap{
	// The description sets bearerAuth globally but lists no 401 answer for
	// /me; the live API answers 401 "unauthorized" / "Access Token Invalid"
	// there as on every endpoint (the same body the description documents for
	// /admins, /contacts, ...).
	{"GET", "/me", 401, "status is not supported",
		"description lists no 401 for /me; the live API answers 401 error.list as everywhere"},
	// GET /contacts/{id} documents only 200, 401 and 410 (merged), but an
	// unknown id answers 404 not_found "User Not Found" live, the answer the
	// description itself documents for every other /contacts/{contact_id}/...
	// route.
	{"GET", "/contacts/{contact_id}", 404, "status is not supported",
		"description lists no 404 for GET /contacts/{id}; the live API answers 404 not_found \"User Not Found\""},
	// GET /tickets/{ticket_id} documents only 200 and 401; an unknown id
	// answers 404 not_found, as PUT and DELETE of the same path document.
	{"GET", "/tickets/{ticket_id}", 404, "status is not supported",
		"description lists no 404 for GET /tickets/{id}; PUT and DELETE of the path document 404 for an unknown ticket"},
	// The conversation and ticket searches document only 200, but take the
	// same query language as /contacts/search, whose 400s for refused
	// queries are documented.
	{"POST", "/conversations/search", 400, "status is not supported",
		"description lists no 400 for POST /conversations/search; a refused query answers 400 as /contacts/search documents"},
	{"POST", "/tickets/search", 400, "status is not supported",
		"description lists no 400 for POST /tickets/search; a refused query answers 400 as /contacts/search documents"},
	// Nothing documents what a workspace without Intercom Phone gets from
	// the call endpoints. The emulator answers 403 api_plan_restricted
	// "Active subscription needed.", the description's answer for
	// plan-restricted features (GET /conversations, ...); the client treats
	// 403 and 404 alike (calls "not supported"). Not yet seen live.
	{"POST", "/calls/search", 403, "status is not supported",
		"description says nothing of workspaces without Intercom Phone; 403 api_plan_restricted as for other plan-restricted endpoints (assumed)"},
	// The write endpoints document little beyond 200 and 401. Where a write
	// is refused, the emulator answers with the error.list body (checked
	// against the error schema) and a code the description uses elsewhere.
	{"POST", "/contacts", 409, "status is not supported",
		"description lists only 200 and 401 for POST /contacts; the live API answers 409 conflict \"A contact matching those details already exists with id=…\" for a second user with one email or external_id"},
	{"POST", "/contacts", 400, "status is not supported",
		"description lists only 200 and 401 for POST /contacts; a bad role or an unknown custom attribute answers 400 parameter_invalid, as the description's other writes refuse parameters"},
	{"PUT", "/contacts/{contact_id}", 404, "status is not supported",
		"description lists only 200 and 401 for PUT /contacts/{id}; an unknown id answers 404 not_found \"User Not Found\", as every other /contacts/{contact_id} route documents"},
	{"PUT", "/contacts/{contact_id}", 400, "status is not supported",
		"description lists only 200 and 401 for PUT /contacts/{id}; a bad role answers 400 parameter_invalid as POST /contacts does"},
	{"PUT", "/contacts/{contact_id}", 409, "status is not supported",
		"description lists only 200 and 401 for PUT /contacts/{id}; another user's email answers 409 conflict as POST /contacts does"},
	{"POST", "/contacts/{contact_id}/notes", 0, `parameter "contact_id" in path has an error`,
		"the description types POST notes' contact_id as integer (NOTES.md); contact ids are 24-hex-digit strings, as GET of the same path types them"},
	{"POST", "/contacts/{contact_id}/notes", 400, "status is not supported",
		"description lists only 200 and 404 for POST notes; a missing body answers 400 parameter_not_found, the description's code for a missing parameter"},
	{"POST", "/tickets", 400, "status is not supported",
		"description lists only 200 and 401 for POST /tickets; an unknown or archived ticket type answers 400 parameter_invalid, as /tickets/enqueue documents for the same body"},
	{"POST", "/tickets", 404, "status is not supported",
		"description lists only 200 and 401 for POST /tickets; an unknown contact answers 404 not_found \"User Not Found\", as POST /conversations documents"},
}

// ---- loading the description ----

var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// contractRouter loads the description once per test binary.
func contractRouter(t *testing.T) routers.Router {
	t.Helper()
	contract.once.Do(func() {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		doc, err := loader.LoadFromFile(contractDescription)
		if err != nil {
			contract.err = fmt.Errorf("load %s: %w", contractDescription, err)
			return
		}
		// Route by path only: every request is rewritten to one server.
		doc.Servers = openapi3.Servers{{URL: descriptionServer}}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			contract.err = fmt.Errorf("route %s: %w", contractDescription, err)
			return
		}
		contract.doc, contract.router = doc, router
	})
	if contract.err != nil {
		t.Fatal(contract.err)
	}
	return contract.router
}

// ---- the validating transport ----

// contractViolation is one way a request or response breaks the description.
type contractViolation struct {
	Caller    string // the client method (or test step) that sent the request
	Side      string // "request" or "response"
	Method    string
	Path      string // as sent, query included
	Operation string // the description's path template, "" if none matched
	Status    int    // response status; 0 for request violations found before sending
	Err       string
	Body      []byte // the offending body (request or response)
	Gap       *knownGap
}

func (v contractViolation) String() string {
	op := v.Operation
	if op == "" {
		op = "no operation"
	}
	status := "-"
	if v.Status != 0 {
		status = fmt.Sprint(v.Status)
	}
	return fmt.Sprintf("[%s] %s: %s %s (description: %s) -> HTTP %s\n      error: %s\n      body:  %s",
		v.Side, v.Caller, v.Method, v.Path, op, status, v.Err, clip(v.Body, 300))
}

func clip(b []byte, n int) string {
	if len(b) == 0 {
		return "(empty)"
	}
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

type contractCallerKey struct{}

// as labels the requests made with ctx with the client method being driven.
func callerCtx(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, contractCallerKey{}, caller)
}

// contractTransport validates each exchange against the description and
// records what it finds; it never changes what the client or server see.
type contractTransport struct {
	base        http.RoundTripper
	router      routers.Router
	opts        *openapi3filter.Options
	errorSchema *openapi3.Schema // components/schemas/error

	mu         sync.Mutex
	violations []contractViolation
	exercised  map[string]int // "GET /contacts/{contact_id} 404" -> count
	gapsHit    map[int]int    // index in knownGaps -> count
}

func newContractTransport(t *testing.T) *contractTransport {
	t.Helper()
	router := contractRouter(t)
	errorSchema := contract.doc.Components.Schemas["error"]
	if errorSchema == nil || errorSchema.Value == nil {
		t.Fatalf("%s has no components/schemas/error", contractDescription)
	}
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(base.CloseIdleConnections)
	return &contractTransport{
		base:        base,
		router:      router,
		errorSchema: errorSchema.Value,
		opts: &openapi3filter.Options{
			MultiError:                        true,
			IncludeResponseStatus:             true,
			RejectWhenRequestBodyNotSpecified: true,
			SkipSettingDefaults:               true,
			AuthenticationFunc:                requireBearer,
			// Reasons and paths only: the schema and value dumps of a
			// contact body would bury the message.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
		exercised: map[string]int{},
		gapsHit:   map[int]int{},
	}
}

// requireBearer is the description's bearerAuth: the request must carry a
// bearer token. Whether the token is right is the server's business.
func requireBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not HTTP bearer; the test does not know it", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New(`no "Authorization: Bearer <token>" header`)
	}
	return nil
}

func (ct *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	caller, _ := req.Context().Value(contractCallerKey{}).(string)
	if caller == "" {
		caller = "(unlabelled)"
	}
	sentPath := req.URL.RequestURI()

	// A RoundTripper must not modify the request: the body is buffered and
	// a copy is sent.
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
	}
	send := req.Clone(req.Context())
	if reqBody != nil {
		send.Body = io.NopCloser(bytes.NewReader(reqBody))
		send.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	}

	// The validator sees a copy addressed to the description's server.
	vreq := req.Clone(req.Context())
	server, _ := url.Parse(descriptionServer)
	vreq.URL.Scheme, vreq.URL.Host, vreq.Host = server.Scheme, server.Host, server.Host
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	if reqBody == nil {
		vreq.Body = http.NoBody
	}
	vreq.GetBody = nil

	route, params, routeErr := ct.router.FindRoute(vreq)
	var input *openapi3filter.RequestValidationInput
	if routeErr != nil {
		ct.record(contractViolation{Caller: caller, Side: "request", Method: req.Method, Path: sentPath,
			Err: "no operation in the description: " + routeErr.Error(), Body: reqBody})
	} else {
		input = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: ct.opts}
		for _, msg := range validationMessages(openapi3filter.ValidateRequest(req.Context(), input)) {
			ct.record(contractViolation{Caller: caller, Side: "request", Method: req.Method, Path: sentPath,
				Operation: route.Path, Err: msg, Body: reqBody})
		}
	}

	resp, err := ct.base.RoundTrip(send)
	if err != nil || input == nil {
		return resp, err
	}
	respBody, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if readErr != nil {
		return resp, readErr
	}
	ct.note(route.Method + " " + route.Path + " " + fmt.Sprint(resp.StatusCode))
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                ct.opts,
	}
	rin.SetBodyBytes(respBody)
	for _, msg := range validationMessages(openapi3filter.ValidateResponse(req.Context(), rin)) {
		ct.record(contractViolation{Caller: caller, Side: "response", Method: req.Method, Path: sentPath,
			Operation: route.Path, Status: resp.StatusCode, Err: msg, Body: respBody})
	}
	// An error status the operation does not document (a known gap at
	// best) must still carry Intercom's error.list body.
	if resp.StatusCode >= 400 && route.Operation.Responses.Status(resp.StatusCode) == nil &&
		route.Operation.Responses.Default() == nil {
		for _, msg := range ct.errorBodyProblems(respBody) {
			ct.record(contractViolation{Caller: caller, Side: "response", Method: req.Method, Path: sentPath,
				Operation: route.Path, Status: resp.StatusCode, Err: msg, Body: respBody})
		}
	}
	return resp, nil
}

// errorBodyProblems checks body against the description's error schema.
func (ct *contractTransport) errorBodyProblems(body []byte) []string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{"undocumented error status; body is not JSON: " + err.Error()}
	}
	err := ct.errorSchema.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails())
	var out []string
	for _, msg := range validationMessages(err) {
		out = append(out, "undocumented error status; body does not match the error schema: "+msg)
	}
	return out
}

// validationMessages splits a validation error into one message per problem.
func validationMessages(err error) []string {
	if err == nil {
		return nil
	}
	if me, ok := err.(openapi3.MultiError); ok {
		var out []string
		for _, e := range me {
			out = append(out, validationMessages(e)...)
		}
		return out
	}
	return []string{strings.TrimSpace(err.Error())}
}

func (ct *contractTransport) note(key string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.exercised[key]++
}

func (ct *contractTransport) record(v contractViolation) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for i, g := range knownGaps {
		if g.Method == v.Method && g.Path == v.Operation && (g.Status == 0 || g.Status == v.Status) &&
			strings.Contains(v.Err, g.Contains) {
			ct.gapsHit[i]++
			v.Gap = &knownGaps[i]
			break
		}
	}
	ct.violations = append(ct.violations, v)
}

// check fails t with every violation that is not a known gap, lists which
// operations were exercised, and flags known gaps that no longer happen.
func (ct *contractTransport) check(t *testing.T, wantExercised []string, checkStaleGaps bool) {
	t.Helper()
	ct.mu.Lock()
	defer ct.mu.Unlock()

	// The same problem on every page of a listing is reported once, with
	// its first request and a count.
	type key struct {
		side, method, op, err string
		status                int
	}
	var order []key
	first := map[key]contractViolation{}
	count := map[key]int{}
	var accepted []string
	for _, v := range ct.violations {
		if v.Gap != nil {
			accepted = append(accepted, fmt.Sprintf("%s %s -> %d: %s", v.Method, v.Operation, v.Status, v.Gap.Reason))
			continue
		}
		k := key{v.Side, v.Method, v.Operation, v.Err, v.Status}
		if count[k] == 0 {
			order = append(order, k)
			first[k] = v
		}
		count[k]++
	}
	slices.Sort(accepted)
	for _, a := range slices.Compact(accepted) {
		t.Logf("known gap (accepted): %s", a)
	}
	if len(order) > 0 {
		var b strings.Builder
		for _, k := range order {
			fmt.Fprintf(&b, "\n  - %s", first[k])
			if n := count[k]; n > 1 {
				fmt.Fprintf(&b, "\n      (%d times in all)", n)
			}
		}
		t.Errorf("%d contract violation(s) against %s.\n"+
			"[request] ones are client bugs; [response] ones are emulator bugs, or description gaps to list in knownGaps once proven against the live API:%s",
			len(order), contractDescription, b.String())
	}

	var missing []string
	for _, k := range wantExercised {
		if ct.exercised[k] == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range ct.exercised {
				if !yield(k) {
					return
				}
			}
		})
		t.Errorf("the contract test did not exercise %s; it exercised %s", strings.Join(missing, ", "), strings.Join(keys, ", "))
	}
	if checkStaleGaps {
		for i, g := range knownGaps {
			if ct.gapsHit[i] == 0 {
				t.Errorf("known gap %s %s (%d, %q) was not seen: if the description or the emulator changed, remove it from knownGaps",
					g.Method, g.Path, g.Status, g.Contains)
			}
		}
	}
}

// ---- the test ----

// contractNow fixes the emulator's clock so that seed data and day-granular
// date searches are the same on every run.
var contractNow = time.Date(2025, time.June, 2, 15, 4, 5, 0, time.UTC)

const contractToken = "contract-token"

// contractEnv is what every resource's steps share: one emulator on a fixed
// clock behind the validating transport, a client and its interaction
// reader, and the seed the steps look things up in.
type contractEnv struct {
	ctx        context.Context
	srv        *emulator.Server
	ws         *emulator.Workspace
	hc         *http.Client
	client     *intercom.Client
	history    *intercom.Interactions
	contacts   []emulator.Contact
	companies  []emulator.Company
	demo       emulator.Contact
	legacyE164 string // the phone of a contact only the phone fallback finds
}

// contractStep is one subtest of TestContract.
type contractStep struct {
	name string
	run  func(t *testing.T)
}

// contractResource is one resource's steps (contract_resources_test.go) and
// the operations they exercise between them, each with its success and
// error answers ("GET /me 401").
type contractResource struct {
	steps     []contractStep
	exercises []string
}

// TestContract runs every call the client makes, and the emulator answers
// it does not ask for yet, through the validating transport, resource by
// resource, and checks that every operation was exercised.
func TestContract(t *testing.T) {
	start := time.Now()
	ct := newContractTransport(t)
	e := startContract(t, ct)
	// The writes last, so that the reads before them see the seed as it is.
	resources := []func(*contractEnv) contractResource{
		contractWorkspace, contractContacts, contractCompanies, contractInteractions, contractRaw, contractWrites,
	}
	var want []string
	ran, steps := 0, 0
	for _, resource := range resources {
		r := resource(e)
		want = append(want, r.exercises...)
		for _, s := range r.steps {
			steps++
			if t.Run(s.name, s.run) {
				ran++
			}
		}
	}
	allRan := ran == steps
	if !allRan {
		want = nil // a filtered or failed run proves nothing about coverage
	}
	ct.check(t, want, allRan)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the contract test took %v; keep it under 15 s", d)
	}
}

// startContract starts the emulator behind ct and checks that its seed is
// what the steps expect.
func startContract(t *testing.T, ct *contractTransport) *contractEnv {
	t.Helper()
	srv, err := emulator.Start(emulator.Options{
		Token: contractToken,
		Now:   func() time.Time { return contractNow },
		Phone: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ws := srv.Workspace
	if v := contract.doc.Info.Version; v != intercom.DefaultVersion {
		t.Errorf("%s describes API %s but the client sends %s: update the copy", contractDescription, v, intercom.DefaultVersion)
	}
	hc := &http.Client{Transport: ct}
	client, err := intercom.New(intercom.Config{Token: contractToken, BaseURL: srv.URL, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	history := intercom.NewInteractions(client, intercom.InteractionsConfig{})
	ctx := t.Context()

	contacts := ws.Contacts()
	companies := ws.Companies()
	demo, ok := ws.DemoCaller()
	if !ok || len(contacts) < 100 || len(companies) < 10 {
		t.Fatalf("emulator seed is not what the test expects: demo caller %v, %d contacts, %d companies", ok, len(contacts), len(companies))
	}
	var legacy emulator.Contact // a contact only the phone fallback finds
	for _, c := range contacts {
		if c.Legacy && c.Phone != "" {
			legacy = c
			break
		}
	}
	if legacy.ID == "" {
		t.Fatal("emulator seed has no legacy contact with a phone")
	}
	legacyE164 := emulator.FormatE164(legacy.Phone, legacy.LocationCountry)

	return &contractEnv{ctx: ctx, srv: srv, ws: ws, hc: hc, client: client, history: history,
		contacts: contacts, companies: companies, demo: demo, legacyE164: legacyE164}
}

// raw sends one request outside the client (with the right token and
// version) and returns the status and body.
func rawCall(t *testing.T, hc *http.Client, caller, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(callerCtx(t.Context(), caller), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+contractToken)
	req.Header.Set("Intercom-Version", intercom.DefaultVersion)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

type stubTransport func(*http.Request) (*http.Response, error)

func (f stubTransport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestContractValidator shows that the validating transport catches broken
// requests and responses, and that known gaps hide nothing but themselves,
// so that a passing TestContract means something.
func TestContractValidator(t *testing.T) {
	ct := newContractTransport(t)
	ct.base = stubTransport(func(r *http.Request) (*http.Response, error) {
		status, body := http.StatusOK, `{"type":"admin.list","admins":[]}`
		switch r.URL.Path {
		case "/contacts/c1": // id must be a string, created_at an integer
			body = `{"type":"contact","id":123,"role":"user","created_at":"yesterday"}`
		case "/me": // a known gap's status, but an error body without its required code
			status, body = http.StatusUnauthorized, `{"type":"error.list","errors":[{"message":"Access Token Invalid"}]}`
		case "/companies/x":
			status, body = http.StatusTeapot, `{"type":"error.list","errors":[{"code":"teapot"}]}`
		case "/contacts/search":
			body = `{"type":"list","data":[],"total_count":0}`
		case "/admins/7":
			body = `not json`
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	hc := &http.Client{Transport: ct}
	send := func(caller, method, path, version, body string, bearer bool) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(callerCtx(t.Context(), caller), method, "http://emulator.test"+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if bearer {
			req.Header.Set("Authorization", "Bearer t")
		}
		req.Header.Set("Intercom-Version", version)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	send("bad contact", "GET", "/contacts/c1", "2.16", "", true)
	send("me 401", "GET", "/me", "2.16", "", true)
	send("teapot", "GET", "/companies/x", "2.16", "", true)
	send("no token", "GET", "/admins", "2.16", "", false)
	send("bad version", "GET", "/admins", "9.9", "", true)
	send("bad operator", "POST", "/contacts/search", "2.16", `{"query":{"field":"email","operator":"LIKE","value":"x"}}`, true)
	send("no query", "POST", "/contacts/search", "2.16", `{"pagination":{"per_page":5}}`, true)
	send("not json", "GET", "/admins/7", "2.16", "", true)
	send("no route", "GET", "/no/such/route", "2.16", "", true)
	send("good", "GET", "/admins", "2.16", "", true)

	want := map[string][]string{ // caller -> substrings of its unaccepted violations
		"bad contact":  {`"/id"`, `"/created_at"`},
		"me 401":       {"does not match the error schema", "code"},
		"teapot":       {"status is not supported"},
		"no token":     {"Authorization"},
		"bad version":  {"Intercom-Version"},
		"bad operator": {"request body", "/query"},
		"no query":     {"query"},
		"not json":     {"decode"},
		"no route":     {"no operation"},
	}
	got := map[string][]string{}
	gaps := 0
	for _, v := range ct.violations {
		if v.Gap != nil {
			gaps++
			if v.Caller != "me 401" {
				t.Errorf("%s: violation %q taken for known gap %s %s", v.Caller, v.Err, v.Gap.Method, v.Gap.Path)
			}
			continue
		}
		got[v.Caller] = append(got[v.Caller], v.String())
	}
	if gaps != 1 {
		t.Errorf("%d violations matched a known gap, want 1 (the 401 of /me)", gaps)
	}
	for caller, subs := range want {
		all := strings.Join(got[caller], "\n")
		for _, sub := range subs {
			if !strings.Contains(all, sub) {
				t.Errorf("%s: no violation mentions %q; got:\n%s", caller, sub, all)
			}
		}
	}
	if len(got["good"]) > 0 {
		t.Errorf("a valid exchange was flagged: %v", got["good"])
	}
	if t.Failed() || testing.Verbose() {
		for _, v := range ct.violations {
			t.Log(v.String())
		}
	}
}
