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

	"github.com/talkdesk-intercom/api/internal/coalesce"
	"github.com/talkdesk-intercom/api/internal/memo"
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
	// HTTPClient sends the requests; pass one shared by every Client so
	// that all workspaces use one pool of connections. By default each
	// Client gets a transport of its own.
	HTTPClient *http.Client
	// Workspace is the workspace id when already known (a validation told
	// it), so that deep links need no /me call.
	Workspace string
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
	Fleet FleetBudget
	// FleetReplicas is how many replicas share the budget: while Fleet errs,
	// this replica allows itself 1/FleetReplicas of each window (0 or 1: all
	// of it), so that a Redis failover does not let the fleet spend a
	// budget per replica.
	FleetReplicas int
	// MaxAttempts bounds the tries of a safe call (default 3).
	MaxAttempts int
	// BreakerThreshold consecutive failures open the circuit for
	// BreakerCooldown (defaults 5 and 10 s).
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// Concurrency bounds parallel reads of objects Intercom cannot read in
	// batches (companies). Default 8.
	Concurrency int
	// CoalesceWindow is how long a cold caller lookup waits for the
	// lookups of other requests to share its search (0: not at all).
	CoalesceWindow time.Duration
	// Observe, when set, is told about every upstream call: the endpoint
	// pattern (e.g. "POST /contacts/search"), the HTTP status (0 when no
	// response arrived) and how long it took.
	Observe func(endpoint string, status int, elapsed time.Duration)
}

// FleetBudget is a count of a workspace's calls shared by every replica
// (package budget). Take reserves one call of the window holding now; refused
// is "" when admitted, else "workspace" or "caller".
type FleetBudget interface {
	Take(ctx context.Context, workspace, caller string, now time.Time, window time.Duration, perWindow, callerShare int) (refused string, wait time.Duration, err error)
}

// Defaults of the fair share of a workspace's budget (see Config).
const (
	DefaultCallerShare        = 50
	DefaultInteractiveReserve = 30
)

// Client calls one Intercom workspace's REST API. It is safe for concurrent use.
type Client struct {
	token   string
	baseURL string
	version string
	appURL  string
	timeout time.Duration
	http    *http.Client
	observe func(string, int, time.Duration)
	phones  phoneSearch

	concurrency int
	// phoneLookups gathers concurrent caller lookups into shared searches.
	phoneLookups *coalesce.Coalescer[[]*sources.Contact]

	governor    *governor
	fleet       FleetBudget
	fleetShare  int // calls of a window this replica allows itself while fleet errs
	breaker     *breaker
	maxAttempts int

	workspace *memo.Memo[string] // the workspace id deep links need, from /me or Config.Workspace
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
		http:    cfg.HTTPClient,
		observe: cfg.Observe,
	}
	// Learnt once: a token's workspace never changes.
	c.workspace = memo.New(memo.Config{}, func(ctx context.Context) (string, error) {
		ws, err := c.Validate(ctx)
		if err != nil {
			return "", err
		}
		return ws.ID, nil
	})
	if cfg.Workspace != "" {
		c.workspace.Set(cfg.Workspace)
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Batches fan out to one host: keep enough warm connections for them.
		t.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: t}
	}
	c.governor = newGovernor(cfg.RateLimitPerMinute, cfg.CallerSharePercent, cfg.InteractiveReservePercent)
	c.fleet = cfg.Fleet
	c.fleetShare = c.governor.perWindow / max(cfg.FleetReplicas, 1)
	// max(…, 0): a negative setting takes the default too.
	c.breaker = newBreaker(cmp.Or(max(cfg.BreakerThreshold, 0), 5), cmp.Or(max(cfg.BreakerCooldown, 0), 10*time.Second))
	c.maxAttempts = cmp.Or(max(cfg.MaxAttempts, 0), 3)
	c.concurrency = cfg.Concurrency
	c.phoneLookups = coalesce.New(cfg.CoalesceWindow, maxINValues, phoneWeight, c.searchPhoneGroups)
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
// route pattern used for metrics and error messages; it never contains ids
// or secrets. Safe calls are retried (see resilience.go); the whole call,
// retries included, is bounded by the client's timeout and ctx.
func (c *Client) do(ctx context.Context, method, endpoint, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("intercom: encode %s: %w", endpoint, err)
		}
		payload = b
	}
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	safe := method == "GET" || method == "PUT" || method == "DELETE" || strings.HasSuffix(path, "/search")
	for attempt := 1; ; attempt++ {
		if err := c.admit(ctx); err != nil {
			return err
		}
		status, header, data, err := c.attempt(ctx, method, endpoint, u, payload)
		now := time.Now()
		c.governor.observe(status, header, now)
		if errors.Is(ctx.Err(), context.Canceled) {
			c.breaker.abandon() // the caller left (a sibling read failed, the client went away): not Intercom's failure
		} else {
			c.breaker.record(upstreamFailed(status), now)
		}
		if err == nil && status >= 200 && status <= 299 {
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return &sources.Error{Code: sources.EUpstreamUnavailable,
					Message: fmt.Sprintf("Intercom sent an unreadable answer to %s", endpoint), Err: err}
			}
			return nil
		}
		if err == nil {
			err = statusError(endpoint, status, header, data)
		} else {
			err = transportError(ctx, endpoint, err)
		}
		if !safe || attempt >= c.maxAttempts || !retryable(status) || ctx.Err() != nil {
			return err
		}
		wait := backoff(attempt, time.Duration(retryAfter(header, status, now))*time.Second)
		if deadline, ok := ctx.Deadline(); ok && now.Add(wait).After(deadline) {
			return err // no time left for another attempt
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// admit asks the breaker and the governor whether a call may go now, for
// the caller and at the priority ctx carries.
func (c *Client) admit(ctx context.Context) error {
	now := time.Now()
	if wait, ok := c.breaker.allow(now); !ok {
		return &sources.Error{Code: sources.EUpstreamUnavailable, RetryAfterSeconds: ceilSeconds(wait),
			Message: "Intercom is failing; calls are paused for a moment (circuit breaker open)"}
	}
	caller := sources.CallerFrom(ctx)
	wait, why := c.governor.take(now, caller, sources.PriorityFrom(ctx))
	if why == admitted {
		why, wait = c.takeFleet(ctx, now, caller)
	}
	if why == admitted {
		return nil
	}
	e := &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: max(1, ceilSeconds(wait))}
	switch why {
	case callerShareSpent:
		e.Message = "this caller has spent its share of the workspace's Intercom budget; retry after the window resets"
	case reservedForInteractive:
		e.Message = "the rest of the workspace's Intercom budget is kept for interactive reads (caller lookups, contacts); searches and syncs may retry after the window resets"
	default:
		e.Message = "the Intercom rate budget of this workspace is spent; retry after the window resets"
	}
	return e
}

// takeFleet asks the fleet's count once the governor admitted a call. Until
// the workspace id is known (the first /me) and while Redis errs, the
// governor's word stands.
func (c *Client) takeFleet(ctx context.Context, now time.Time, caller string) (refusal, time.Duration) {
	ws, ok := c.workspace.Peek()
	if c.fleet == nil || !ok || ws == "" {
		return admitted, 0
	}
	share := c.governor.callerShare
	if caller == "" {
		share = c.governor.perWindow
	}
	refused, wait, err := c.fleet.Take(ctx, ws, caller, now, rateWindow, c.governor.perWindow, share)
	switch {
	case err != nil:
		if used, wait := c.governor.usedInWindow(now); used > c.fleetShare {
			return workspaceSpent, wait
		}
		return admitted, 0
	case refused == "":
		return admitted, 0
	case refused == "caller":
		return callerShareSpent, wait
	default:
		return workspaceSpent, wait
	}
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// attempt sends one request. status is 0 when no response arrived.
func (c *Client) attempt(ctx context.Context, method, endpoint, u string, payload []byte) (int, http.Header, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Intercom-Version", c.version)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.record(endpoint, 0, start)
		return 0, http.Header{}, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	c.record(endpoint, resp.StatusCode, start)
	if err != nil {
		return 0, resp.Header, nil, err
	}
	return resp.StatusCode, resp.Header, data, nil
}

// linkWorkspace returns the workspace id deep links need, asking /me only
// if no call has told it yet. A failure is not remembered: the next call
// asks again.
func (c *Client) linkWorkspace(ctx context.Context) (string, error) {
	return c.workspace.Get(ctx)
}

// knownWorkspace is the workspace id if a call has told it, else "".
func (c *Client) knownWorkspace() string {
	id, _ := c.workspace.Peek()
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
	c.workspace.Set(id)
}

func (c *Client) record(endpoint string, status int, start time.Time) {
	if c.observe != nil {
		c.observe(endpoint, status, time.Since(start))
	}
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
		e.RetryAfterSeconds = retryAfter(header, status, time.Now())
	case s >= 500:
		e.Code, e.Message = sources.EUpstreamUnavailable, fmt.Sprintf("Intercom failed on %s (HTTP %d)", endpoint, s)
		e.RetryAfterSeconds = retryAfter(header, status, time.Now())
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

// retryAfter reads Retry-After (seconds), and for a 429 X-RateLimit-Reset
// (Unix time); every Intercom answer carries the latter, so it only means
// "wait" when the limit was hit.
func retryAfter(h http.Header, status int, now time.Time) int {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return s
	}
	if status != http.StatusTooManyRequests {
		return 0
	}
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		if d := reset - now.Unix(); d > 0 {
			return int(d)
		}
		return 1
	}
	return 0
}
