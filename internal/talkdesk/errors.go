package talkdesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// errorBody is every error answer: the contract's `message`, plus a code and,
// for an action's input problems, each problem with the field at fault.
type errorBody struct {
	Message   string    `json:"message"`
	Code      string    `json:"code,omitempty"`
	Problems  []problem `json:"problems,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("the body is larger than %d bytes", e.limit)
}

// classify is the one mapping of errors to the bridge's answers: an HTTP
// status and the body that says why. The contract knows 204/201/200 for
// success, 401 for credentials that do not work and 400 for everything the
// caller can fix; action execution in particular answers 400 for any failure
// the caller can act on, so input problems, unknown contacts and conflicts
// are all 400.
func classify(err error) (int, errorBody) {
	var problems actions.Problems
	var tooLarge *bodyTooLargeError
	switch {
	case errors.As(err, &problems):
		body := errorBody{Code: sources.EBadUserInput}
		msgs := make([]string, len(problems))
		for i, p := range problems {
			body.Problems = append(body.Problems, problem{Field: p.Field, Message: p.Message, Code: p.Code})
			msgs[i] = p.Message
		}
		body.Message = strings.Join(msgs, "; ")
		return http.StatusBadRequest, body
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, errorBody{Message: tooLarge.Error(), Code: sources.EBadUserInput}
	}
	code := sources.ErrorCode(err)
	body := errorBody{Message: sources.ErrorMessage(err), Code: code}
	switch code {
	case sources.ENotFound, sources.EConflict:
		return http.StatusBadRequest, body // the contract's one status for "fix the request"
	default:
		return sources.HTTPStatus(code), body
	}
}

// writeError answers err. Internal errors are logged with their detail and
// the request id, and masked for the caller; nothing here ever holds a token
// (coded messages are written to be shown, and internal ones are not shown).
func writeError(ctx context.Context, w http.ResponseWriter, err error) {
	code, body := classify(err)
	switch {
	case code == http.StatusInternalServerError:
		body.RequestID = web.RequestID(ctx)
		body.Message = "internal error (request id " + body.RequestID + ")"
		web.Logger(ctx).Error("talkdesk bridge: internal error", "error", err)
	case code >= 500:
		web.Logger(ctx).Warn("talkdesk bridge: Intercom is unavailable", "error", sources.ErrorMessage(err))
	}
	var coded *sources.Error
	if errors.As(err, &coded) && coded.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(coded.RetryAfterSeconds))
	} else if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	web.WriteJSON(w, code, body)
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	web.WriteJSON(w, code, errorBody{Message: msg})
}

// writeReply answers a success; 204 has no body but says it is JSON, as
// every bridge response does.
func writeReply(w http.ResponseWriter, r reply) {
	if r.status == http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	web.WriteJSON(w, r.status, r.body)
}
