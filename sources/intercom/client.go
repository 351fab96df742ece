// Package intercom is the Intercom source: a REST client for Intercom's API
// (version 2.16 by default) that implements the capability interfaces of
// package sources. Its test emulator lives in package emulator.
package intercom

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/talkdesk-intercom/api/sources"
)

// Regional API base URLs. A workspace lives in exactly one region and its
// tokens only work against that region's host.
var regionBaseURLs = map[string]string{
	"us": "https://api.intercom.io",
	"eu": "https://api.eu.intercom.io",
	"au": "https://api.au.intercom.io",
}

// RegionBaseURL returns the API base URL of a region: us, eu or au.
func RegionBaseURL(region string) (string, bool) {
	u, ok := regionBaseURLs[strings.ToLower(region)]
	return u, ok
}

// DefaultBaseURL is the US region, where most workspaces live.
const DefaultBaseURL = "https://api.intercom.io"

// DefaultVersion is the API version sent in every request. 2.16 is the first
// whose contact search knows formatted_phone.
const DefaultVersion = "2.16"

// Config configures a Client. Only Token is required.
type Config struct {
	Token   string
	BaseURL string // default DefaultBaseURL
	Version string // default DefaultVersion
	// AppURL is the web app that deep links point to; by default the app of
	// BaseURL's region (app.intercom.com, app.eu.intercom.com, app.au.intercom.com).
	AppURL string
	// Timeout bounds each call, retries included. Default 10 s.
	Timeout time.Duration
	// HTTPClient's Transport sends the requests, under this Client's own
	// layers (transport.go); pass one shared by every Client so that all
	// workspaces use one pool of connections. By default each Client gets
	// a transport of its own.
	HTTPClient *http.Client
	// Workspace is where the workspace's id is kept once known: the
	// tenant's, shared with the services scoped to it (a validation may have
	// told it already, so that deep links need no /me call). Nil: the
	// client's own.
	Workspace *sources.WorkspaceID
	// RateLimitPerMinute is this service's own budget of calls to the
	// workspace (default 10,000: a private app's limit); the governor also
	// follows Intercom's X-RateLimit-* headers.
	RateLimitPerMinute int
	// CallerSharePercent is the most of a window's budget one caller
	// (sources.CallerFrom) may spend, 1 to 100 (default DefaultCallerShare).
	CallerSharePercent int
	// InteractiveReservePercent is the part of a window's budget that bulk
	// work (sources.Bulk: searches, contact syncs) leaves to interactive
	// calls, 1 to 99 (default DefaultInteractiveReserve); it is also kept of
	// each caller's share.
	InteractiveReservePercent int
	// Fleet, when set, counts the workspace's calls for every replica (in
	// Redis): the budget and each caller's share hold for the fleet, not
	// per replica. The in-process governor decides first, and alone when
	// Fleet errs.
	Fleet sources.FleetBudget
	// FleetReplicas is how many replicas share the budget (0 is 1). While
	// Fleet errs a replica spends only the calls Fleet had set aside for it;
	// once Redis has been away for a whole window, it allows itself
	// 1/FleetReplicas of each window, so that a Redis outage does not let the
	// fleet spend a budget per replica. A replica told it is the only one
	// takes its share at once. Either way its calls are counted in Fleet
	// when it answers again.
	FleetReplicas int
	// MaxAttempts bounds the tries of a safe call (default 3).
	MaxAttempts int
	// The circuit breaker opens when, over the last BreakerWindow, at least
	// BreakerMinCalls calls ended and BreakerFailurePercent of them or more
	// failed (no answer, or a 5xx; a call and its retries count once, as its
	// last attempt). After BreakerCooldown it lets BreakerProbes calls
	// through: all of them succeeding closes it, any failing opens it again.
	// Zero values take the defaults (DefaultBreakerFailurePercent, ...).
	BreakerFailurePercent int
	BreakerMinCalls       int
	BreakerWindow         time.Duration
	BreakerCooldown       time.Duration
	BreakerProbes         int
	// Concurrency bounds parallel reads of objects Intercom cannot read in
	// batches (companies). Default 8.
	Concurrency int
	// Coalesce, when set, lets caller lookups of concurrent requests share
	// searches; without it each lookup searches alone.
	Coalesce sources.CoalescePhones
	// Observe, when set, is told about every upstream call: the endpoint
	// pattern (e.g. "POST /contacts/search"), the HTTP status (0 when no
	// response arrived) and how long it took.
	Observe func(endpoint string, status int, elapsed time.Duration)
	// Tracing gives each attempt a client span of the global OpenTelemetry
	// tracer provider, named by its endpoint pattern.
	Tracing bool
}

// Defaults of the fair share of a workspace's budget (see Config).
const (
	DefaultCallerShare        = 50
	DefaultInteractiveReserve = 30
)

// Defaults of the circuit breaker (see Config). Half of the calls failing,
// retries included, is an Intercom that is down rather than flaky: at half
// of its answers failing, three attempts leave one call in eight failed,
// and the breaker stays closed.
const (
	DefaultBreakerFailurePercent = 50
	DefaultBreakerMinCalls       = 10
	DefaultBreakerWindow         = 10 * time.Second
	DefaultBreakerCooldown       = 5 * time.Second
	DefaultBreakerProbes         = 3
)

// Client calls one Intercom workspace's REST API. It is safe for concurrent use.
type Client struct {
	token   string
	baseURL string
	version string
	appURL  string
	timeout time.Duration
	http    *http.Client // the layers of transport.go over the shared transport
	phones  phoneSearch

	concurrency int
	// phoneLookups searches callers' numbers, with those of concurrent
	// requests when Config.Coalesce gathers them.
	phoneLookups sources.PhoneLookup

	breaker *breaker

	workspace *sources.WorkspaceID // learnt from /me (or told by Config.Workspace)
	asking    singleflight.Group   // one /me at a time while the id is not known
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("intercom: a token is required")
	}
	base := strings.TrimRight(cmp.Or(cfg.BaseURL, DefaultBaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("intercom: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	c := &Client{
		token:   cfg.Token,
		baseURL: base,
		version: cmp.Or(cfg.Version, DefaultVersion),
		appURL:  strings.TrimRight(cmp.Or(cfg.AppURL, appURLFor(u.Host)), "/"),
		timeout: cfg.Timeout,
	}
	c.workspace = cfg.Workspace
	if c.workspace == nil {
		c.workspace = &sources.WorkspaceID{}
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	var rt http.RoundTripper
	if cfg.HTTPClient != nil {
		rt = cfg.HTTPClient.Transport
	}
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Batches fan out to one host: keep enough warm connections for them.
		t.MaxIdleConnsPerHost = 64
		rt = t
	}
	// The governor and the breaker are this workspace's own; they hold no
	// goroutine or connection, so a dropped tenant leaves nothing behind.
	c.breaker = newBreaker(u.Host, breakerPolicy{
		failurePercent: cmp.Or(min(max(cfg.BreakerFailurePercent, 0), 100), DefaultBreakerFailurePercent),
		minCalls:       cmp.Or(max(cfg.BreakerMinCalls, 0), DefaultBreakerMinCalls),
		window:         cmp.Or(max(cfg.BreakerWindow, 0), DefaultBreakerWindow),
		cooldown:       cmp.Or(max(cfg.BreakerCooldown, 0), DefaultBreakerCooldown),
		probes:         cmp.Or(max(cfg.BreakerProbes, 0), DefaultBreakerProbes),
	})
	g := newGovernor(cfg.RateLimitPerMinute, cfg.CallerSharePercent, cfg.InteractiveReservePercent)
	fleet := &fleetCount{budget: cfg.Fleet, replicas: max(cfg.FleetReplicas, 1), share: g.perWindow / max(cfg.FleetReplicas, 1),
		workspace: c.workspace.Get}
	c.http = &http.Client{Transport: newChain(rt, g, fleet,
		c.breaker, cmp.Or(max(cfg.MaxAttempts, 0), 3), cfg.Observe, cfg.Tracing)}
	c.concurrency = cfg.Concurrency
	c.phoneLookups = c.searchPhoneGroups
	if cfg.Coalesce != nil {
		c.phoneLookups = cfg.Coalesce(c.searchPhoneGroups, maxINValues, phoneWeight)
	}
	if c.concurrency <= 0 {
		c.concurrency = defaultConcurrency
	}
	c.phones.formattedPhoneUnsupported.Store(!versionAtLeast(c.version, 2, 16))
	return c, nil
}

// AppURLFor returns the web app that matches an API base URL's region.
func AppURLFor(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return appURLFor("")
	}
	return appURLFor(u.Host)
}

func appURLFor(apiHost string) string {
	switch {
	case strings.HasPrefix(apiHost, "api.eu."):
		return "https://app.eu.intercom.com"
	case strings.HasPrefix(apiHost, "api.au."):
		return "https://app.au.intercom.com"
	default:
		return "https://app.intercom.com"
	}
}

func versionAtLeast(v string, major, minor int) bool {
	maj, min, ok := strings.Cut(v, ".")
	if !ok {
		return v == "Unstable" || v == "unstable"
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil {
		return false
	}
	return a > major || (a == major && b >= minor)
}

// do calls Intercom and decodes a 2xx JSON answer into out. endpoint is the
// route pattern used for metrics, spans and error messages; it never
// contains ids or secrets. The layers of transport.go retry safe calls and
// guard the workspace; the whole call, retries included, is bounded by the
// client's timeout and ctx.
func (c *Client) do(ctx context.Context, method, endpoint, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeoutCause(withEndpoint(ctx, endpoint), c.timeout, errCallTimeout)
	defer cancel()

	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("intercom: encode %s: %w", endpoint, err)
		}
		payload = bytes.NewReader(b) // NewRequest sets GetBody: retries resend it
	}
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, payload)
	if err != nil {
		return fmt.Errorf("intercom: %s: %w", endpoint, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Intercom-Version", c.version)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var refused *sources.Error // the governor's or the breaker's
		if errors.As(err, &refused) {
			return refused
		}
		return transportError(ctx, endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body) // in memory already (transport.go: observed)
	if err != nil {
		return transportError(ctx, endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(endpoint, resp.StatusCode, resp.Header, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &sources.Error{Code: sources.EUpstreamUnavailable,
			Message: fmt.Sprintf("Intercom sent an unreadable answer to %s", endpoint), Err: err}
	}
	return nil
}

// BreakerOpen says whether calls to this workspace are paused because
// Intercom kept failing, and for how long at most.
func (c *Client) BreakerOpen() (time.Duration, bool) {
	return c.breaker.open()
}

// linkWorkspace returns the workspace id deep links need, asking /me only
// if no call has told it yet. A failure is not remembered: the next call
// asks again.
func (c *Client) linkWorkspace(ctx context.Context) (string, error) {
	if id, ok := c.workspace.Get(); ok {
		return id, nil
	}
	id, err, _ := c.asking.Do("me", func() (any, error) {
		ws, err := c.Validate(ctx) // learns the id
		if err != nil {
			return "", err
		}
		return ws.ID, nil
	})
	return id.(string), err
}

// KnownWorkspace is the workspace id if a call (or Config.Workspace) has
// told it, else "".
func (c *Client) KnownWorkspace() string {
	id, _ := c.workspace.Get()
	return id
}

// inboxURL links a conversation or a ticket in workspace ws (tickets open in
// the Inbox by their id, like conversations: the web app's own links, not
// documented); "" without a workspace or an id.
func (c *Client) inboxURL(ws, id string) string {
	if ws == "" || id == "" {
		return ""
	}
	return fmt.Sprintf("%s/a/inbox/%s/inbox/conversation/%s", c.appURL, url.PathEscape(ws), url.PathEscape(id))
}

// contactURL links a contact's profile (where its notes are) in workspace ws.
func (c *Client) contactURL(ws, id string) string {
	if ws == "" || id == "" {
		return ""
	}
	return fmt.Sprintf("%s/a/apps/%s/users/%s", c.appURL, url.PathEscape(ws), url.PathEscape(id))
}

func (c *Client) rememberWorkspace(id string) {
	c.workspace.Learn(id)
}

func transportError(ctx context.Context, endpoint string, err error) error {
	msg := fmt.Sprintf("Intercom did not answer %s", endpoint)
	var netErr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		msg = fmt.Sprintf("Intercom timed out on %s", endpoint)
	case errors.Is(err, context.Canceled):
		msg = fmt.Sprintf("the request was cancelled while calling Intercom %s", endpoint)
	}
	// The url.Error inside err holds only the base URL and path, never the token.
	return &sources.Error{Code: sources.EUpstreamUnavailable, Message: msg, Err: err}
}

// statusError turns a non-2xx answer into a coded error whose message says
// what Intercom said, without the request's credentials.
func statusError(endpoint string, status int, header http.Header, body []byte) error {
	var we wireError
	_ = json.Unmarshal(body, &we)
	detail := ""
	if len(we.Errors) > 0 {
		detail = we.Errors[0].Message
		if detail == "" {
			detail = we.Errors[0].Code
		}
	}
	e := &sources.Error{Err: fmt.Errorf("intercom %s: HTTP %d: %s", endpoint, status, truncate(string(body), 300))}
	if len(we.Errors) > 0 {
		e.Field = we.Errors[0].Field
	}
	switch s := status; {
	case s == http.StatusUnauthorized:
		e.Code, e.Message = sources.EUnauthenticated, "Intercom rejected the access token"
	case s == http.StatusForbidden:
		e.Code, e.Message = sources.EForbidden, "the Intercom token may not do this"+suffix(detail)
	case s == http.StatusNotFound:
		e.Code, e.Message = sources.ENotFound, "Intercom has no such object"+suffix(detail)
	case s == http.StatusConflict:
		e.Code, e.Message = sources.EConflict, "Intercom reports a conflict"+suffix(detail)
	case s == http.StatusTooManyRequests:
		e.Code, e.Message = sources.ERateLimited, "Intercom's rate limit is spent"
		e.RetryAfterSeconds = ceilSeconds(retryAfter(header, status, time.Now()))
	case s >= 500:
		e.Code, e.Message = sources.EUpstreamUnavailable, fmt.Sprintf("Intercom failed on %s (HTTP %d)", endpoint, s)
		e.RetryAfterSeconds = ceilSeconds(retryAfter(header, status, time.Now()))
	default:
		e.Code, e.Message = sources.EBadUserInput, "Intercom refused the request"+suffix(detail)
	}
	return e
}

// suffix adds Intercom's own explanation, cut short: Intercom may repeat
// the value it refused, and that value came from our caller.
func suffix(detail string) string {
	if detail == "" {
		return ""
	}
	return ": " + sources.Clip(detail, 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
