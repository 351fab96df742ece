package talkdesk

import (
	"errors"
	"net/http"
	"strings"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// present is the bridge's narrowing of the error vocabulary, for web's
// error adapter: the contract knows 204/201/200 for success, 401 for
// credentials that do not work and 400 for everything the caller can fix;
// action execution in particular answers 400 for any failure the caller can
// act on, so input problems, unknown contacts and conflicts are all 400.
// Internal errors are masked and logged by the adapter.
func present(err error) (int, web.ErrorBody) {
	var problems actions.Problems
	if errors.As(err, &problems) {
		body := web.ErrorBody{Code: sources.EBadUserInput}
		msgs := make([]string, len(problems))
		for i, p := range problems {
			body.Problems = append(body.Problems, web.Problem{Field: p.Field, Message: p.Message, Code: p.Code})
			msgs[i] = p.Message
		}
		body.Message = strings.Join(msgs, "; ")
		return http.StatusBadRequest, body
	}
	status, body := web.Present(err)
	switch body.Code {
	case sources.ENotFound, sources.EConflict:
		return http.StatusBadRequest, body // the contract's one status for "fix the request"
	default:
		return status, body
	}
}

// writeReply answers a success; 204 has no body but says it is JSON, as
// every bridge response does.
func writeReply(w http.ResponseWriter, r reply) {
	for name, values := range r.header {
		w.Header()[name] = values
	}
	if r.status == http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	web.WriteJSON(w, r.status, r.body)
}
