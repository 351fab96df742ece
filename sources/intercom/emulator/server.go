package emulator

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Route patterns, as used by Calls, CallCounts and Faults.Endpoints.
const (
	EndpointMe                  = "GET /me"
	EndpointAdmins              = "GET /admins"
	EndpointAdmin               = "GET /admins/{id}"
	EndpointContacts            = "GET /contacts"
	EndpointContact             = "GET /contacts/{id}"
	EndpointContactByExternalID = "GET /contacts/find_by_external_id/{external_id}"
	EndpointContactCompanies    = "GET /contacts/{id}/companies"
	EndpointSearchContacts      = "POST /contacts/search"
	EndpointCompanies           = "GET /companies"
	EndpointCompany             = "GET /companies/{id}"
	EndpointTags                = "GET /tags"
	EndpointContactNotes        = "GET /contacts/{id}/notes"
	EndpointConversations       = "GET /conversations"
	EndpointConversation        = "GET /conversations/{id}"
	EndpointSearchConversations = "POST /conversations/search"
	EndpointTicket              = "GET /tickets/{id}"
	EndpointSearchTickets       = "POST /tickets/search"
	EndpointTicketTypes         = "GET /ticket_types"
	EndpointPhoneCalls          = "GET /calls"
	EndpointPhoneCall           = "GET /calls/{id}"
	EndpointSearchPhoneCalls    = "POST /calls/search"

	// Writes.
	EndpointCreateContact = "POST /contacts"
	EndpointUpdateContact = "PUT /contacts/{id}"
	EndpointAttachCompany = "POST /contacts/{id}/companies"
	EndpointCreateTag     = "POST /tags"
	EndpointTagContact    = "POST /contacts/{id}/tags"
	EndpointUntagContact  = "DELETE /contacts/{id}/tags/{tag_id}"
	EndpointCreateNote    = "POST /contacts/{id}/notes"
	EndpointCreateTicket  = "POST /tickets"
	EndpointReplyTicket   = "POST /tickets/{id}/reply"
	// EndpointUnmatched counts requests that matched no route (answered 404).
	EndpointUnmatched = "unmatched"
)

// Defaults for Options.
const (
	DefaultToken       = "test-token"
	DefaultWorkspaceID = "demo0001"
	DefaultName        = "Demo Workspace"
	DefaultRegion      = "US"
	DefaultSeed        = 1
	DefaultContacts    = 300
	// DefaultRateLimit is Intercom's 10,000 calls a minute for a private app,
	// enforced per 10-second window.
	DefaultRateLimit = 10000 / 6
	// RateWindow is the length of a rate-limit window.
	RateWindow = 10 * time.Second
)

// Options configures a Workspace. The zero value is usable: every field has a
// default.
type Options struct {
	Token       string         // accepted bearer token (default "test-token")
	WorkspaceID string         // app id_code, also contacts' workspace_id (default "demo0001")
	Name        string         // app name reported by /me (default "Demo Workspace")
	Region      string         // "US", "EU" or "AU", reported by /me (default "US")
	Timezone    *time.Location // workspace time zone for calendar-day date search (default UTC)
	Seed        int64          // deterministic data and fault seed (default 1)
	Contacts    int            // number of seeded contacts (default 300)
	Empty       bool           // seed no contacts, companies or interactions (admins, tags and ticket types are still there)
	Now         func() time.Time
	Latency     time.Duration // added to every request
	RateLimit   int           // requests per 10-second window; 0 = DefaultRateLimit
	Addr        string        // listen address for Start (default "127.0.0.1:0")

	// Phone says whether the workspace has Intercom Phone. Without it the
	// call endpoints (/calls, /calls/{id}, /calls/search) answer 403
	// api_plan_restricted, as the description answers for features a plan
	// lacks; the seeded data (phone_call conversations included) is the same.
	Phone bool

	noHistory bool // seed contacts without their interactions (tests)
}

func (o Options) withDefaults() Options {
	if o.Token == "" {
		o.Token = DefaultToken
	}
	if o.WorkspaceID == "" {
		o.WorkspaceID = DefaultWorkspaceID
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Timezone == nil {
		o.Timezone = time.UTC
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Contacts <= 0 {
		o.Contacts = DefaultContacts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	return o
}

// Workspace is the in-memory state of one Intercom workspace and the
// http.Handler that serves its REST API. All methods are goroutine-safe.
type Workspace struct {
	opts   Options
	routes []route

	mu         sync.RWMutex // guards the data below
	contacts   map[string]*Contact
	order      []*Contact // by created_at, then id: the default listing order
	companies  []*Company
	companyBy  map[string]*Company
	admins     []Admin
	tags       []Tag
	attrTypes  map[string]attrType // custom attribute name -> data type
	appCreated time.Time
	idRand     *rand.Rand // ids for AddContact, deterministic per seed

	// Interactions (see interactions.go).
	conversations ordered[Conversation]
	tickets       ordered[Ticket]
	ticketTypes   []*TicketType
	ticketStates  []TicketState
	notes         map[string][]*Note // by contact id, newest first
	noteBy        map[string]*Note
	phoneCalls    ordered[PhoneCall]
	seq           interactionSeq

	ctl         sync.Mutex // guards the controls below
	calls       map[string]int
	total       int
	perSecond   map[int64]int // calls by the second (unix) they arrived in
	latency     time.Duration
	faults      Faults
	faultRand   *rand.Rand
	rateLimit   int
	rateWindow  int64
	rateUsed    int
	lastVersion string
}

// New builds a workspace seeded from opts.
func New(opts Options) *Workspace {
	opts = opts.withDefaults()
	w := &Workspace{
		opts:      opts,
		contacts:  map[string]*Contact{},
		companyBy: map[string]*Company{},
		attrTypes: map[string]attrType{},
		calls:     map[string]int{},
		latency:   opts.Latency,
		rateLimit: opts.RateLimit,
		faultRand: rand.New(rand.NewPCG(uint64(opts.Seed), 0xfa17)),

		conversations: newOrdered(func(c *Conversation) (time.Time, string) { return c.CreatedAt, c.ID }),
		tickets:       newOrdered(func(t *Ticket) (time.Time, string) { return t.CreatedAt, t.ID }),
		notes:         map[string][]*Note{},
		noteBy:        map[string]*Note{},
		phoneCalls:    newOrdered(func(c *PhoneCall) (time.Time, string) { return c.CreatedAt, c.ID }),
	}
	w.routes = w.buildRoutes()
	w.seed()
	return w
}

// now is the workspace clock, truncated to whole seconds as Intercom's
// timestamps are.
func (w *Workspace) now() time.Time { return w.opts.Now().Truncate(time.Second) }

// Options returns the effective options (defaults filled in).
func (w *Workspace) Options() Options { return w.opts }

// Token returns the accepted bearer token.
func (w *Workspace) Token() string { return w.opts.Token }

// handlerFunc answers one endpoint: the body of a 200 answer, or the error
// Intercom would answer with.
type handlerFunc func(r *http.Request, params map[string]string) (any, *apiError)

type route struct {
	method  string
	pattern string
	parts   []string // "{name}" segments are wildcards
	handle  handlerFunc
}

// buildRoutes lists the API. A hand-rolled matcher is used because
// net/http.ServeMux rejects /contacts/find_by_external_id/{x} next to
// /contacts/{id}/companies as conflicting; here earlier routes win.
func (w *Workspace) buildRoutes() []route {
	defs := []struct {
		pattern string
		h       handlerFunc
	}{
		{EndpointMe, w.handleMe},
		{EndpointAdmins, w.handleAdmins},
		{EndpointAdmin, w.handleAdmin},
		{EndpointSearchContacts, w.handleSearchContacts},
		{EndpointContacts, w.handleListContacts},
		{EndpointContactByExternalID, w.handleContactByExternalID},
		{EndpointContactCompanies, w.handleContactCompanies},
		{EndpointContactNotes, w.handleContactNotes},
		{EndpointContact, w.handleGetContact},
		{EndpointCompanies, w.handleListCompanies},
		{EndpointCompany, w.handleGetCompany},
		{EndpointTags, w.handleTags},
		{EndpointSearchConversations, w.handleSearchConversations},
		{EndpointConversations, w.handleListConversations},
		{EndpointConversation, w.handleGetConversation},
		{EndpointSearchTickets, w.handleSearchTickets},
		{EndpointTicket, w.handleGetTicket},
		{EndpointTicketTypes, w.handleTicketTypes},
		{EndpointSearchPhoneCalls, w.phoneOnly(w.handleSearchPhoneCalls)},
		{EndpointPhoneCalls, w.phoneOnly(w.handleListPhoneCalls)},
		{EndpointPhoneCall, w.phoneOnly(w.handleGetPhoneCall)},
		{EndpointCreateContact, w.handleCreateContact},
		{EndpointUpdateContact, w.handleUpdateContact},
		{EndpointAttachCompany, w.handleAttachCompany},
		{EndpointCreateTag, w.handleCreateTag},
		{EndpointTagContact, w.handleTagContact},
		{EndpointUntagContact, w.handleUntagContact},
		{EndpointCreateNote, w.handleCreateNote},
		{EndpointCreateTicket, w.handleCreateTicket},
		{EndpointReplyTicket, w.handleReplyTicket},
	}
	routes := make([]route, 0, len(defs))
	for _, d := range defs {
		method, path, _ := strings.Cut(d.pattern, " ")
		routes = append(routes, route{method: method, pattern: d.pattern, parts: splitPath(path), handle: d.h})
	}
	return routes
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func (w *Workspace) match(r *http.Request) (*route, map[string]string) {
	// Match on the escaped path so an id containing an encoded "/" stays one
	// segment; parameters are unescaped afterwards.
	parts := splitPath(r.URL.EscapedPath())
	for i := range w.routes {
		rt := &w.routes[i]
		if rt.method != r.Method || len(rt.parts) != len(parts) {
			continue
		}
		var params map[string]string
		ok := true
		for j, p := range rt.parts {
			if strings.HasPrefix(p, "{") {
				if parts[j] == "" {
					ok = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				v, err := url.PathUnescape(parts[j])
				if err != nil {
					ok = false
					break
				}
				params[strings.Trim(p, "{}")] = v
			} else if p != parts[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// knownVersions are the Intercom-Version values the description lists, plus
// the two named channels. Intercom answers 400 to any other value.
var knownVersions = map[string]bool{
	"1.0": true, "1.1": true, "1.2": true, "1.3": true, "1.4": true,
	"2.0": true, "2.1": true, "2.2": true, "2.3": true, "2.4": true, "2.5": true,
	"2.6": true, "2.7": true, "2.8": true, "2.9": true, "2.10": true, "2.11": true,
	"2.12": true, "2.13": true, "2.14": true, "2.15": true, "2.16": true,
	"Unstable": true, "Preview": true,
}

// ServeHTTP serves the emulated API. The order of checks follows what a
// client sees from Intercom: transport trouble (latency, resets, injected
// errors) first, then authentication, rate limiting, version, routing.
//
// With Faults.SlowAfterWrite or Faults.FailAfterWrite, the slow delay or the
// injected error or reset of a write endpoint (see IsWrite) comes after the
// handler ran: the object is created or changed, and then the answer is late
// or lost, as when Intercom applies a write and the connection times out.
func (w *Workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Request-Id", newRequestID())
	rt, params := w.match(r)
	endpoint := EndpointUnmatched
	if rt != nil {
		endpoint = rt.pattern
	}
	plan, latency := w.begin(endpoint, r.Header.Get("Intercom-Version"))

	// Read the body first, as a server does before it works on a request:
	// only then does net/http notice a client that hangs up during the
	// delay, so that a write the client gave up on is not applied.
	if r.Body != nil && r.Body != http.NoBody {
		data, _ := io.ReadAll(io.LimitReader(r.Body, maxPrereadBody))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
	}
	before := latency
	if !plan.delayAfter {
		before += plan.delay
	}
	if !sleep(r.Context(), before) {
		return
	}
	if !plan.failAfter && w.writeFault(rw, plan) {
		return
	}
	if !plan.delayAfter && !plan.failAfter {
		w.serve(rw, r, rt, params)
		return
	}
	// The write is applied now; its answer waits, or is replaced by the
	// fault. A client that gave up in the meantime gets nothing, but the
	// write stands.
	buf := &bufferedResponse{header: rw.Header().Clone()}
	w.serve(buf, r, rt, params)
	if plan.delayAfter && !sleep(r.Context(), plan.delay) {
		return
	}
	if plan.failAfter && w.writeFault(rw, plan) {
		return
	}
	buf.flush(rw)
}

// maxPrereadBody bounds the part of a request body ServeHTTP reads up front;
// the handlers' own limits are smaller.
const maxPrereadBody = 4 << 20

// writeFault answers with the planned reset or error status, if any.
func (w *Workspace) writeFault(rw http.ResponseWriter, plan faultPlan) bool {
	switch {
	case plan.reset:
		resetConnection(rw)
	case plan.status == http.StatusTooManyRequests:
		w.writeRateHeaders(rw, false)
		w.writeTooMany(rw)
	case plan.status != 0:
		w.writeRateHeaders(rw, false)
		writeError(rw, faultError(plan.status))
	default:
		return false
	}
	return true
}

// serve answers a request that no fault stopped.
func (w *Workspace) serve(rw http.ResponseWriter, r *http.Request, rt *route, params map[string]string) {
	if !w.authorized(r) {
		w.writeRateHeaders(rw, false)
		writeError(rw, errorf(http.StatusUnauthorized, CodeUnauthorized, msgAccessTokenInvalid))
		return
	}
	if !w.writeRateHeaders(rw, true) {
		w.writeTooMany(rw)
		return
	}
	if v := r.Header.Get("Intercom-Version"); v != "" && !knownVersions[v] {
		e := errorf(http.StatusBadRequest, CodeVersionInvalid, "The requested version could not be found: Intercom-Version %q is not a valid API version", v)
		e.Field = "Intercom-Version"
		writeError(rw, e)
		return
	}
	if rt == nil {
		writeError(rw, errorf(http.StatusNotFound, CodeNotFound, "Resource Not Found"))
		return
	}
	body, apiErr := rt.handle(r, params)
	if apiErr != nil {
		writeError(rw, apiErr)
		return
	}
	writeJSON(rw, http.StatusOK, body)
}

// sleep waits d, or until ctx is done (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// IsWrite reports whether a route pattern (an Endpoint constant) changes
// the workspace: every method but GET, except the searches, which are POSTs
// that only read.
func IsWrite(endpoint string) bool {
	method, path, ok := strings.Cut(endpoint, " ")
	return ok && method != http.MethodGet && !strings.HasSuffix(path, "/search")
}

// bufferedResponse holds an answer until the after-write faults are decided.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) flush(rw http.ResponseWriter) {
	h := rw.Header()
	for k, v := range b.header {
		h[k] = v
	}
	rw.WriteHeader(cmp.Or(b.status, http.StatusOK))
	_, _ = rw.Write(b.body.Bytes())
}

func (w *Workspace) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(w.opts.Token)) == 1
}

// begin records the call and decides, under one lock, which faults hit it.
func (w *Workspace) begin(endpoint, version string) (faultPlan, time.Duration) {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.calls[endpoint]++
	w.total++
	if w.perSecond == nil {
		w.perSecond = map[int64]int{}
	}
	w.perSecond[time.Now().Unix()]++
	if version != "" {
		w.lastVersion = version
	}
	return w.planFaultsLocked(endpoint), w.latency
}

// resetConnection drops the TCP connection without a response. SO_LINGER 0
// makes the close an RST, so the client sees "connection reset by peer".
func resetConnection(rw http.ResponseWriter) {
	hj, ok := rw.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort is the closest thing
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// Calls returns how many requests reached the route pattern endpoint, e.g.
// "POST /contacts/search" or "GET /contacts/{id}" (see the Endpoint constants).
func (w *Workspace) Calls(endpoint string) int {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	return w.calls[endpoint]
}

// CallCounts returns a copy of the per-endpoint request counters.
func (w *Workspace) CallCounts() map[string]int {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	m := make(map[string]int, len(w.calls))
	for k, v := range w.calls {
		m[k] = v
	}
	return m
}

// TotalCalls returns the number of requests received, answered or not.
func (w *Workspace) TotalCalls() int {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	return w.total
}

// CallsByWindow counts the calls by the clock-aligned window (a whole
// number of seconds, like Intercom's 10-second windows) they arrived in,
// keyed by the window's start.
func (w *Workspace) CallsByWindow(window time.Duration) map[time.Time]int {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	out := map[time.Time]int{}
	for sec, n := range w.perSecond {
		out[time.Unix(sec, 0).Truncate(window)] += n
	}
	return out
}

// ResetCalls zeroes the request counters.
func (w *Workspace) ResetCalls() {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.calls = map[string]int{}
	w.total = 0
	w.perSecond = nil
}

// SetLatency changes the delay added to every request.
func (w *Workspace) SetLatency(d time.Duration) {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.latency = d
}

// LastVersion returns the Intercom-Version header of the latest request that
// sent one ("" if none did).
func (w *Workspace) LastVersion() string {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	return w.lastVersion
}

// Server is a Workspace listening on a real TCP port.
type Server struct {
	URL       string // base URL, e.g. "http://127.0.0.1:40123"
	Workspace *Workspace
	srv       *http.Server
	ln        net.Listener
}

// Start builds a workspace and serves it on opts.Addr (default
// 127.0.0.1:0). It does not use net/http/httptest, which registers a global
// flag that would leak into production binaries.
func Start(opts Options) (*Server, error) {
	ws := New(opts)
	ln, err := net.Listen("tcp", ws.opts.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:       "http://" + ln.Addr().String(),
		Workspace: ws,
		ln:        ln,
		srv:       &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return s, nil
}

// Close stops the server at once, closing open connections.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops the server gracefully, waiting for in-flight requests until
// ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
