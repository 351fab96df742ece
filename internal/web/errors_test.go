package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/talkdesk-intercom/api/sources"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Handle answers each error with its code's status and public message, and
// masks internal errors, over HTTP.
func TestHandle(t *testing.T) {
	logs := &lockedBuffer{}
	const secret = "dial tcp 10.0.0.7:6379: password hunter2 rejected"
	errs := map[string]error{
		"/coded":    sources.Errorf(sources.ENotFound, "no contact with id %s", sources.Quote("42")),
		"/limited":  &sources.Error{Code: sources.ERateLimited, Message: "slow down", RetryAfterSeconds: 7},
		"/internal": fmt.Errorf("write cache: %w", errors.New(secret)),
		"/detail":   &sources.Error{Code: sources.EUnavailable, Message: "not ready", Err: errors.New(secret)},
	}
	h := Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err, ok := errs[r.URL.Path]; ok {
			return err
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	srv := httptest.NewServer(Chain(h, WithRequest(slog.New(slog.NewJSONHandler(logs, nil)))))
	defer srv.Close()

	tests := []struct {
		path, wantCode, wantMessage string
		wantStatus                  int
	}{
		{"/ok", "", "", http.StatusOK},
		{"/coded", sources.ENotFound, `no contact with id "42"`, http.StatusNotFound},
		{"/limited", sources.ERateLimited, "slow down", http.StatusTooManyRequests},
		{"/internal", sources.EInternal, "internal error (request id ", http.StatusInternalServerError},
		{"/detail", sources.EUnavailable, "not ready", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || body.Code != tt.wantCode || !strings.HasPrefix(body.Message, tt.wantMessage) {
				t.Errorf("HTTP %d %+v, want %d %s %q", resp.StatusCode, body, tt.wantStatus, tt.wantCode, tt.wantMessage)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if strings.Contains(body.Message, "hunter2") {
				t.Errorf("the answer leaks the internal detail: %q", body.Message)
			}
			id := resp.Header.Get(RequestIDHeader)
			switch tt.path {
			case "/limited":
				if got := resp.Header.Get("Retry-After"); got != "7" {
					t.Errorf("Retry-After %q, want 7", got)
				}
			case "/internal":
				if body.RequestID != id || !strings.Contains(body.Message, id) {
					t.Errorf("request id %q, body %+v", id, body)
				}
				// The log has the detail, with the request id to find it by.
				if line := logLine(logs.String(), id, "internal error"); !strings.Contains(line, "hunter2") {
					t.Errorf("no log line with the detail and request id %s: %s", id, logs)
				}
			case "/detail":
				if line := logLine(logs.String(), id, "request failed"); line == "" || strings.Contains(line, "hunter2") {
					t.Errorf("a coded 5xx is logged by its public message only: %q", line)
				}
			}
		})
	}
}

// logLine is the log line with msg and the request id, or "".
func logLine(logs, id, msg string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, `"request_id":"`+id+`"`) && strings.Contains(line, `"msg":"`+msg+`"`) {
			return line
		}
	}
	return ""
}
