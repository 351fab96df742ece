package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/abuse"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The server's own limits (issue 20), over real TCP connections to the
// server as the command serves it (Serve, on a real listener): open
// connections in all and per address, header size and time, idle
// keep-alives, and request framing. Each storm ends with the server's
// goroutines and file descriptors back where they were, and /healthz
// answered while it lasts.

// served is the server as the command runs it, on a loopback port.
type served struct {
	Addr string // host:port
	URL  string
}

func serveForTest(t *testing.T, settings ...string) *served {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	env := map[string]string{"INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL, "REDIS_URL": testRedisURL(), "REDIS_TIMEOUT": "2s"}
	for i := 0; i+1 < len(settings); i += 2 {
		env[settings[i]] = settings[i+1]
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	app, err := New(context.Background(), cfg, slog.New(slog.NewJSONHandler(suiteLog(t), nil)))
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		app.Close()
	})
	return &served{Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
}

// dialFrom opens a TCP connection to addr from the loopback address ip.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	// Generous: a storm of hundreds of dials on a loaded 2-core machine
	// waits on the accept loop, which is not what these tests measure.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 30 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	return c
}

// roundTrip writes raw on c and reads one answer.
func roundTrip(c net.Conn, br *bufio.Reader, raw string) (*http.Response, string, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, raw) }() // the server may answer (and close) before it has read it all
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), nil
}

// usage is what the process holds: goroutines and open file descriptors.
type usage struct{ goroutines, fds int }

func measure(t *testing.T) usage {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count file descriptors: %v", err)
	}
	return usage{goroutines: runtime.NumGoroutine(), fds: len(fds)}
}

// backToBaseline waits until the process holds no more goroutines and file
// descriptors than before (give or take slack: background jobs come and
// go), and fails with the counts if it never does.
func backToBaseline(t *testing.T, before usage) {
	t.Helper()
	const slack = 8
	var now usage
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if now = measure(t); now.goroutines <= before.goroutines+slack && now.fds <= before.fds+slack {
			return
		}
	}
	t.Errorf("after the storm: %d goroutines and %d file descriptors, before it %d and %d", now.goroutines, now.fds, before.goroutines, before.fds)
}

// healthDuring checks /healthz from a client address of its own every
// 20 ms until stop is closed, and reports the longest run of failed checks
// and how many checks ran. A balancer marks a server down after a run of
// failures (HAProxy's fall, 3 by default), not one: on a loaded 2-core
// machine a check may stall past a test's short READ_HEADER_TIMEOUT
// between its dial and its write.
//
// fresh opens a connection per check, as a balancer's checks do: with a
// short IDLE_TIMEOUT a kept-alive one may be reused just as the server
// closes it, which is the client's race, not a refused check. Without it
// the checks keep one connection, which holds its place under
// MAX_CONNECTIONS as a balancer's pooled connections do.
func healthDuring(t *testing.T, url string, stop <-chan struct{}, fresh bool) func() (failedRun, total int) {
	t.Helper()
	client := clientFrom(t, "127.0.0.1")
	client.Timeout = 5 * time.Second
	client.Transport.(*http.Transport).DisableKeepAlives = fresh
	var mu sync.Mutex
	var run, longest, total int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			resp, err := client.Get(url + "/healthz")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if !ok {
				t.Logf("/healthz: %v", err)
			}
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			total++
			if ok {
				run = 0
			} else {
				run++
				longest = max(longest, run)
			}
			mu.Unlock()
		}
	}()
	return func() (int, int) {
		<-done
		client.CloseIdleConnections()
		return longest, total
	}
}

// One client's connections stop at MAX_CONNECTIONS_PER_ADDRESS, answered
// 503 and closed; a trusted proxy's do not; all of them stop at
// MAX_CONNECTIONS. /healthz from another address answers throughout.
func TestConnectionCaps(t *testing.T) {
	srv := serveForTest(t, "MAX_CONNECTIONS_PER_ADDRESS", "20", "MAX_CONNECTIONS", "60", "TRUSTED_PROXIES", "127.0.0.9")
	get(t, srv.URL+"/healthz")
	before := measure(t)
	stop := make(chan struct{})
	health := healthDuring(t, srv.URL, stop, false)

	var kept []net.Conn
	defer func() {
		for _, c := range kept {
			c.Close()
		}
	}()
	// open makes n connections from ip, each asking /healthz once; those
	// answered stay open (keep-alive), the refused ones are closed.
	open := func(ip string, n int) (ok, refused int, limits map[string]int) {
		limits = map[string]int{}
		for range n {
			c := dialFrom(t, ip, srv.Addr)
			resp, body, err := roundTrip(c, bufio.NewReader(c), abuse.Probe)
			switch {
			case err == nil && resp.StatusCode == http.StatusOK:
				ok++
				kept = append(kept, c)
				continue
			case err == nil && resp.StatusCode == http.StatusServiceUnavailable:
				refused++
				if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"code":"UNAVAILABLE"`) {
					t.Errorf("refused connection: %s Retry-After %q, want UNAVAILABLE and a Retry-After", body, resp.Header.Get("Retry-After"))
				}
				for _, l := range []string{"MAX_CONNECTIONS_PER_ADDRESS", "MAX_CONNECTIONS)"} {
					if strings.Contains(body, l) {
						limits[strings.TrimSuffix(l, ")")]++
					}
				}
			case err != nil:
				refused++ // closed without an answer: past the refusals answered at once
			default:
				t.Errorf("connection from %s: HTTP %d %s", ip, resp.StatusCode, body)
			}
			c.Close()
		}
		return ok, refused, limits
	}

	ok, refused, limits := open("127.0.0.2", 300)
	if ok != 20 || refused != 280 || limits["MAX_CONNECTIONS_PER_ADDRESS"] == 0 {
		t.Errorf("300 connections from one address: %d answered, %d refused (%v), want 20 and 280 (MAX_CONNECTIONS_PER_ADDRESS)", ok, refused, limits)
	}
	if ok, refused, _ := open("127.0.0.9", 30); ok != 30 || refused != 0 {
		t.Errorf("30 connections from the trusted proxy: %d answered, %d refused, want all answered", ok, refused)
	}
	// 50 are open (and the health checks' one or two): the next address
	// meets MAX_CONNECTIONS.
	ok, refused, limits = open("127.0.0.3", 20)
	if ok == 0 || ok > 10 || limits["MAX_CONNECTIONS"] == 0 {
		t.Errorf("20 connections from a third address with 50 open of 60: %d answered, %d refused (%v), want at most 10 answered and MAX_CONNECTIONS", ok, refused, limits)
	}
	for _, c := range kept {
		c.Close()
	}
	kept = nil
	close(stop)
	if failedRun, total := health(); failedRun > 1 || total == 0 {
		t.Errorf("/healthz during the storm: %d checks in a row failed (of %d)", failedRun, total)
	}
	metrics := get(t, srv.URL+"/metrics")
	if !strings.Contains(metrics, `http_connections_refused_total{limit="MAX_CONNECTIONS_PER_ADDRESS"}`) {
		t.Errorf("/metrics does not count the refused connections")
	}
	backToBaseline(t, before)
}

// Connections that trickle their headers, send more than MAX_HEADER_BYTES
// of them, or stay idle are closed within their limits, and hold nothing
// once closed.
func TestSlowHugeAndIdleConnections(t *testing.T) {
	srv := serveForTest(t, "READ_HEADER_TIMEOUT", "500ms", "IDLE_TIMEOUT", "500ms", "MAX_HEADER_BYTES", "8192")
	get(t, srv.URL+"/healthz")
	runtime.GC()
	var heapBefore runtime.MemStats
	runtime.ReadMemStats(&heapBefore)
	before := measure(t)
	stop := make(chan struct{})
	health := healthDuring(t, srv.URL, stop, true)

	const storm = 200
	huge := []byte("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
	var wg sync.WaitGroup
	results := make(chan string, 2*storm)
	for i := range storm {
		wg.Add(2)
		go func() { // slow: part of a header, then nothing
			defer wg.Done()
			c := dialFrom(t, "127.0.0.2", srv.Addr)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
			start := time.Now()
			_, err := c.Read(make([]byte, 512))
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				results <- "slow: still open after 10 s"
			case err != nil || time.Since(start) < 10*time.Second:
				results <- "slow: closed"
			}
		}()
		go func() { // huge: a megabyte of header
			defer wg.Done()
			c := dialFrom(t, fmt.Sprintf("127.0.0.%d", 3+i%2), srv.Addr)
			defer c.Close()
			// Answered 431, or reset before the answer could be read: the
			// server closes the connection while the client is still
			// writing, and what it had not read resets it.
			resp, _, err := roundTrip(c, bufio.NewReader(c), string(huge))
			switch {
			case err != nil:
				results <- "huge: refused"
			case resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge:
				results <- "huge: refused"
			default:
				results <- fmt.Sprintf("huge: HTTP %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for r := range results {
		counts[r]++
	}
	if counts["slow: closed"] != storm || counts["huge: refused"] != storm {
		t.Errorf("%d slow and %d huge headers: %v, want every slow one closed and every huge one refused (431 or closed)", storm, storm, counts)
	}

	// An idle keep-alive connection is closed after IDLE_TIMEOUT.
	c := dialFrom(t, "127.0.0.2", srv.Addr)
	defer c.Close()
	br := bufio.NewReader(c)
	if resp, _, err := roundTrip(c, br, abuse.Probe); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("probe: %v", err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("an idle keep-alive connection: %v after %s, want it closed after IDLE_TIMEOUT", err, time.Since(start))
	}

	close(stop)
	if failedRun, total := health(); failedRun > 1 || total == 0 {
		t.Errorf("/healthz during the storm: %d checks in a row failed (of %d)", failedRun, total)
	}
	backToBaseline(t, before)
	runtime.GC()
	var heapAfter runtime.MemStats
	runtime.ReadMemStats(&heapAfter)
	if grew := int64(heapAfter.HeapAlloc) - int64(heapBefore.HeapAlloc); grew > 32<<20 {
		t.Errorf("the heap grew by %d MB over 200 MB of headers sent", grew>>20)
	}
}

// Every raw shape of the corpus gets its status, and those that a proxy may
// frame differently close their connection: what they hid behind them (here
// a probe) is never answered.
func TestRawRequestCorpus(t *testing.T) {
	srv := serveForTest(t)
	get(t, srv.URL+"/healthz")
	before := measure(t)
	for _, tc := range abuse.HTTP() {
		t.Run(tc.Name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.2", srv.Addr)
			defer c.Close()
			br := bufio.NewReader(c)
			resp, body, err := roundTrip(c, br, tc.Request+abuse.Probe)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != tc.Status {
				t.Errorf("HTTP %d %q, want %d", resp.StatusCode, body, tc.Status)
			}
			if tc.Status == http.StatusLengthRequired && !strings.Contains(body, `"code":"LENGTH_REQUIRED"`) {
				t.Errorf("body %q, want the code LENGTH_REQUIRED", body)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			next, err := http.ReadResponse(br, nil)
			switch {
			case tc.Closes && err == nil:
				t.Errorf("the connection stayed open: the request behind was answered HTTP %d", next.StatusCode)
			case tc.Closes && errors.Is(err, os.ErrDeadlineExceeded):
				t.Errorf("the connection stayed open (nothing more was answered, nor was it closed)")
			case !tc.Closes && (err != nil || next.StatusCode != http.StatusOK):
				t.Errorf("the probe behind a well-framed request: %v, want it answered 200", err)
			}
		})
	}
	backToBaseline(t, before)
}
