package intercom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The call path to Intercom is a chain of http.RoundTrippers, each with one
// job and tested alone (outermost first):
//
//	call      a request and its retries are one call to the breaker
//	retries   safe calls only, jittered backoff, Retry-After, inside the deadline
//	governor  the workspace's rate budget, shared among callers and priorities,
//	          and the fleet's count in Redis; an attempt that never left the
//	          process gives its unit back to both
//	breaker   stops calling an Intercom that keeps failing (sony/gobreaker)
//	otelhttp  one client span per attempt (when Config.Tracing)
//	observed  metrics, span attributes, the body read in full
//	base      the transport every tenant shares (one pool of connections)
//
// The governor is asked before the breaker, so that a probe the governor
// refuses never occupies the breaker's half-open slot. Refusals are
// *sources.Error values returned by RoundTrip; do() finds them through the
// *url.Error the http.Client wraps them in.
func newChain(base http.RoundTripper, g *governor, fleet *fleetCount, b *breaker, maxAttempts int, observe func(string, int, time.Duration), tracing bool) http.RoundTripper {
	var rt http.RoundTripper = &observed{next: base, observe: observe}
	if tracing { // otherwise no layer at all: tracing off costs nothing
		// No propagator: Intercom is a third party and has no use for our
		// trace ids. otelhttp records no header (no Authorization).
		rt = otelhttp.NewTransport(rt,
			otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "intercom " + endpointOf(r.Context()) }))
	}
	rt = &breakerTransport{next: rt, b: b}
	rt = &governorTransport{next: rt, g: g, fleet: fleet}
	rt = &retryTransport{next: rt, maxAttempts: maxAttempts}
	return &breakerCall{next: rt}
}

type ctxKey int

const (
	endpointKey ctxKey = iota
	attemptKey
	callKey // the *call an attempt belongs to (breakerCall)
)

// withEndpoint tells the layers the route pattern of a call (e.g. "POST
// /contacts/search"): metrics and spans are labelled by it, never by a path
// holding ids.
func withEndpoint(ctx context.Context, endpoint string) context.Context {
	return context.WithValue(ctx, endpointKey, endpoint)
}

func endpointOf(ctx context.Context) string {
	e, _ := ctx.Value(endpointKey).(string)
	return e
}

func attemptOf(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey).(int); ok {
		return n
	}
	return 1
}

// errCallTimeout is the cause of the client's own deadline (Config.Timeout):
// Intercom taking longer than that is Intercom's failure, whereas a caller
// that gave up sooner is not.
var errCallTimeout = errors.New("intercom: the call's timeout passed")

// callerGone says whether a call ended because its caller cancelled or its
// caller's deadline passed, rather than because of Intercom.
func callerGone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errCallTimeout)
}

// observed is the innermost layer: it reads the whole body (so that a reset
// mid-body is a failed attempt the layers above see, and retry), reports
// each attempt to Observe, and annotates the attempt's span.
type observed struct {
	next    http.RoundTripper
	observe func(endpoint string, status int, elapsed time.Duration)
}

var rateHeaders = []struct{ header, attr string }{
	{"X-RateLimit-Limit", "intercom.ratelimit.limit"},
	{"X-RateLimit-Remaining", "intercom.ratelimit.remaining"},
	{"X-RateLimit-Reset", "intercom.ratelimit.reset"},
	{"Retry-After", "intercom.retry_after"},
}

// maxBody bounds an answer held in memory.
const maxBody = 32 << 20

func (o *observed) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	endpoint := endpointOf(ctx)
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("intercom.endpoint", endpoint), attribute.Int("intercom.attempt", attemptOf(ctx)))
	start := time.Now()
	resp, err := o.next.RoundTrip(req)
	if err == nil {
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			resp = nil
			err = fmt.Errorf("read the answer: %w", err)
		} else {
			resp.Body = io.NopCloser(bytes.NewReader(data))
		}
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
		for _, h := range rateHeaders {
			if v := resp.Header.Get(h.header); v != "" {
				if n, perr := strconv.ParseInt(v, 10, 64); perr == nil {
					span.SetAttributes(attribute.Int64(h.attr, n))
				} else {
					span.SetAttributes(attribute.String(h.attr, v)) // Retry-After as an HTTP date
				}
			}
		}
	}
	if o.observe != nil {
		o.observe(endpoint, status, time.Since(start))
	}
	return resp, err
}
