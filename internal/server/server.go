// Package server is the application: it builds the services of the
// configured workspace (Intercom or the built-in demo, Redis or in-process
// caching, the bridge's and multi-tenant callers' workspaces) and serves
// them over HTTP, routes in groups each with its own middleware (routes.go).
// Command talkdesk-intercom, the tests, the benchmark and e2e build it the
// same way: New, Handler, Close.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// DemoToken is the token of the built-in demo workspace.
const DemoToken = "demo"

const (
	// readTimeout bounds reading a whole request, body included: bodies
	// are at most MAX_BODY_BYTES.
	readTimeout = 30 * time.Second
	// writeGrace is how long past REQUEST_TIMEOUT an answer may take to be
	// written (a slow reader of a large answer).
	writeGrace = 30 * time.Second
)

// Server is the application, built once from its configuration.
type Server struct {
	cfg     config.Config
	logger  *slog.Logger
	svc     *services
	demo    *emulator.Server // the built-in demo workspace; nil with INTERCOM_TOKEN
	handler http.Handler
	// proxies are TRUSTED_PROXIES: their X-Forwarded-For names the client,
	// and the per-address connection cap does not apply to them.
	proxies *access.Proxies
	// stopping is set once shutdown begins: /readyz then fails, so that a
	// balancer stops sending what this replica would not finish.
	stopping atomic.Bool
}

// New builds the server: it starts the demo workspace when no Intercom token
// is set, connects to Redis, checks the token with Intercom (a token Intercom
// rejects is an error; an Intercom that does not answer yet is not:
// readiness reports it) and starts the background jobs, which Close stops.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, logger: logger, proxies: access.NewProxies(cfg.Access.TrustedProxies)}
	token, baseURL := cfg.Intercom.Client.Token, cfg.Intercom.Client.BaseURL
	if regional, _ := intercom.RegionBaseURL(cfg.Intercom.Region); cfg.Demo() && baseURL != regional {
		// The demo workspace has its own URL: say so rather than ignore the setting.
		logger.Warn("INTERCOM_BASE_URL is set but INTERCOM_TOKEN is not: ignoring the base URL and serving the demo workspace",
			"intercom_base_url", redactedURL(baseURL))
	}
	if cfg.Demo() {
		demo, err := emulator.Start(emulator.Options{Token: DemoToken, Phone: true})
		if err != nil {
			return nil, fmt.Errorf("start the demo workspace: %w", err)
		}
		s.demo = demo
		token, baseURL = DemoToken, demo.URL
		caller, _ := demo.Workspace.DemoCaller()
		logger.Info("no INTERCOM_TOKEN set: serving the built-in demo workspace (seeded sample data, not a real Intercom)",
			"emulator", demo.URL, "contacts", len(demo.Workspace.Contacts()),
			"try_caller", caller.Phone)
	}
	svc, err := newServices(ctx, cfg, token, baseURL, logger)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.svc = svc
	if err := svc.checkCredentials(ctx, logger); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Cache.CompanyWarmup > 0 && svc.mainCache != nil {
		go svc.warmCompanies(cfg.Cache.CompanyWarmup, logger)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves every route of the server.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics are the server's Prometheus metrics (GET /metrics).
func (s *Server) Metrics() *metrics.Metrics { return s.svc.metrics }

// Close stops the background jobs and closes Redis and the demo workspace.
func (s *Server) Close() {
	s.stopping.Store(true)
	if s.svc != nil {
		s.svc.streams.Shutdown()
		s.svc.close()
	}
	if s.demo != nil {
		s.demo.Close()
	}
}

// ListenAndServe builds the server, listens on ADDR and serves until ctx is
// cancelled: what the command does once it has its configuration.
func ListenAndServe(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.CustomerDB.Check {
		return CheckCustomerDB(ctx, cfg, logger)
	}
	srv, err := New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	if cfg.HTTP.DebugAddr != "" {
		stop, err := serveProfiles(cfg.HTTP.DebugAddr, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	return srv.Serve(ctx, ln)
}

// serveProfiles serves Go's runtime profiles (net/http/pprof) on their own
// listener, apart from the API: they have no authentication, and a CPU
// profile runs for as long as it is asked to.
func serveProfiles(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (DEBUG_ADDR): %w", addr, err)
	}
	// Not /debug/pprof/cmdline: every setting is also a flag, secrets too.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("serving runtime profiles", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return func() { _ = srv.Close() }, nil
}

// Serve answers on ln until ctx is cancelled, then lets in-flight requests
// finish within SHUTDOWN_TIMEOUT.
//
// The server's own limits hold before any handler runs: at most
// MAX_CONNECTIONS open connections, MAX_CONNECTIONS_PER_ADDRESS from one
// client address (listener.go); MAX_HEADER_BYTES of request line and headers
// (431 past it), which must arrive within READ_HEADER_TIMEOUT; a keep-alive
// connection idle for IDLE_TIMEOUT is closed. A request's body must be read
// within readTimeout, its answer written within REQUEST_TIMEOUT and
// writeGrace: routes that stream (subscriptions, server-sent events) opt
// out per request with http.NewResponseController(w).SetWriteDeadline
// (and SetReadDeadline on a hijacked connection) set to their own lifetime
// and idle limits, and are then not bounded by REQUEST_TIMEOUT either.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.cfg.HTTP
	ln = limitConns(ln, cfg.MaxConns, cfg.MaxConnsPerAddress, s.proxies, func(limit string) {
		s.svc.metrics.ConnectionsRefused.WithLabelValues(limit).Inc()
	})
	// http.Server.Shutdown does not wait for hijacked connections: a
	// WebSocket's handler would still run (and log) after Serve returned.
	var handlers sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			s.handler.ServeHTTP(w, r)
		}),
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      cfg.RequestTimeout + writeGrace,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	// Streams do not end by themselves: Shutdown closes them (WebSockets
	// with 1001) rather than wait for them.
	srv.RegisterOnShutdown(s.svc.streams.Shutdown)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.logger.Info("listening", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/")

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	s.logger.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.HTTP.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	ended := make(chan struct{})
	go func() { handlers.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-shutdownCtx.Done():
		return errors.New("shutdown: streams still open after SHUTDOWN_TIMEOUT")
	}
	s.logger.Info("stopped")
	return nil
}

// NewLogger is the server's structured log, as LOG_LEVEL and LOG_FORMAT say.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkCredentials validates the token at start: a rejected token is a
// configuration error; an unreachable Intercom is not (readiness reports it).
func (s *services) checkCredentials(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := s.main.Workspace(ctx)
	switch code := sources.ErrorCode(err); {
	case err == nil:
		logger.Info("connected to Intercom", "workspace", ws.ID, "name", ws.Name, "region", ws.Region)
	case code == sources.EUnauthenticated || code == sources.EForbidden:
		return fmt.Errorf("INTERCOM_TOKEN: %s", sources.ErrorMessage(err))
	default:
		logger.Warn("Intercom is not reachable yet; serving anyway", "error", sources.ErrorMessage(err))
	}
	return nil
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "::" || host == "0.0.0.0" || host == "" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}

// redactedURL hides a password a URL may carry, for a log line.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
