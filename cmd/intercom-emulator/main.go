// Command intercom-emulator serves the in-memory Intercom REST API emulator
// (package emulator) as a local Intercom sandbox:
//
//	go run ./cmd/intercom-emulator -addr 127.0.0.1:4010 -latency 50ms
//
// Point a client at the printed URL with the printed bearer token.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.Error("intercom-emulator", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("intercom-emulator", flag.ContinueOnError)
	var (
		addr      = fs.String("addr", "127.0.0.1:4010", "listen address")
		token     = fs.String("token", emulator.DefaultToken, "accepted bearer token")
		workspace = fs.String("workspace", emulator.DefaultWorkspaceID, "workspace (app) id_code")
		region    = fs.String("region", emulator.DefaultRegion, "region reported by /me: US, EU or AU")
		seed      = fs.Int64("seed", emulator.DefaultSeed, "deterministic data seed")
		contacts  = fs.Int("contacts", emulator.DefaultContacts, "number of seeded contacts")
		empty     = fs.Bool("empty", false, "start with no contacts and companies")
		latency   = fs.Duration("latency", 0, "delay added to every request")
		errorRate = fs.Float64("error-rate", 0, "fraction of requests answered 500")
		slowRate  = fs.Float64("slow-rate", 0, "fraction of requests delayed by -slow-delay")
		slowDelay = fs.Duration("slow-delay", 2*time.Second, "delay for -slow-rate")
		resetRate = fs.Float64("reset-rate", 0, "fraction of connections reset without a response")
		rateLimit = fs.Int("rate-limit", 0, "requests per 10-second window (0 = Intercom's 1666)")
		timezone  = fs.String("timezone", "UTC", "workspace time zone for date search (IANA name)")
		phone     = fs.Bool("phone", true, "the workspace has Intercom Phone (calls)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	loc, err := time.LoadLocation(*timezone)
	if err != nil {
		return fmt.Errorf("-timezone: %w", err)
	}
	srv, err := emulator.Start(emulator.Options{
		Addr:        *addr,
		Token:       *token,
		WorkspaceID: *workspace,
		Region:      *region,
		Timezone:    loc,
		Seed:        *seed,
		Contacts:    *contacts,
		Empty:       *empty,
		Latency:     *latency,
		RateLimit:   *rateLimit,
		Phone:       *phone,
	})
	if err != nil {
		return err
	}
	srv.Workspace.SetFaults(emulator.Faults{
		ErrorRate: *errorRate,
		SlowRate:  *slowRate,
		SlowDelay: *slowDelay,
		ResetRate: *resetRate,
	})

	attrs := []any{"url", srv.URL, "token", *token, "workspace", *workspace, "contacts", len(srv.Workspace.Contacts())}
	if c, ok := srv.Workspace.DemoCaller(); ok {
		attrs = append(attrs, "demo_caller", c.Name, "demo_phone", c.Phone, "demo_contact_id", c.ID)
	}
	slog.Info("intercom emulator listening", attrs...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	slog.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}
