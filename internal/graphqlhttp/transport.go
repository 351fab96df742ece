// Package graphqlhttp serves the GraphQL schema over HTTP as the GraphQL over
// HTTP specification says (https://graphql.github.io/graphql-over-http/draft/):
// GET for queries only, POST with application/json, responses in
// application/graphql-response+json or application/json as the client
// accepts, and the status codes that go with each.
package graphqlhttp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/sources"
)

const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// Transport implements gqlgen's graphql.Transport for GET and POST.
type Transport struct {
	// MaxErrors bounds the errors of one answer (0: 100): the rest are
	// counted in one last error.
	MaxErrors int
	// MaxURLBytes bounds a GET's query string (0: no bound): a GET carries
	// in its URL what a POST carries in its body (MAX_BODY_BYTES).
	MaxURLBytes int64
	// admission, when set, decides whether a validated operation runs now,
	// and adds its cost to the answer (NewHandler sets it).
	admission *admission
}

var _ graphql.Transport = Transport{}

// Supports takes every request but websocket upgrades: Do itself answers
// wrong methods and media types with the statuses the specification asks for.
func (Transport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == ""
}

// Do parses, validates and executes one GraphQL request.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		writeError(w, mediaJSON, http.StatusNotAcceptable,
			"Accept must allow application/graphql-response+json or application/json")
		return
	}
	if r.Method == http.MethodGet && t.MaxURLBytes > 0 && int64(len(r.URL.RawQuery)) > t.MaxURLBytes {
		n := len(r.URL.RawQuery)
		write(w, media, http.StatusRequestURITooLong, &graphql.Response{Errors: gqlerror.List{{
			Message:    fmt.Sprintf("the URL's query has %d bytes; at most %d are allowed (%s): send a large request as a POST", n, t.MaxURLBytes, settingBodyBytes),
			Extensions: map[string]any{"code": sources.EBodyTooLarge, "limit": settingBodyBytes, "max": t.MaxURLBytes, "value": n},
		}}}, false)
		return
	}
	params, bad := readParams(r)
	if bad != nil {
		switch {
		case bad.tooLarge != nil:
			writeBodyTooLarge(w, r, media, bad.tooLarge.Limit)
		case bad.status == http.StatusMethodNotAllowed:
			w.Header().Set("Allow", "GET, POST")
			fallthrough
		default:
			writeError(w, media, bad.status, bad.msg)
		}
		return
	}

	ctx := r.Context()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A request error (parse, validation, variables): the operation never ran.
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), capList(errs, t.MaxErrors))
		write(w, media, status, capErrors(resp, t.MaxErrors), false)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// GET must be safe: mutations only over POST.
		w.Header().Set("Allow", "POST")
		writeError(w, media, http.StatusMethodNotAllowed, "only queries may be sent with GET; send "+
			string(opCtx.Operation.Operation)+"s with POST")
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		// A subscription's events never end: they need a stream (package
		// streams serves both on this path).
		writeError(w, media, http.StatusBadRequest, "subscriptions run over a WebSocket (graphql-transport-ws) "+
			"or server-sent events (POST with Accept: text/event-stream), not a plain request")
		return
	}
	var cost map[string]any
	if t.admission != nil {
		release, ext, refused := t.admission.admit(ctx, opCtx)
		if refused != nil {
			w.Header().Set("Retry-After", strconv.Itoa(refused.Extensions["retryAfterSeconds"].(int)))
			write(w, media, http.StatusTooManyRequests, &graphql.Response{Errors: gqlerror.List{PresentError(ctx, refused)}}, false)
			return
		}
		defer release()
		cost = ext
		ctx = context.WithValue(ctx, admittedKey{}, true)
	}
	handle, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := handle(ctx)
	if resp != nil && cost != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cost"] = cost
	}
	write(w, media, http.StatusOK, capErrors(resp, t.MaxErrors), true)
}

// malformed is a request that is not a GraphQL over HTTP request: the
// status it is answered with and why (tooLarge: the body is over the limit).
type malformed struct {
	status   int
	msg      string
	tooLarge *http.MaxBytesError
}

// readParams reads the request's query, operation name, variables and
// extensions, or says why the request is malformed.
func readParams(r *http.Request) (*graphql.RawParams, *malformed) {
	params := &graphql.RawParams{}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		params.Query = q.Get("query")
		params.OperationName = q.Get("operationName")
		for name, dst := range map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
			if s := q.Get(name); s != "" {
				if err := decode([]byte(s), dst); err != nil {
					return nil, &malformed{status: http.StatusBadRequest, msg: name + " must be a JSON object"}
				}
			}
		}
	case http.MethodPost:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != mediaJSON {
			return nil, &malformed{status: http.StatusUnsupportedMediaType, msg: "POST bodies must be application/json"}
		}
		var body bytes.Buffer
		if _, err := body.ReadFrom(r.Body); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, &malformed{status: http.StatusRequestEntityTooLarge, tooLarge: tooLarge}
			}
			return nil, &malformed{status: http.StatusBadRequest, msg: "the request body could not be read"}
		}
		if err := decode(body.Bytes(), params); err != nil {
			// The body is not echoed back: it may be large or hold secrets.
			return nil, &malformed{status: http.StatusBadRequest, msg: "the request body is not a JSON object with a query: " + err.Error()}
		}
	default:
		return nil, &malformed{status: http.StatusMethodNotAllowed, msg: "use GET or POST"}
	}
	if strings.TrimSpace(params.Query) == "" && params.Extensions["persistedQuery"] == nil {
		return nil, &malformed{status: http.StatusBadRequest, msg: "the request has no query"}
	}
	return params, nil
}

func decode(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep large integers exact
	if err := dec.Decode(dst); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return errors.New("invalid JSON at byte " + strconv.FormatInt(syntax.Offset, 10))
		case errors.As(err, &typ):
			return errors.New(typ.Field + " has the wrong type")
		default:
			return errors.New("invalid JSON")
		}
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// negotiate picks the response media type from an Accept header, honouring
// q-values. No Accept header, or only wildcards, means a legacy client (curl
// sends */*): application/json, as the specification says it should.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, p, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := p["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		var candidate string
		switch mt {
		case mediaGraphQLResponse:
			candidate = mediaGraphQLResponse
		case mediaJSON:
			candidate = mediaJSON
		case "*/*", "application/*":
			candidate = mediaJSON
		default:
			continue
		}
		// Prefer the higher q; on a tie, the newer type when named.
		if q > bestQ || (q == bestQ && q > 0 && mt == mediaGraphQLResponse) {
			best, bestQ = candidate, q
		}
	}
	return best, bestQ > 0
}

// write answers resp. executed says whether the operation ran: a request
// error (parse, validation, a malformed request) has no data entry at all,
// not "data": null, as the GraphQL specification asks.
func write(w http.ResponseWriter, media string, status int, resp *graphql.Response, executed bool) {
	var b []byte
	var err error
	if executed {
		b, err = encodeResponse(resp)
	} else {
		b, err = json.Marshal(requestError{Errors: resp.Errors, Extensions: resp.Extensions})
	}
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"` + sources.EInternal + `"}}]}`)
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// encodeResponse is json.Marshal(resp), byte for byte, without scanning the
// data again: encoding/json validates and compacts a json.RawMessage with
// its full JSON scanner, a second pass over the whole answer (20 KB for a
// dashboard) that gqlgen's compact output does not need. The data is only
// HTML-escaped, as encoding/json escapes it.
func encodeResponse(resp *graphql.Response) ([]byte, error) {
	if resp == nil {
		return json.Marshal(resp)
	}
	rest, err := json.Marshal(struct {
		Label      string         `json:"label,omitempty"`
		Path       ast.Path       `json:"path,omitempty"`
		HasNext    *bool          `json:"hasNext,omitempty"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Label, resp.Path, resp.HasNext, resp.Extensions})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(resp.Data) + len(rest) + 16)
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`"errors":`)
		buf.Write(errs)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if resp.Data == nil {
		buf.WriteString("null")
	} else {
		json.HTMLEscape(&buf, resp.Data)
	}
	if len(rest) > len("{}") {
		buf.WriteByte(',')
		buf.Write(rest[1:])
	} else {
		buf.WriteByte('}')
	}
	return buf.Bytes(), nil
}

// maxMessage bounds an error message: messages may quote the document
// (a field name, a value), which a caller can make as long as the body.
const maxMessage = 500

// capList keeps the first max errors of a request error list (before the
// error presenter runs on each), and says how many more there were.
func capList(errs gqlerror.List, max int) gqlerror.List {
	if max <= 0 {
		max = 100
	}
	if len(errs) <= max || len(errs) == max+1 && errs[max].Extensions["omittedErrors"] != nil {
		return errs // within the cap, or capped already
	}
	more := len(errs) - max
	// The summary takes the code of the first error it stands for: lists of
	// errors are mostly of one kind (a budget spent, a field unknown).
	code, _ := errs[max].Extensions["code"].(string)
	return append(errs[:max:max], &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors not shown", more),
		Extensions: map[string]any{"code": cmp.Or(code, sources.EInternal), "omittedErrors": more},
	})
}

// capErrors bounds an answer's errors in number and each message in length.
func capErrors(resp *graphql.Response, max int) *graphql.Response {
	if resp == nil {
		return resp
	}
	resp.Errors = capList(resp.Errors, max)
	for _, e := range resp.Errors {
		if len(e.Message) > maxMessage {
			e.Message = strings.ToValidUTF8(e.Message[:maxMessage], "") + "…"
		}
	}
	return resp
}

// requestError is the answer of a request that never ran: gqlgen's
// graphql.Response always writes its data entry.
type requestError struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// writeError answers a request that is not a GraphQL over HTTP request.
// The specification's statuses decide: a wrong method has its own code (and
// status), any other malformed request is BAD_REQUEST whatever the status
// (406, 415, 400); a body over the limit is writeBodyTooLarge's.
func writeError(w http.ResponseWriter, media string, status int, msg string) {
	code := sources.EBadRequest
	if status == http.StatusMethodNotAllowed {
		code = sources.EMethodNotAllowed
	}
	write(w, media, status, &graphql.Response{Errors: gqlerror.List{{
		Message:    msg,
		Extensions: map[string]any{"code": code},
	}}}, false)
}

// writeBodyTooLarge answers a body over MAX_BODY_BYTES (web.LimitBody) as
// every other limit is answered: the setting, its bound and, when the
// client declared it, the size reached (the body is not read past the bound).
func writeBodyTooLarge(w http.ResponseWriter, r *http.Request, media string, limit int64) {
	ext := map[string]any{"code": sources.EBodyTooLarge, "limit": settingBodyBytes, "max": limit}
	msg := fmt.Sprintf("the request body is larger than %d bytes (%s)", limit, settingBodyBytes)
	if r.ContentLength > limit {
		ext["value"] = r.ContentLength
		msg = fmt.Sprintf("the request body has %d bytes; at most %d are allowed (%s)", r.ContentLength, limit, settingBodyBytes)
	}
	write(w, media, http.StatusRequestEntityTooLarge, &graphql.Response{Errors: gqlerror.List{{
		Message: msg, Extensions: ext,
	}}}, false)
}

// Refuse answers a GraphQL request that is refused before it reaches the
// handler (an API key, a rate limit, a caller's Intercom token): a request
// error in the media type the client accepts, with its code's status.
func Refuse(w http.ResponseWriter, r *http.Request, err error) {
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		media = mediaJSON
	}
	var coded *sources.Error
	if errors.As(err, &coded) && coded.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(coded.RetryAfterSeconds))
	}
	status := sources.HTTPStatus(sources.ErrorCode(err))
	write(w, media, status, &graphql.Response{Errors: gqlerror.List{PresentError(r.Context(), err)}}, false)
}
