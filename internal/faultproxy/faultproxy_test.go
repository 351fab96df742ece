package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is a real HTTP server that counts what reaches it and echoes
// the request.
type upstream struct {
	*httptest.Server
	calls atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	}))
	t.Cleanup(u.Close)
	return u
}

func startProxy(t *testing.T, target string, seed uint64) *Proxy {
	t.Helper()
	p, err := Start(target, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// client opens a connection a request, so that a dropped connection is
// never one a later request would have reused.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func send(t *testing.T, method, url, body string) (int, string, http.Header, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer token-1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, nil
}

func TestForwardsUntouchedWithoutFaults(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, up.URL, 1)
	status, body, h, err := send(t, "POST", p.URL+"/contacts/search?per_page=5", `{"query":{}}`)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusCreated || body != `POST /contacts/search?per_page=5 {"query":{}}` || h.Get("X-Echo-Auth") != "Bearer token-1" {
		t.Errorf("answer: %d %q (auth %q), want the upstream's own", status, body, h.Get("X-Echo-Auth"))
	}
	if c := p.Counts(); c != (Counts{Received: 1, Forwarded: 1}) || up.calls.Load() != 1 {
		t.Errorf("counts %+v, upstream %d; want 1 received and forwarded", c, up.calls.Load())
	}
}

// A share of 503s: the refused requests never reach the upstream, and the
// same seed refuses the same requests.
func TestAShareOfRequestsAnswered503(t *testing.T) {
	up := startUpstream(t)
	run := func(seed uint64) []int {
		p := startProxy(t, up.URL, seed)
		p.Set(Faults{Unavailable: 0.5})
		var statuses []int
		for range 200 {
			status, body, _, err := send(t, "GET", p.URL+"/me", "")
			if err != nil {
				t.Fatal(err)
			}
			if status == http.StatusServiceUnavailable && !strings.Contains(body, `"error.list"`) {
				t.Fatalf("503 body %q is not Intercom's error list", body)
			}
			statuses = append(statuses, status)
		}
		c := p.Counts()
		if c.Received != 200 || c.Forwarded+c.Unavailable != 200 || c.Unavailable < 70 || c.Unavailable > 130 {
			t.Errorf("counts %+v: want 200 received, about half of them answered 503", c)
		}
		n503 := 0
		for _, s := range statuses {
			if s == http.StatusServiceUnavailable {
				n503++
			}
		}
		if int64(n503) != c.Unavailable {
			t.Errorf("%d answers were 503, the proxy counted %d", n503, c.Unavailable)
		}
		return statuses
	}
	before := up.calls.Load()
	a := run(7)
	if got, forwarded := up.calls.Load()-before, countNot(a, http.StatusServiceUnavailable); got != int64(forwarded) {
		t.Errorf("the upstream received %d requests, the proxy forwarded %d", got, forwarded)
	}
	b := run(7)
	if !slices.Equal(a, b) {
		t.Error("the same seed and the same requests refused different requests")
	}
	if c := run(8); slices.Equal(a, c) {
		t.Error("another seed refused the very same requests")
	}
}

// Every request answered 503, then, set at run time, none.
func TestOutageAndRecoveryAtRunTime(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, up.URL, 1)
	p.Set(Faults{Unavailable: 1})
	for range 20 {
		if status, _, _, err := send(t, "GET", p.URL+"/me", ""); err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("during the outage: %d %v, want 503", status, err)
		}
	}
	if up.calls.Load() != 0 {
		t.Fatalf("%d requests reached the upstream during the outage", up.calls.Load())
	}
	p.Set(Faults{})
	if status, _, _, err := send(t, "GET", p.URL+"/me", ""); err != nil || status != http.StatusCreated {
		t.Fatalf("after the outage: %d %v, want the upstream's answer", status, err)
	}
	if c := p.Counts(); c != (Counts{Received: 21, Forwarded: 1, Unavailable: 20}) {
		t.Errorf("counts %+v", c)
	}
}

func TestSlowAnswers(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, up.URL, 1)
	p.Set(Faults{Slow: 1, Delay: 150 * time.Millisecond})
	start := time.Now()
	if status, _, _, err := send(t, "GET", p.URL+"/me", ""); err != nil || status != http.StatusCreated {
		t.Fatalf("slow request: %d %v", status, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %s, before the delay", d)
	}
	// A client that gives up while its request is held: never forwarded.
	impatient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Millisecond}
	p.Set(Faults{Slow: 1, Delay: 5 * time.Second})
	if _, err := impatient.Get(p.URL + "/me"); err == nil {
		t.Fatal("the impatient client got an answer")
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Counts().Abandoned == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if c := p.Counts(); c != (Counts{Received: 2, Forwarded: 1, Delayed: 2, Abandoned: 1}) || up.calls.Load() != 1 {
		t.Errorf("counts %+v, upstream %d: want the abandoned request never forwarded", c, up.calls.Load())
	}
}

// A write whose answer is lost has been applied upstream all the same;
// reads are never picked.
func TestLostAnswersOfWrites(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, up.URL, 1)
	p.Set(Faults{LostAnswers: 1, Loss: CloseConnection})
	if status, body, _, err := send(t, "POST", p.URL+"/tickets", `{"title":"x"}`); err == nil {
		t.Errorf("lost answer (connection closed): got %d %q, want no answer", status, body)
	}
	p.Set(Faults{LostAnswers: 1, Loss: BadGateway})
	if status, body, _, err := send(t, "PUT", p.URL+"/contacts/1", `{"name":"y"}`); err != nil || status != http.StatusBadGateway || body != "" {
		t.Errorf("lost answer (502): got %d %q %v, want an empty 502", status, body, err)
	}
	if status, _, _, err := send(t, "GET", p.URL+"/contacts/1", ""); err != nil || status != http.StatusCreated {
		t.Errorf("a read with lost answers set: %d %v, want its answer", status, err)
	}
	if c := p.Counts(); c != (Counts{Received: 3, Forwarded: 3, LostAnswers: 2}) || up.calls.Load() != 3 {
		t.Errorf("counts %+v, upstream %d: want both writes applied upstream and their answers lost", c, up.calls.Load())
	}
	// Unavailable wins over a lost answer: the write is not applied.
	p.Set(Faults{Unavailable: 1, LostAnswers: 1})
	if status, _, _, err := send(t, "POST", p.URL+"/notes", "z"); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("unavailable write: %d %v, want 503", status, err)
	}
	if up.calls.Load() != 3 {
		t.Error("a write answered 503 reached the upstream")
	}
}

func TestCountsSub(t *testing.T) {
	a := Counts{Received: 10, Forwarded: 6, Unavailable: 4, Delayed: 2, LostAnswers: 1, Abandoned: 1}
	b := Counts{Received: 4, Forwarded: 3, Unavailable: 1, Delayed: 1}
	if got := a.Sub(b); got != (Counts{Received: 6, Forwarded: 3, Unavailable: 3, Delayed: 1, LostAnswers: 1, Abandoned: 1}) {
		t.Errorf("Sub: %+v", got)
	}
}

func TestNewRefusesATargetThatIsNotAURL(t *testing.T) {
	for _, target := range []string{"", "localhost:80", "ftp://x"} {
		if _, err := New(target, 1); err == nil {
			t.Errorf("New(%q) accepted it", target)
		}
	}
	if _, err := New("http://127.0.0.1:1", 1); err != nil {
		t.Errorf("New of an http URL: %v", err)
	}
}

func countNot(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x != v {
			n++
		}
	}
	return n
}
