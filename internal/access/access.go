// Package access guards the HTTP API: API keys, per-caller rate limits, CORS
// and request deadlines. Every rejection has a status, a code and a message
// that says what to do.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/rs/cors"

	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// Refuse answers a refused request in the shape its route speaks (GraphQL
// errors, or web's error answer); the status is the code's. Each group of
// routes hands its own to the guards it uses.
type Refuse func(w http.ResponseWriter, r *http.Request, err error)

// Plain refuses in web's error answer: the shape of every route but GraphQL.
func Plain(w http.ResponseWriter, r *http.Request, err error) { web.WriteError(w, r, web.Present, err) }

// Keys is a set of API keys, held as hashes and compared in constant time.
type Keys struct{ hashes [][32]byte }

// NewKeys parses a comma-separated list of keys; empty means no keys.
func NewKeys(list string) *Keys {
	k := &Keys{}
	for _, key := range strings.Split(list, ",") {
		if key = strings.TrimSpace(key); key != "" {
			k.hashes = append(k.hashes, sha256.Sum256([]byte(key)))
		}
	}
	return k
}

// Enabled reports whether keys are required.
func (k *Keys) Enabled() bool { return k != nil && len(k.hashes) > 0 }

// Valid reports whether key is one of the keys. Every key is compared, in
// constant time, so that timing tells nothing about which part matched.
func (k *Keys) Valid(key string) bool {
	_, ok := k.match(key)
	return ok
}

// Identify names the caller that presents key, as RequireKey does, and
// reports whether key is one of the keys.
func (k *Keys) Identify(key string) (caller string, ok bool) {
	sum, ok := k.match(key)
	if !ok {
		return "", false
	}
	return keyCaller(sum), true
}

// keyCaller names a caller by a short prefix of its key's hash: enough to
// tell keys apart, too little to guess one.
func keyCaller(sum [32]byte) string { return "key:" + hex.EncodeToString(sum[:6]) }

// match hashes key once and reports whether it is one of the keys; the hash
// also names the caller.
func (k *Keys) match(key string) ([32]byte, bool) {
	h := sha256.Sum256([]byte(key))
	ok := 0
	for _, want := range k.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return h, ok == 1 && key != ""
}

// FromRequest returns the API key a caller presented: X-API-Key, or an
// Authorization: Bearer header.
func FromRequest(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// Caller names who is calling, for rate limits and logs: a hash of the API
// key, or the client address when no keys are configured. It is the caller
// of package sources, so that a source's budget is shared out by it too.
func Caller(ctx context.Context) string { return sources.CallerFrom(ctx) }

// RequireKey refuses requests without a valid API key (401) when keys are
// configured, and names the caller by its key (by its address without keys).
// Each refusal counts against the client address's failures, which answer
// 429 instead once the address is over AUTH_FAILURES_PER_MINUTE.
func RequireKey(keys *Keys, failures *Failures, refuse Refuse) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			caller := clientIP(r)
			if keys.Enabled() {
				key := FromRequest(r)
				sum, valid := keys.match(key)
				switch {
				case key == "":
					refuse(w, r, failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "an API key is required: send it as X-API-Key or Authorization: Bearer")))
					return
				case !valid:
					refuse(w, r, failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "the API key is not valid")))
					return
				}
				caller = keyCaller(sum)
			}
			next.ServeHTTP(w, r.WithContext(sources.WithCaller(r.Context(), caller)))
		})
	}
}

// ByAddress names the caller by its address, for routes that take no API
// key (probes, the playground's page, the bridge, which checks its key in the
// body, and signed webhooks).
func ByAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(sources.WithCaller(r.Context(), clientIP(r))))
	})
}

// Limiter allows each caller perMinute requests, refilled continuously
// (a token bucket with a burst of a tenth of a minute's allowance), in this
// replica, or in the whole fleet once shared (Share).
//
// It remembers at most maxCallers buckets. A full limiter forgets the idle
// callers (see package bounded), never all at once: forgetting a caller
// refills its burst, so clearing every bucket would let every caller burst
// again.
type Limiter struct {
	perMinute float64
	burst     float64
	buckets   *otter.Cache[string, bucket]
	now       func() time.Time
	fleet     *fleet // nil: this replica's buckets alone (see Share)
}

const maxCallers = 100_000

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter; perMinute <= 0 disables it.
func NewLimiter(perMinute int) *Limiter { return newLimiter(perMinute, maxCallers) }

func newLimiter(perMinute, callers int) *Limiter {
	return &Limiter{perMinute: float64(perMinute), burst: max(10, float64(perMinute)/10),
		buckets: bounded.New(otter.Options[string, bucket]{MaximumSize: callers}, nil), now: time.Now}
}

// Allow takes a token for caller, or says how long until one is free.
func (l *Limiter) Allow(caller string) (wait time.Duration, ok bool) {
	if l.perMinute <= 0 {
		return 0, true
	}
	now := l.now()
	if l.fleet != nil {
		if wait, over := l.fleet.over(caller, now); over {
			return wait, false
		}
		defer func() {
			if ok {
				l.fleet.admit(caller)
			}
		}()
	}
	// Compute updates the caller's bucket atomically, without a lock over
	// every caller.
	l.buckets.Compute(caller, func(b bucket, found bool) (bucket, otter.ComputeOp) {
		if !found {
			b = bucket{tokens: l.burst, at: now}
		}
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
		b.at = now
		if b.tokens < 1 {
			wait = time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
		} else {
			b.tokens--
			ok = true
		}
		return b, otter.WriteOp
	})
	return wait, ok
}

// RateLimit refuses callers over their allowance with 429 and Retry-After.
func RateLimit(l *Limiter, refuse Refuse) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if wait, ok := l.Allow(Caller(r.Context())); !ok {
				secs := int(wait/time.Second) + 1
				refuse(w, r, &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: secs,
					Message: "too many requests from this caller; retry in " + strconv.Itoa(secs) + " s"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CORS answers browsers from the allowed origins ("*" allows any) with
// rs/cors. It answers every preflight itself: a refused one gets no grant
// (and the browser stops there) instead of reaching the handler.
func CORS(origins []string) func(http.Handler) http.Handler {
	var allowed []string
	for _, o := range origins {
		if o = strings.TrimSpace(o); o != "" {
			allowed = append(allowed, strings.TrimRight(o, "/"))
		}
	}
	opts := cors.Options{
		AllowedOrigins: allowed,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Accept", "Authorization", "X-API-Key", "X-Intercom-Token",
			"X-Intercom-Region", web.RequestIDHeader},
		ExposedHeaders: []string{web.RequestIDHeader, "Retry-After"},
		MaxAge:         600,
	}
	if len(allowed) == 0 {
		// rs/cors reads no origins as any origin; here it means none.
		opts.AllowOriginFunc = func(string) bool { return false }
	}
	return cors.New(opts).Handler
}

// Deadline bounds every request: the context is cancelled after d, which
// every upstream call and loader batch below respects.
func Deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
