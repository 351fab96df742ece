package graphqlhttp_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// post sends a GraphQL request's JSON body and returns the answer's.
func post(t *testing.T, h http.Handler, body string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return strings.TrimSpace(rec.Body.String())
}

// A rolling deploy: a client registered its document with a replica of the
// previous release, which kept it under the name it uses (typed out here,
// not built by the code under test). The client's next request, by hash
// only, lands on a replica of this release and is served; a document this
// release registers is where the previous release looks.
func TestADocumentThePreviousReleaseKeptIsServedByHash(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	h := graphqlhttp.NewHandler(graph.NewExecutableSchema(graph.Config{}),
		graphqlhttp.Options{PersistedStore: graphqlhttp.NewRedisDocuments(client, redis.NewHealth(client, time.Second, nil), 1<<20, metrics.New())})
	ctx := context.Background()
	hashOf := func(doc string) string {
		sum := sha256.Sum256([]byte(doc))
		return hex.EncodeToString(sum[:])
	}

	old := "query Old" + strings.ReplaceAll(redistest.Unique("x"), "-", "_") + " { __typename }"
	if err := client.Set(ctx, "tdi:v1:apq:"+hashOf(old), old, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	byHash := `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hashOf(old) + `"}}}`
	if got := post(t, h, byHash); got != `{"data":{"__typename":"Query"}}` {
		t.Errorf("by the hash of a document the previous release kept: %s", got)
	}

	fresh := "query New" + strings.ReplaceAll(redistest.Unique("x"), "-", "_") + " { __typename }"
	register := `{"query":"` + fresh + `","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hashOf(fresh) + `"}}}`
	if got := post(t, h, register); got != `{"data":{"__typename":"Query"}}` {
		t.Fatalf("registering: %s", got)
	}
	if got, err := client.Get(ctx, "tdi:v1:apq:"+hashOf(fresh)).Result(); err != nil || got != fresh {
		t.Errorf("where the previous release looks: %q, %v; want the document", got, err)
	}
}
