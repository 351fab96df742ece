package e2e_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/haproxy"
	"github.com/talkdesk-intercom/api/internal/process"
)

// The fleet as it is deployed: replicas are processes of the server binary
// (e2e.StartServer), behind Debian's HAProxy.

// haproxyBin checks that HAProxy is installed: the fleet test fails, not
// skips, without it.
func haproxyBin(t *testing.T) {
	t.Helper()
	if _, err := haproxy.Bin(); err != nil {
		t.Fatalf("the fleet test runs the replicas behind a real load balancer: %v", err)
	}
}

// startHAProxy runs HAProxy in front of the replicas (package haproxy), as
// the fleet is deployed, and returns its URL. A replica is checked every
// 200 ms on /healthz (liveness, no Intercom call) and out at the first
// failed check; a request whose connection is refused is sent again, to
// another replica (retries, redispatch). A request cut off mid-flight by a
// dying replica is answered 502: the client retries it, with its
// idempotency key.
func startHAProxy(t *testing.T, replicas ...*e2e.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	opts := haproxy.Options{Addr: addr, Every: 200 * time.Millisecond, Fall: 1, Rise: 2}
	for _, r := range replicas {
		opts.Backends = append(opts.Backends, strings.TrimPrefix(r.URL, "http://"))
	}
	f, logPath := e2e.Log(t, "haproxy")
	p, err := haproxy.Start(opts, f, process.DieWithParent)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		f.Close()
		if t.Failed() {
			logs, _ := os.ReadFile(logPath)
			t.Logf("HAProxy's log (%s):\n%s", logPath, e2e.LastLines(logs, 40))
		}
	})
	return p.URL
}

// scrapeSum adds up a counter's values on a replica's /metrics (every
// label), as Prometheus would read them.
func scrapeSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
