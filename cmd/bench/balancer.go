package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/internal/haproxy"
	"github.com/talkdesk-intercom/api/internal/process"
)

// Load balancers in front of a fleet: HAProxy when it is installed (what a
// deployment runs), else a small round-robin reverse proxy in this process.
const (
	lbAuto    = "auto"
	lbHAProxy = "haproxy"
	lbGo      = "go"
)

var lbKinds = []string{lbAuto, lbHAProxy, lbGo}

// balancer is a running load balancer.
type balancer struct {
	name  string // for the rows' labels: "HAProxy" or "Go proxy"
	url   string
	close func()
}

// chooseBalancer resolves -fleet-lb: auto is HAProxy when haproxy is on PATH.
func chooseBalancer(kind string) (string, error) {
	_, err := haproxy.Bin()
	switch {
	case kind == lbGo || (kind == lbAuto && err != nil):
		return lbGo, nil
	case err != nil:
		return "", fmt.Errorf("-fleet-lb haproxy: %w", err)
	}
	return lbHAProxy, nil
}

func balancerName(kind string) string {
	if kind == lbHAProxy {
		return "HAProxy"
	}
	return "Go proxy"
}

// startBalancer starts a round-robin load balancer of kind (lbHAProxy or
// lbGo) on a free loopback port in front of backends (base URLs) and waits
// until it answers /healthz.
func startBalancer(ctx context.Context, kind string, backends []string) (*balancer, error) {
	var lb *balancer
	var err error
	for range 3 { // a free port may be taken before the balancer binds it
		if kind == lbHAProxy {
			lb, err = startHAProxy(backends)
		} else {
			lb, err = startGoProxy(backends)
		}
		if err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, lb.url, 10*time.Second); err != nil {
		lb.close()
		return nil, fmt.Errorf("%s: %w", lb.name, err)
	}
	return lb, nil
}

// startHAProxy puts HAProxy in front of backends (package haproxy), with
// health checks every second (two failures take a replica out): a replica
// busy under the benchmark's load is not taken for dead.
func startHAProxy(backends []string) (*balancer, error) {
	port, err := process.FreePort()
	if err != nil {
		return nil, err
	}
	opts := haproxy.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Every: time.Second, Fall: 2, Rise: 1}
	for _, be := range backends {
		u, err := url.Parse(be)
		if err != nil {
			return nil, err
		}
		opts.Backends = append(opts.Backends, u.Host)
	}
	p, err := haproxy.Start(opts, io.Discard, process.DieWithParent)
	if errors.Is(err, haproxy.ErrAddrInUse) {
		return nil, errPortTaken
	}
	if err != nil {
		return nil, err
	}
	return &balancer{name: "HAProxy", url: p.URL, close: p.Close}, nil
}

// roundRobin is the Go proxy's transport: it sends each request to the next
// backend in turn and, when a backend refuses the connection (nothing was
// sent), to the one after it, as HAProxy's redispatch does.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Uint64
	base     *http.Transport
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	start := int(rr.next.Add(1) - 1)
	var err error
	for i := range rr.backends {
		be := rr.backends[(start+i)%len(rr.backends)]
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = be.Scheme, be.Host
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
		}
		var resp *http.Response
		if resp, err = rr.base.RoundTrip(out); err == nil {
			return resp, nil
		}
		if opErr := (*net.OpError)(nil); !errors.As(err, &opErr) || opErr.Op != "dial" {
			return nil, err
		}
	}
	return nil, err
}

func startGoProxy(backends []string) (*balancer, error) {
	rr := &roundRobin{base: &http.Transport{MaxIdleConnsPerHost: 128, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
	for _, be := range backends {
		u, err := url.Parse(be)
		if err != nil {
			return nil, err
		}
		rr.backends = append(rr.backends, u)
	}
	proxy := &httputil.ReverseProxy{
		// The transport chooses the backend.
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(rr.backends[0]); r.Out.Host = r.In.Host },
		Transport: rr,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &balancer{name: "Go proxy", url: "http://" + ln.Addr().String(), close: func() {
		_ = srv.Close()
		rr.base.CloseIdleConnections()
	}}, nil
}

// waitHealthy waits until base answers GET /healthz with 200.
func waitHealthy(ctx context.Context, base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if resp, err := benchClient.Get(base + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/healthz did not answer 200 within %s", base, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// errPortTaken is a balancer's port taken between choosing it and binding it.
var errPortTaken = errors.New("port taken")
