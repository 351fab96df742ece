package callevents

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// Path is where Talkdesk posts call events.
const Path = "/talkdesk/events"

// Accepted is the answer to an event queued.
type Accepted struct {
	Accepted bool   `json:"accepted"`
	ID       string `json:"id"` // its place in the workspace's queue
	CallID   string `json:"call_id"`
}

// Handler serves POST /talkdesk/events: the secret, the body, the
// workspace, then the queue; 202 once the event is durably queued.
func (s *Service) Handler(res *workspace.Resolver) http.Handler {
	return web.HandleWith(present, func(w http.ResponseWriter, r *http.Request) error {
		began := time.Now()
		id, e, err := s.serve(r, res)
		if err != nil {
			s.metrics.Requests.WithLabelValues(sources.ErrorCode(err)).Inc()
			return err
		}
		s.metrics.Requests.WithLabelValues("accepted").Inc()
		s.metrics.AcceptTime.Observe(time.Since(began).Seconds())
		web.WriteJSON(w, http.StatusAccepted, Accepted{Accepted: true, ID: id, CallID: e.CallID})
		return nil
	})
}

func (s *Service) serve(r *http.Request, res *workspace.Resolver) (string, Event, error) {
	if err := s.authenticate(r); err != nil {
		return "", Event{}, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", Event{}, sources.Errorf(sources.EBodyTooLarge, "a call event is at most %d bytes (CALL_EVENTS_MAX_BODY_BYTES)", tooLarge.Limit)
		}
		return "", Event{}, sources.Errorf(sources.EBadRequest, "the body could not be read")
	}
	e, err := Parse(body)
	if err != nil {
		return "", Event{}, err
	}
	t, err := tenantOf(r, res)
	if err != nil {
		return "", e, err
	}
	ws, err := workspaceID(r.Context(), t)
	if err != nil {
		return "", e, err
	}
	id, err := s.accept(r.Context(), ws, t, e)
	return id, e, err
}

// authenticate compares the bearer secret in constant time (over hashes:
// the comparison takes the same time whatever the lengths).
func (s *Service) authenticate(r *http.Request) error {
	if s.cfg.Secret == "" {
		return sources.Errorf(sources.EUnavailable, "call events are off: set TALKDESK_EVENTS_SECRET, and send it as Authorization: Bearer")
	}
	auth := r.Header.Get("Authorization")
	given, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(given) == "" {
		return s.cfg.Failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "send the events secret (TALKDESK_EVENTS_SECRET) as Authorization: Bearer"))
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(given))), sha256.Sum256([]byte(s.cfg.Secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return s.cfg.Failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "the events secret is not valid"))
	}
	return nil
}

// tenantOf is the workspace an event belongs to: the configured one, or in
// multi-tenant mode the one whose token the notifier sends as a fixed
// X-Intercom-Token header. An event whose workspace cannot be told is
// refused, never applied to a default.
func tenantOf(r *http.Request, res *workspace.Resolver) (*tenants.Tenant, error) {
	if !res.MultiTenant {
		return res.Main, nil
	}
	token := strings.TrimSpace(r.Header.Get("X-Intercom-Token"))
	if token == "" {
		return nil, sources.Errorf(sources.EBadRequest,
			"this server is multi-tenant: the event's workspace is unknown; send its Intercom access token as a fixed X-Intercom-Token header")
	}
	baseURL, err := res.BaseURL(r.Header.Get("X-Intercom-Region"))
	if err != nil {
		return nil, err
	}
	return res.Tenants.ForToken(r.Context(), token, baseURL)
}

// present is web.Present with the field an input problem is about.
func present(err error) (int, web.ErrorBody) {
	status, body := web.Present(err)
	var coded *sources.Error
	if errors.As(err, &coded) && coded.Field != "" {
		body.Problems = []web.Problem{{Field: coded.Field, Message: coded.Message, Code: coded.Code}}
	}
	return status, body
}

// maxListed bounds the dead letters one admin request reads.
const maxListed = 1000

// StatusHandler serves the admin view of the request's workspace: its
// backlog and newest dead letters (?limit=, default 100, at most 1000).
func (s *Service) StatusHandler() http.Handler {
	return web.HandleWith(present, func(w http.ResponseWriter, r *http.Request) error {
		ws, err := workspace.From(r.Context())
		if err != nil {
			return err
		}
		n := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxListed {
				return sources.InputError("limit", "limit must be an integer from 1 to %d", maxListed)
			}
		}
		st, err := s.Status(r.Context(), ws.Tenant, n)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, st)
		return nil
	})
}
