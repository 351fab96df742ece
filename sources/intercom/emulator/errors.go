package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error codes the emulator answers with. Codes that the OpenAPI description
// shows are used verbatim; the search ones it does not document are named in
// the same style.
const (
	CodeUnauthorized      = "unauthorized"        // 401, as the description
	CodeNotFound          = "not_found"           // 404 contact / route
	CodeCompanyNotFound   = "company_not_found"   // 404 company, as the description
	CodeAdminNotFound     = "admin_not_found"     // 404 admin, as the description
	CodeRateLimited       = "rate_limit_exceeded" // 429, as the description
	CodeServerError       = "server_error"        // 500
	CodeServiceUnavail    = "service_unavailable" // 503 (faults)
	CodeVersionInvalid    = "intercom_version_invalid"
	CodeBadRequest        = "bad_request"                    // malformed body, nesting/size limits
	CodeInvalidField      = "invalid_field"                  // unknown or unsearchable field
	CodeInvalidOperator   = "invalid_operator"               // unknown operator or not valid for the field type
	CodeInvalidValue      = "invalid_value"                  // value of the wrong type for the field/operator
	CodeInvalidSortOrder  = "invalid_sort_order"             // as the description
	CodeParameterInvalid  = "parameter_invalid"              // per_page / page out of range
	CodeClientError       = "client_error"                   // unusable starting_after cursor, as the description
	CodePlanRestricted    = "api_plan_restricted"            // 403: the workspace's plan lacks the feature, as the description
	CodeCallIDLimit       = "conversation_id_limit_exceeded" // 400 from /calls/search, as the description
	CodeParameterNotFound = "parameter_not_found"            // 400: a required body parameter is missing, as the description
	CodeConflict          = "conflict"                       // 409: a user with that email or external_id exists, as the live API
	CodeCompanyLimit      = "contact_company_limit_exceeded" // 400: 1000 companies on one contact, as the description
	msgAccessTokenInvalid = "Access Token Invalid"
	msgUserNotFound       = "User Not Found"
	msgResourceNotFound   = "Resource Not Found" // unknown tag or admin in a write, as the description's examples
	msgBadCursor          = "Invalid starting_after param. Please try again using a starting_after value from a paginated response"
)

// apiError is one entry of an Intercom error.list body.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

type errorList struct {
	Type      string     `json:"type"`
	RequestID string     `json:"request_id"`
	Errors    []apiError `json:"errors"`
}

// writeJSON answers with a JSON body, without HTML escaping so that
// operators such as ">=" read naturally in messages. Encoding errors cannot
// happen for the emulator's own types, so they are ignored.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers with Intercom's error.list body; the request id is the
// one already put in the X-Request-Id header.
func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, errorList{
		Type:      "error.list",
		RequestID: w.Header().Get("X-Request-Id"),
		Errors:    []apiError{*e},
	})
}

// newRequestID returns a random UUIDv4: the description types request_id as
// format uuid.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
