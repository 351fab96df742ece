package sources

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Error codes: the closed vocabulary of every answer the service gives, on
// every transport. Each is declared here once; GraphQL reports it as
// extensions.code (internal/graphqlhttp), other endpoints as "code" with the
// status HTTPStatus gives (the Talkdesk bridge narrows it to its contract).
// Codes lists them all, and the list in docs/api.md must name each.
const (
	ENotFound            = "NOT_FOUND"
	EBadUserInput        = "BAD_USER_INPUT"
	EUnauthenticated     = "UNAUTHENTICATED"
	EForbidden           = "FORBIDDEN"
	EConflict            = "CONFLICT"
	ERateLimited         = "RATE_LIMITED"
	EUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	EInternal            = "INTERNAL"
	ECancelled           = "CANCELLED"   // the caller went away
	EUnavailable         = "UNAVAILABLE" // this server cannot serve it now (not ready, not configured for it): retry later or elsewhere

	// Refusals of a request before it runs.
	EBadRequest              = "BAD_REQUEST"        // not a well-formed request (GraphQL over HTTP, a webhook, a bridge envelope)
	EMethodNotAllowed        = "METHOD_NOT_ALLOWED" // the endpoint takes other methods (the Allow header names them)
	EBodyTooLarge            = "BODY_TOO_LARGE"     // the body is over MAX_BODY_BYTES
	ELengthRequired          = "LENGTH_REQUIRED"    // a body sent without a Content-Length (Transfer-Encoding), which proxies may frame differently
	EGraphQLParseFailed      = "GRAPHQL_PARSE_FAILED"
	EGraphQLValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	EQueryTooLarge           = "QUERY_TOO_LARGE"          // the document is over a size bound (tokens, fields, aliases, …)
	EQueryTooComplex         = "QUERY_TOO_COMPLEX"        // the operation is too deep, too complex or asks for too much introspection
	EUpstreamBudgetExceeded  = "UPSTREAM_BUDGET_EXCEEDED" // the operation may cost more Intercom calls than one operation may
	ETooManyActions          = "TOO_MANY_ACTIONS"         // more mutations that write than one request may run
	EIntrospectionDisabled   = "INTROSPECTION_DISABLED"
	EPersistedQueryNotFound  = "PERSISTED_QUERY_NOT_FOUND"   // an APQ hash the server does not know: send the query with it
	EPersistedQueryNotInList = "PERSISTED_QUERY_NOT_IN_LIST" // only trusted documents run (PERSISTED_OPERATIONS_ONLY)
)

// statuses is the HTTP status of every code.
var statuses = map[string]int{
	ENotFound:            http.StatusNotFound,
	EBadUserInput:        http.StatusBadRequest,
	EUnauthenticated:     http.StatusUnauthorized,
	EForbidden:           http.StatusForbidden,
	EConflict:            http.StatusConflict,
	ERateLimited:         http.StatusTooManyRequests,
	EUpstreamUnavailable: http.StatusServiceUnavailable,
	EInternal:            http.StatusInternalServerError,
	// Nobody reads it (the caller is gone); nginx's "client closed request"
	// keeps it out of the 5xx that alerts count.
	ECancelled:   499,
	EUnavailable: http.StatusServiceUnavailable,

	EBadRequest:              http.StatusBadRequest,
	EMethodNotAllowed:        http.StatusMethodNotAllowed,
	EBodyTooLarge:            http.StatusRequestEntityTooLarge,
	ELengthRequired:          http.StatusLengthRequired,
	EGraphQLParseFailed:      http.StatusBadRequest,
	EGraphQLValidationFailed: http.StatusBadRequest,
	EQueryTooLarge:           http.StatusBadRequest,
	EQueryTooComplex:         http.StatusBadRequest,
	EUpstreamBudgetExceeded:  http.StatusBadRequest,
	ETooManyActions:          http.StatusBadRequest,
	EIntrospectionDisabled:   http.StatusBadRequest,
	EPersistedQueryNotFound:  http.StatusBadRequest,
	EPersistedQueryNotInList: http.StatusBadRequest,
}

// Codes returns every error code, sorted.
func Codes() []string {
	return slices.Sorted(maps.Keys(statuses))
}

// Error is an error with a code and a message safe to show to the caller.
// Err, when set, holds the detail for logs only.
type Error struct {
	Code    string
	Message string
	// Field names the input field at fault, for BAD_USER_INPUT.
	Field string
	// RetryAfterSeconds hints when a RATE_LIMITED or UPSTREAM_UNAVAILABLE call may succeed.
	RetryAfterSeconds int
	Err               error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the code and a formatted public message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InputError returns a BAD_USER_INPUT error naming the field at fault.
func InputError(field, format string, args ...any) *Error {
	return &Error{Code: EBadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, INTERNAL for an error without one.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the public message of err. Errors without a code are
// internal: their text may hold details the caller must not see.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsNotFound reports whether err is a NOT_FOUND error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENotFound }

// HTTPStatus is the HTTP status of an error code, for transports that speak
// HTTP statuses (the Talkdesk bridge narrows it to its contract); 500 for a
// code outside the vocabulary.
func HTTPStatus(code string) int {
	if status, ok := statuses[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// MaxIDLength is the longest id any source's records have (Intercom's are
// 24 hexadecimal digits or a number): a longer one is refused before it
// reaches a cache key.
const MaxIDLength = 128

// CheckID refuses what cannot be a record's id: empty, longer than
// MaxIDLength, or holding anything but letters, digits and "-_.:@+" (a
// source prefix such as "sql:" included). Ids become cache keys: only
// validated ones may.
func CheckID(field, id string) error {
	if id == "" {
		return InputError(field, "%s must not be empty", field)
	}
	if len(id) > MaxIDLength {
		return InputError(field, "%s has %d bytes; an id has at most %d", field, len(id), MaxIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:@+", r)) {
			return InputError(field, "%s is not an id: it holds %s", field, Quote(string(r)))
		}
	}
	return nil
}
