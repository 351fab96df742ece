package respcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/workspace"
)

// authHeaders are the request headers that choose what a caller may read:
// they are part of every key (hashed, never kept), and a GET's Vary names
// them so that no intermediary serves one caller's answer to another.
var authHeaders = []string{"Authorization", "X-API-Key", "X-Intercom-Token", "X-Intercom-Region"}

// Middleware answers a GraphQL request from the cache when it can, and
// otherwise runs next and keeps its answer when it may be shared. It goes
// inside the workspace middleware (it keys by the request's workspace) and
// after the rate limits (a hit is still a request the caller makes).
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodPost) || streaming(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !c.trusted.Load() && c.shared == nil {
			c.count("bypassed")
			next.ServeHTTP(w, r)
			return
		}
		ws, err := workspace.From(r.Context())
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		tenant, known := ws.ID.Get()
		if !known {
			next.ServeHTTP(w, r) // nothing it reads is cached either
			return
		}
		doc := []byte(r.URL.RawQuery)
		if r.Method == http.MethodPost {
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(r.Body) // bounded by MAX_BODY_BYTES (web.LimitBody)
			if err != nil {
				// The handler reports the failure as it always does.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			doc = body
		}
		key := keyOf(tenant, r, doc)
		conditional := r.Method == http.MethodGet && persisted(r)
		serve := func(a *answer) {
			w.Header().Set("Content-Type", a.contentType)
			if conditional && revalidate(w, r, a.etag) {
				return
			}
			_, _ = w.Write(a.body)
		}
		// While the stream is broken the in-process level is bypassed; the
		// shared level is not: it is checked against Redis on every read.
		if !c.trusted.Load() {
			c.count("bypassed")
		} else if a := c.get(key); a != nil {
			c.count("hit")
			serve(a)
			return
		} else {
			c.count("miss")
		}
		epoch := epochs{own: c.epochOf(tenant).Load(), all: c.all.Load()}
		if c.shared != nil {
			if a := c.shared.get(r.Context(), tenant, key); a != nil {
				// Kept in process too, unless an invalidation overtook the
				// read (the epochs were taken before it).
				c.put(tenant, epoch, a)
				serve(a)
				return
			}
		}
		ctx, reads := cache.WithReads(r.Context())
		p := &pending{}
		ctx = context.WithValue(ctx, pendingKey{}, p)
		rec := &recorder{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))

		body := rec.buf.Bytes()
		if rec.status == http.StatusOK {
			c.keep(ctx, tenant, epoch, key, rec.header.Get("Content-Type"), body, p, reads)
			if conditional && revalidate(w, r, validator(body)) {
				return
			}
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// keep stores an answer when it may be shared: a query (no mutation, no
// deferred part), without errors (a partial answer) or stale values, built
// only from reads that keys name, and not overtaken by an invalidation.
func (c *Cache) keep(ctx context.Context, tenant string, epoch epochs, key, contentType string, body []byte, p *pending, reads *cache.Reads) {
	if !p.shareable.Load() || reads.Untracked() {
		c.count("not_stored")
		return
	}
	if _, stale := cache.StaleAge(ctx); stale {
		c.count("not_stored")
		return
	}
	hit, ok := hitBody(body)
	if !ok {
		c.count("not_stored")
		return
	}
	life := c.ttl
	if fresh, any := reads.FreshFor(); any {
		life = min(life, fresh)
	}
	if life <= 0 {
		c.count("not_stored")
		return
	}
	raw := reads.Bytes()
	deps := make([]string, 0, len(raw))
	for k := range raw {
		deps = append(deps, k)
	}
	a := &answer{key: key, body: hit, etag: validator(body), contentType: contentType, deps: deps, expires: c.now().Add(life)}
	switch {
	case !c.trusted.Load():
		// Bypassed while the stream is broken: the shared level only.
	case c.put(tenant, epoch, a):
		c.count("stored")
	default:
		c.count("not_stored")
	}
	if c.shared != nil {
		c.shared.put(ctx, tenant, a, raw, life)
	}
}

// hitBody is body as a hit serves it, with extensions.cached; ok is false
// for an answer that may not be kept (errors, stale values, no data).
func hitBody(body []byte) ([]byte, bool) {
	var resp struct {
		Errors     json.RawMessage            `json:"errors"`
		Data       json.RawMessage            `json:"data"`
		Extensions map[string]json.RawMessage `json:"extensions"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Errors) > 0 || len(resp.Data) == 0 || string(resp.Data) == "null" {
		return nil, false
	}
	if _, stale := resp.Extensions["stale"]; stale {
		return nil, false
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]json.RawMessage{}
	}
	// What the operation spent of its caller's cost budget, and what was
	// left then, is the executed request's: a hit spends nothing of it.
	delete(resp.Extensions, "cost")
	resp.Extensions["cached"] = json.RawMessage("true")
	ext, err := json.Marshal(resp.Extensions)
	if err != nil {
		return nil, false
	}
	out := make([]byte, 0, len(resp.Data)+len(ext)+32)
	out = append(out, `{"data":`...)
	out = append(out, resp.Data...)
	out = append(out, `,"extensions":`...)
	out = append(out, ext...)
	return append(out, '}'), true
}

// keyOf names an answer: the workspace, the caller's credentials (hashed
// with the rest: never kept), how the answer is asked for (method, Accept,
// Content-Type) and the document, operation and variables (the body, or a
// GET's query string).
func keyOf(tenant string, r *http.Request, doc []byte) string {
	h := sha256.New()
	write := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	write(tenant)
	write(access.FromRequest(r))
	for _, name := range authHeaders {
		write(r.Header.Get(name))
	}
	write(r.Method)
	write(r.Header.Get("Accept"))
	write(r.Header.Get("Content-Type"))
	h.Write(doc)
	return string(h.Sum(nil))
}

// streaming reports a request answered in parts or over an upgraded
// connection (subscriptions, @defer): never kept.
func streaming(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return r.Header.Get("Upgrade") != "" || strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "multipart/")
}

// persisted reports a GET of a persisted query (by its hash).
func persisted(r *http.Request) bool {
	return strings.Contains(r.URL.Query().Get("extensions"), "persistedQuery")
}

// validator is an answer's ETag: a hash of its data (the extensions say how
// it was served, not what it is), or of the whole body when it has none.
func validator(body []byte) string {
	var resp struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &resp) == nil && len(resp.Data) > 0 {
		body = resp.Data
	}
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// revalidate sets a GET persisted query's validators: the answer is the
// caller's alone (private), asked again each time (no-cache), and varies
// with the credentials. It answers 304 when the caller holds it already.
func revalidate(w http.ResponseWriter, r *http.Request, etag string) bool {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	h.Add("Vary", strings.Join(authHeaders, ", "))
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			h.Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder holds an answer until it is known whether it is kept and what
// its validator is.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.buf.Write(b)
}

type pendingKey struct{}

// pending is what the GraphQL executor tells about a request's operation.
type pending struct{ shareable atomic.Bool }

// Extension tells the cache which answers are of operations that may be
// shared: queries without deferred parts (a mutation acts; a subscription
// and a deferred answer come in parts). Add it to the GraphQL handler.
type Extension struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = Extension{}

func (Extension) ExtensionName() string                          { return "ResponseCache" }
func (Extension) Validate(schema graphql.ExecutableSchema) error { return nil }

func (Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Query && !strings.Contains(oc.RawQuery, "@defer") {
		p.shareable.Store(true)
	}
	return resp
}

// Publisher is where this replica's entity cache publishes its
// invalidations: the answers they touch are dropped here first, at once
// (a client that changed something reads the change on its next request,
// before the stream brings the event back), and in Redis for every replica
// (the shared level's versions), then the event goes to every replica
// through next (nil: a process without an event stream).
func (c *Cache) Publisher(next cache.Publisher) cache.Publisher { return publisher{c: c, next: next} }

type publisher struct {
	c    *Cache
	next cache.Publisher
}

func (p publisher) Publish(ctx context.Context, ev events.Event) error {
	p.c.Event(ev)
	if p.c.shared != nil {
		// The entity cache has marked or deleted the keys in Redis: the
		// answers built from them go for every replica at once.
		ev.Counted = p.c.shared.bump(ctx, ev.Workspace, ev.Keys)
	}
	if p.next == nil {
		return nil
	}
	return p.next.Publish(ctx, ev)
}
