// Command talkdesk-intercom serves the Talkdesk ⇄ Intercom GraphQL API.
//
// Everything is wired here, once, top to bottom: configuration, the Intercom
// source (or the built-in demo workspace), the GraphQL handler and the routes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/resolvers"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/intercomtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// DemoToken is the token of the built-in demo workspace.
const DemoToken = "demo"

// run serves until ctx is cancelled, then shuts down gracefully. Tests call it
// as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)

	token, baseURL := cfg.IntercomToken, cfg.IntercomBaseURL
	if cfg.Demo() {
		demo, err := intercomtest.Start(intercomtest.Options{Token: DemoToken})
		if err != nil {
			return fmt.Errorf("start the demo workspace: %w", err)
		}
		defer demo.Close()
		token, baseURL = DemoToken, demo.URL
		caller, _ := demo.Workspace.DemoCaller()
		logger.Info("no INTERCOM_TOKEN set: serving the built-in demo workspace (seeded sample data, not a real Intercom)",
			"emulator", demo.URL, "contacts", len(demo.Workspace.Contacts()),
			"try_caller", caller.Phone)
	}
	client, err := intercom.New(intercom.Config{
		Token:   token,
		BaseURL: baseURL,
		Version: cfg.IntercomVersion,
		Timeout: cfg.IntercomTimeout,
	})
	if err != nil {
		return err
	}
	if err := checkCredentials(ctx, client, logger); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           newHandler(cfg, client, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/")

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// checkCredentials validates the token at start: a rejected token is a
// configuration error; an unreachable Intercom is not (readiness reports it).
func checkCredentials(ctx context.Context, v sources.CredentialValidator, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := v.Validate(ctx)
	switch sources.ErrorCode(err) {
	case sources.EUnauthenticated, sources.EForbidden:
		return fmt.Errorf("INTERCOM_TOKEN: %s", sources.ErrorMessage(err))
	case sources.EInternal:
		if err == nil {
			logger.Info("connected to Intercom", "workspace", ws.ID, "name", ws.Name, "region", ws.Region)
			return nil
		}
	}
	logger.Warn("Intercom is not reachable yet; serving anyway", "error", sources.ErrorMessage(err))
	return nil
}

// newHandler holds every route of the server.
func newHandler(cfg config.Config, source sources.Source, logger *slog.Logger) http.Handler {
	gql := graphqlhttp.NewHandler(
		graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Source: source}}),
		graphqlhttp.Options{Introspection: cfg.Introspection},
	)
	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	mux.Handle("GET /{$}", playground.Handler("Talkdesk ⇄ Intercom", "/graphql"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", newReadiness(source))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return web.Chain(mux,
		web.WithRequest(logger),
		web.AccessLog,
		web.Recover,
		web.LimitBody(cfg.MaxBodyBytes),
	)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "::" || host == "0.0.0.0" || host == "" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}
