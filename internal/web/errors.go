package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/talkdesk-intercom/api/sources"
)

// ErrorBody is the JSON of every error answer outside GraphQL.
type ErrorBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	// Problems are a request's input problems, each with the field at fault.
	Problems  []Problem `json:"problems,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

// Problem is one input problem of a request.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// Presenter turns an error into its answer's status and body: Present for
// every endpoint, or a transport's narrowing of it (the Talkdesk bridge's).
type Presenter func(error) (int, ErrorBody)

// Present answers an error with its code's status (sources.HTTPStatus) and
// public message; an error without a code is INTERNAL.
func Present(err error) (int, ErrorBody) {
	code := sources.ErrorCode(err)
	return sources.HTTPStatus(code), ErrorBody{Message: sources.ErrorMessage(err), Code: code}
}

// Handle adapts a handler that returns its error: the error is answered by
// Present.
func Handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return HandleWith(Present, h)
}

// HandleWith is Handle with the errors presented by p.
func HandleWith(p Presenter, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, p, err)
		}
	})
}

// WriteError answers err as p presents it. Internal errors (500) are logged
// with their detail and the request id, and masked for the caller; other
// server-side failures are logged by their public message only, since a
// coded error's detail may quote an upstream answer.
func WriteError(w http.ResponseWriter, r *http.Request, p Presenter, err error) {
	ctx := r.Context()
	status, body := p(err)
	switch {
	case status == http.StatusInternalServerError:
		body.Code, body.RequestID = sources.EInternal, RequestID(ctx)
		body.Message = "internal error (request id " + body.RequestID + ")"
		Logger(ctx).Error("internal error", "path", r.URL.Path, "error", err)
	case status >= 500:
		Logger(ctx).Warn("request failed", "path", r.URL.Path, "code", body.Code, "message", body.Message)
	}
	var coded *sources.Error
	if errors.As(err, &coded) && coded.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(coded.RetryAfterSeconds))
	} else if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, body)
}
