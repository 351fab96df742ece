// Command talkdesk-intercom serves the Talkdesk ⇄ Intercom GraphQL API.
//
// It reads the configuration, builds the application (internal/server),
// serves it and shuts down gracefully on SIGINT or SIGTERM.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/gcpace"
	"github.com/talkdesk-intercom/api/internal/server"
	"github.com/talkdesk-intercom/api/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Getenv, os.Stdout), os.Stderr))
}

// run serves until ctx is cancelled.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	defer gcpace.Start(cfg.Runtime.GCHeadroomBytes, getenv("GOGC") != "")()
	logger := server.NewLogger(cfg.Log, stdout)
	goredis.SetLogger(redisLog{logger})
	shutdownTracing, err := telemetry.Setup(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(flushCtx) // the last spans, sent before exiting
	}()
	if cfg.Tracing.Enabled() {
		logger.Info("tracing: sending spans over OTLP", "protocol", cfg.Tracing.Protocol, "endpoint", cmp.Or(cfg.Tracing.TracesEndpoint, cfg.Tracing.Endpoint))
	}

	return server.ListenAndServe(ctx, cfg, logger)
}

// exitCode reports run's error on stderr (--help has printed the usage on
// stdout and is no error) and returns the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// redisLog routes go-redis's own messages into the structured log, at debug
// level: with Redis away it says "failed to dial" on every try, and the
// service's own watch says it once, and when it returns.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
