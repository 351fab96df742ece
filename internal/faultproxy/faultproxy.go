// Package faultproxy is a reverse proxy that stands between the server and
// Intercom (the emulator, in tests and the benchmark) and fails on purpose:
// a share of requests answered 503 without reaching the upstream, slow
// answers, and writes that the upstream applies but whose answer never comes
// back. The faults change at run time (Set), and the proxy counts what it
// forwarded and what it made up, so that a test or the benchmark can hold
// the server's own counts against the calls that really reached Intercom.
//
// The choices are drawn from a seeded generator: the same seed and the same
// order of requests fail the same requests.
package faultproxy

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are what the proxy does to the requests it receives. The zero
// value forwards everything untouched.
type Faults struct {
	// Unavailable is the share of requests, 0 to 1, answered 503 by the
	// proxy itself: they never reach the upstream. 1 is an outage.
	Unavailable float64
	// Slow is the share of requests held for Delay before anything else
	// happens to them (a slow request may still be answered 503).
	Slow  float64
	Delay time.Duration
	// LostAnswers is the share of writes (POST, PUT, PATCH, DELETE) that are
	// forwarded, and so applied upstream, but whose answer never reaches
	// the client; Loss says how it is lost. A write that Unavailable picks
	// is not forwarded at all.
	LostAnswers float64
	Loss        Loss
}

// Loss is how the answer of a write is lost.
type Loss int

const (
	// CloseConnection drops the connection without an answer: the client
	// cannot tell whether the write happened.
	CloseConnection Loss = iota
	// BadGateway answers 502, as a load balancer does whose upstream
	// answered too late.
	BadGateway
)

func (l Loss) String() string {
	if l == BadGateway {
		return "502"
	}
	return "connection closed"
}

// Counts are what the proxy has done since it started. Received is every
// request that reached the proxy: the calls the server made.
type Counts struct {
	Received    int64 // requests that reached the proxy
	Forwarded   int64 // sent to the upstream (lost answers included)
	Unavailable int64 // answered 503 by the proxy, never forwarded
	Delayed     int64 // held for Delay
	LostAnswers int64 // writes forwarded whose answer the client never got
	Abandoned   int64 // requests whose client left while they were held
}

// Sub is c minus an earlier reading: what happened in between.
func (c Counts) Sub(before Counts) Counts {
	return Counts{
		Received: c.Received - before.Received, Forwarded: c.Forwarded - before.Forwarded,
		Unavailable: c.Unavailable - before.Unavailable, Delayed: c.Delayed - before.Delayed,
		LostAnswers: c.LostAnswers - before.LostAnswers, Abandoned: c.Abandoned - before.Abandoned,
	}
}

// Proxy is the fault-injecting reverse proxy; it is an http.Handler, and
// Start serves it on a loopback port.
type Proxy struct {
	// URL is where Start serves the proxy ("" for a Proxy from New).
	URL string

	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	ln     net.Listener

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand

	received, forwarded, unavailable, delayed, lost, abandoned atomic.Int64
}

// New returns a proxy to target (a base URL, e.g. the emulator's) whose
// faults are drawn from seed.
func New(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an http(s) URL", target)
	}
	p := &Proxy{target: u, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // the server fans batches out to one host
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: transport,
		// An upstream that cannot be reached is a 502, as from any gateway;
		// the error is the test's to see in the counts, not in a log.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	return p, nil
}

// Start is New served on a free loopback port; Close stops it.
func Start(target string, seed uint64) (*Proxy, error) {
	p, err := New(target, seed)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.ln, p.URL = ln, "http://"+ln.Addr().String()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln) //nolint:errcheck // ends with Close
	return p, nil
}

// Close stops a proxy from Start, dropping the connections it holds.
func (p *Proxy) Close() {
	if p.srv != nil {
		p.srv.Close()
	}
	if t, ok := p.rp.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// Set replaces the faults; requests already held or forwarded keep theirs.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// Faults returns the faults in force.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Counts reads the counters.
func (p *Proxy) Counts() Counts {
	return Counts{
		Received: p.received.Load(), Forwarded: p.forwarded.Load(), Unavailable: p.unavailable.Load(),
		Delayed: p.delayed.Load(), LostAnswers: p.lost.Load(), Abandoned: p.abandoned.Load(),
	}
}

// plan is what happens to one request, drawn when it arrives.
type plan struct {
	delay       time.Duration
	unavailable bool
	loseAnswer  bool
	loss        Loss
}

func (p *Proxy) draw(r *http.Request) plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	// Every draw is made whatever the shares, so that changing one share
	// does not shift which requests the others pick.
	slow, down, lose := p.rng.Float64(), p.rng.Float64(), p.rng.Float64()
	var pl plan
	if slow < f.Slow && f.Delay > 0 {
		pl.delay = f.Delay
	}
	pl.unavailable = down < f.Unavailable
	pl.loseAnswer = isWrite(r.Method) && lose < f.LostAnswers
	pl.loss = f.Loss
	return pl
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.received.Add(1)
	pl := p.draw(r)
	if pl.delay > 0 {
		p.delayed.Add(1)
		t := time.NewTimer(pl.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			p.abandoned.Add(1)
			return
		}
	}
	if pl.unavailable {
		p.unavailable.Add(1)
		// The body Intercom sends with a 503 (an error.list), so that the
		// client reads it as it would Intercom's.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"type":"error.list","request_id":null,"errors":[{"code":"service_unavailable","message":"Service Unavailable"}]}`)
		return
	}
	p.forwarded.Add(1)
	if !pl.loseAnswer {
		p.rp.ServeHTTP(w, r)
		return
	}
	// The upstream applies the write and answers; the answer goes nowhere.
	p.rp.ServeHTTP(&discard{header: http.Header{}}, r)
	p.lost.Add(1)
	if pl.loss == BadGateway {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
		return
	}
	// A connection that cannot be taken over (HTTP/2) is reset instead.
	panic(http.ErrAbortHandler)
}

// discard is a ResponseWriter that keeps nothing: where a lost answer goes.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
