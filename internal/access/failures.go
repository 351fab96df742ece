package access

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Failures throttles failed authentications per client address
// (AUTH_FAILURES_PER_MINUTE): a wrong or missing API key, a webhook whose
// signature does not verify. Only the failing attempts count and only they
// are refused: a valid credential is never refused for its address's
// failures, since many callers may share one address (behind a proxy, or
// Talkdesk's servers for all its accounts). Guessing keys then gets 429s
// instead of answers, and a flood of junk costs one hash per request.
type Failures struct{ l *Limiter }

// NewFailures allows each address perMinute failures a minute, all of them
// at once (a burst of perMinute: a person mistyping a key a few times never
// meets the limit).
func NewFailures(perMinute int) *Failures {
	l := newLimiter(perMinute, maxCallers)
	l.burst = float64(perMinute)
	return &Failures{l: l}
}

// Share makes the allowance the fleet's, as Limiter.Share.
func (f *Failures) Share(ctx context.Context, deployment func() string, health *redis.Health, every time.Duration) {
	if f != nil {
		f.l.Share(ctx, "auth-failures", deployment, health, every)
	}
}

// Failed counts the failed authentication of r and returns err, the
// refusal to answer; once r's address is over its allowance, a
// RATE_LIMITED error instead. A nil Failures counts nothing.
func (f *Failures) Failed(r *http.Request, err error) error {
	return f.failed(clientIP(r), err)
}

// FailedIn is Failed for a refusal made where only the request's context is
// at hand (a WebSocket's connection_init): the client is the one
// ClientAddress noted in ctx; without it nothing is counted.
func (f *Failures) FailedIn(ctx context.Context, err error) error {
	c, ok := ctx.Value(clientKey{}).(client)
	if !ok || !c.addr.IsValid() {
		return err
	}
	return f.failed("ip:"+c.addr.String(), err)
}

func (f *Failures) failed(address string, err error) error {
	if f == nil {
		return err
	}
	if wait, ok := f.l.Allow("fail:" + address); !ok {
		secs := int(wait/time.Second) + 1
		return &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: secs,
			Message: "too many failed authentications from this address (AUTH_FAILURES_PER_MINUTE); retry in " + strconv.Itoa(secs) + " s",
			Err:     err}
	}
	return err
}
