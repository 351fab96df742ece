package graphqlhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// persistedQueries resolves persisted operations: Apollo's automatic
// persisted queries (a client sends the SHA-256 of its document, and the
// document itself only when the server does not know it yet), kept in
// process and in Redis (DocumentStore) so that every replica knows what any
// one has learnt; and, in
// allow-list mode, only the trusted documents of a file run.
//
// gqlgen has an APQ extension, but it keeps registrations in a
// graphql.Cache (one process), has no allow-list, and decodes the
// extension's version as an int64, which the transport's exact JSON numbers
// are not.
type persistedQueries struct {
	docs    *documents
	trusted map[string]string // sha256 hex of a document → the document
	only    bool              // run trusted documents only
}

// apqTTL is how long a registered document is kept: a client whose hash was
// forgotten sends the document once more. With each document bounded by
// MAX_QUERY_BYTES and registered only once it has passed every limit, a
// day and PERSISTED_QUERIES_REDIS_MAX_BYTES bound what callers can make
// Redis hold (RedisDocuments).
const apqTTL = 24 * time.Hour

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = persistedQueries{}

func (persistedQueries) ExtensionName() string                   { return "PersistedQueries" }
func (persistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	hash, present, err := persistedHash(params.Extensions)
	if err != nil {
		return err
	}
	if !present {
		if p.only && p.trusted[sha256Hex(params.Query)] == "" {
			return notInList()
		}
		return nil
	}
	if params.Query != "" {
		if sha256Hex(params.Query) != hash {
			return badRequest("extensions.persistedQuery.sha256Hash is not the SHA-256 of the query")
		}
		if p.only {
			if p.trusted[hash] == "" {
				return notInList()
			}
			return nil
		}
		// Registered once the operation has passed validation and every
		// limit (apqRegistration): the store keeps documents that run only.
		params.Extensions[registerMark] = hash
		return nil
	}
	if q := p.trusted[hash]; q != "" {
		params.Query = q
		return nil
	}
	if p.only {
		return notInList()
	}
	if q, ok := p.docs.get(ctx, hash); ok {
		params.Query = q
		return nil
	}
	// Apollo's clients look for this exact message to send the document.
	return &gqlerror.Error{Message: "PersistedQueryNotFound",
		Extensions: map[string]any{"code": sources.EPersistedQueryNotFound}}
}

// persistedHash reads extensions.persistedQuery: {"version": 1, "sha256Hash": "…"}.
func persistedHash(ext map[string]any) (hash string, present bool, _ *gqlerror.Error) {
	raw, ok := ext["persistedQuery"]
	if !ok || raw == nil {
		return "", false, nil
	}
	pq, ok := raw.(map[string]any)
	if !ok {
		return "", true, badRequest("extensions.persistedQuery must be an object with version and sha256Hash")
	}
	if v := fmt.Sprint(pq["version"]); v != "1" {
		return "", true, badRequest("extensions.persistedQuery.version must be 1")
	}
	hash, _ = pq["sha256Hash"].(string)
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return "", true, badRequest("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
	}
	return hash, true, nil
}

// registerMark asks apqRegistration to keep the request's document.
const registerMark = "tdi.registerPersistedQuery"

// apqRegistration keeps the documents clients register, after validation
// and the limits (it is used after them).
type apqRegistration struct{ docs *documents }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = apqRegistration{}

func (apqRegistration) ExtensionName() string                   { return "PersistedQueryRegistration" }
func (apqRegistration) Validate(graphql.ExecutableSchema) error { return nil }

func (a apqRegistration) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	hash, _ := oc.Extensions[registerMark].(string)
	if hash == "" || sha256Hex(oc.RawQuery) != hash {
		return nil
	}
	a.docs.put(ctx, hash, oc.RawQuery)
	return nil
}

// documents are the registered persisted queries: an in-process copy
// bounded by bytes (clients choose a document's size), in front of the
// store the replicas share when there is one. A document never changes
// under its hash: the copy needs no invalidation.
type documents struct {
	local  *cache.MemoryStore
	shared DocumentStore // nil: in process only
}

func (d *documents) get(ctx context.Context, hash string) (string, bool) {
	key := []string{redis.PersistedDocumentKey(hash)}
	if v := d.local.MGetLocal(key); v[0] != nil {
		return string(v[0]), true
	}
	if d.shared == nil {
		return "", false
	}
	doc, ok := d.shared.Get(ctx, hash)
	if !ok {
		return "", false
	}
	_ = d.local.MSet(ctx, []cache.Item{{Key: key[0], Value: []byte(doc), TTL: apqTTL}})
	return doc, true
}

// put keeps a document in process and, best effort, in the shared store:
// when that one fails or is full, the client sends the document again
// next time.
func (d *documents) put(ctx context.Context, hash, doc string) {
	item := []cache.Item{{Key: redis.PersistedDocumentKey(hash), Value: []byte(doc), TTL: apqTTL}}
	_ = d.local.MSet(ctx, item)
	if d.shared != nil {
		d.shared.Put(ctx, hash, doc)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func badRequest(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": sources.EBadRequest}}
}

func notInList() *gqlerror.Error {
	return &gqlerror.Error{
		Message:    "this server runs trusted documents only (PERSISTED_OPERATIONS_ONLY): send the sha256Hash of a registered operation",
		Extensions: map[string]any{"code": sources.EPersistedQueryNotInList},
	}
}

// LoadTrustedDocuments reads a file of trusted documents, in either of the
// two common forms: an Apollo persisted query manifest
// ({"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}, …]})
// or a map of hash to document (GraphQL Code Generator's and Relay's
// persisted-documents.json). Every id must be the SHA-256 of its document,
// which is what clients send.
func LoadTrustedDocuments(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var manifest struct {
		Format     string `json:"format"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	docs := map[string]string{}
	if err := json.Unmarshal(b, &manifest); err == nil && manifest.Format != "" {
		for _, op := range manifest.Operations {
			docs[op.ID] = op.Body
		}
	} else if err := json.Unmarshal(b, &docs); err != nil {
		return nil, errors.New("not an Apollo persisted query manifest nor a JSON object of hash to document")
	}
	for id, doc := range docs {
		if sha256Hex(doc) != id {
			return nil, fmt.Errorf("document %s: its id is not the SHA-256 of its body", strconv.Quote(id[:min(len(id), 16)]))
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("the file holds no document")
	}
	return docs, nil
}
