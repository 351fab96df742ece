package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// readyAnswer is /readyz as a balancer and an operator see it.
type readyAnswer struct {
	HTTP   int
	Status string            `json:"status"`
	Code   string            `json:"code"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, env *testEnv) readyAnswer {
	t.Helper()
	resp, err := http.Get(env.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a readyAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("/readyz: HTTP %d, body is not JSON: %v", resp.StatusCode, err)
	}
	a.HTTP = resp.StatusCode
	return a
}

// readyzUntil polls /readyz until check's report starts with want, and
// fails if any answer on the way is not 200.
func readyzUntil(t *testing.T, env *testEnv, check, want string) readyAnswer {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := readyz(t, env)
		if a.HTTP != http.StatusOK {
			t.Fatalf("/readyz: HTTP %d %+v, want 200: this replica can serve", a.HTTP, a)
		}
		if strings.HasPrefix(a.Checks[check], want) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %s is %q, want %q...", check, a.Checks[check], want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scraped reports whether GET /metrics holds the line want, as a dashboard
// reads it.
func scraped(t *testing.T, env *testEnv, want string) bool {
	t.Helper()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == want {
			return true
		}
	}
	return false
}

// A caller that has spent its share of the Intercom budget (here the
// client address both it and the balancer's probe come from) leaves the
// replica ready: the probe's check of Intercom is the service's own call.
func TestReadyzDuringASpentShare(t *testing.T) {
	// 20 calls a 10-second window, 10 of them one caller's.
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_RATE_LIMIT", "120")
	refused := 0
	for _, p := range phonesOf(t, env.Intercom.Workspace, 14) {
		r := env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": p}, nil)
		if r.code() == "RATE_LIMITED" {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("14 caller lookups from one address were all served: its share is not spent")
	}
	a := readyzUntil(t, env, "intercom", "ok")
	if a.Status != "ready" {
		t.Errorf("/readyz after one caller spent its share: %+v, want 200 ready", a)
	}
	if !scraped(t, env, `readiness_check{check="intercom",state="ok"} 1`) {
		t.Error(`/metrics lacks readiness_check{check="intercom",state="ok"} 1`)
	}
}

// An open breaker is reported, in the body and the metrics, and leaves the
// replica in rotation: every replica would see the same Intercom.
func TestReadyzReportsAnOpenBreaker(t *testing.T) {
	// The breaker opens on a share of failed calls once enough have ended.
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_BREAKER_MIN_CALLS", "6")
	env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	for i := range 6 {
		env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+1202555020" + string(rune('0'+i))}, nil)
	}
	if _, open := env.Services.mainClient.BreakerOpen(); !open {
		t.Fatal("six failing lookups did not open the breaker")
	}
	a := readyz(t, env)
	if a.HTTP != http.StatusOK || a.Status != "degraded" || !strings.Contains(a.Checks["intercom"], "circuit breaker open") {
		t.Errorf("/readyz with the breaker open: %+v, want 200 degraded naming the open breaker", a)
	}
	if !scraped(t, env, `readiness_check{check="intercom",state="breaker_open"} 1`) {
		t.Error(`/metrics lacks readiness_check{check="intercom",state="breaker_open"} 1`)
	}
}

// A replica that is shutting down fails /readyz, so that a balancer sends
// it nothing it would not finish.
func TestReadyzFailsWhileShuttingDown(t *testing.T) {
	env := newTestEnv(t)
	if a := readyz(t, env); a.HTTP != http.StatusOK || a.Checks["process"] != "ok" {
		t.Fatalf("/readyz before shutdown: %+v", a)
	}
	env.App.Close()
	a := readyz(t, env)
	if a.HTTP != http.StatusServiceUnavailable || a.Code != "UNAVAILABLE" || !strings.HasPrefix(a.Checks["process"], "shutting down") {
		t.Errorf("/readyz while shutting down: %+v, want 503 UNAVAILABLE, process shutting down", a)
	}
	if !scraped(t, env, `readiness_check{check="process",state="shutting_down"} 1`) {
		t.Error(`/metrics lacks readiness_check{check="process",state="shutting_down"} 1`)
	}
}

// Redis away is skipped knowingly, and said so: the replica serves from
// Intercom and stays in rotation; Redis back is seen at once.
func TestReadyzWithRedisAway(t *testing.T) {
	rds := redistest.Start(t)
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+rds.Addr, "REDIS_TIMEOUT", "100ms")
	if a := readyzUntil(t, env, "intercom", "ok"); a.Status != "ready" || a.Checks["redis"] != "ok" {
		t.Fatalf("/readyz with Redis up: %+v, want ready", a)
	}
	rds.Stop()
	a := readyzUntil(t, env, "redis", "skipped")
	if a.Status != "degraded" {
		t.Errorf("/readyz with Redis away: %+v, want 200 degraded", a)
	}
	if !scraped(t, env, `readiness_check{check="redis",state="skipped"} 1`) {
		t.Error(`/metrics lacks readiness_check{check="redis",state="skipped"} 1`)
	}
	rds.Restart()
	if a := readyzUntil(t, env, "redis", "ok"); a.Status != "ready" {
		t.Errorf("/readyz with Redis back: %+v, want ready", a)
	}
}
