package tenants

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/sources"
)

// fakeIntercom answers /me: tokens starting "bad" are rejected, "down"
// fails as an outage, any other is a workspace of its own.
type fakeIntercom struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeIntercom) validate(_ context.Context, token, _ string) (*sources.Workspace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[token]++
	switch {
	case strings.HasPrefix(token, "bad"):
		return nil, sources.Errorf(sources.EUnauthenticated, "Intercom rejected the token")
	case strings.HasPrefix(token, "down"):
		return nil, sources.Errorf(sources.EUpstreamUnavailable, "Intercom is down")
	}
	return &sources.Workspace{ID: "ws-" + token}, nil
}

func (f *fakeIntercom) callsOf(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[token]
}

func newRegistry(max, maxRejected int) (*Registry, *fakeIntercom, *bounded.Clock) {
	f := &fakeIntercom{calls: map[string]int{}}
	clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
	r := &Registry{Validate: f.validate, Max: max, RejectFor: time.Minute, MaxRejected: maxRejected, clock: clock,
		New: func(_, _ string, ws *sources.Workspace) (*Tenant, error) {
			return &Tenant{ID: sources.KnownWorkspaceID(ws.ID)}, nil
		}}
	return r, f, clock
}

func TestRegistryRemembersRejectedTokensForRejectFor(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		token     string
		advance   time.Duration
		wantCalls int // /me calls after the second request
	}{
		{"rejected, within RejectFor: refused from memory", "bad", 59 * time.Second, 1},
		{"rejected, after RejectFor: asked again", "bad", time.Minute, 2},
		{"an outage is not remembered", "down", 0, 2},
		{"accepted: asked once", "good", time.Hour, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, f, clock := newRegistry(10, 10)
			_, first := r.ForToken(ctx, tt.token, "https://api.intercom.io")
			clock.Advance(tt.advance)
			_, second := r.ForToken(ctx, tt.token, "https://api.intercom.io")
			if sources.ErrorCode(first) != sources.ErrorCode(second) {
				t.Errorf("first %v, second %v: want the same answer", first, second)
			}
			if got := f.callsOf(tt.token); got != tt.wantCalls {
				t.Errorf("%d /me calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestFullRegistryKeepsTheTenantsInUse(t *testing.T) {
	ctx := context.Background()
	const max = 10
	r, f, _ := newRegistry(max, max)
	hot, err := r.ForToken(ctx, "hot", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 * max {
		if _, err := r.ForToken(ctx, fmt.Sprint("other", i), ""); err != nil {
			t.Fatal(err)
		}
		r.ForToken(ctx, fmt.Sprint("bad", i), "")
		if got, err := r.ForToken(ctx, "hot", ""); err != nil || got != hot {
			t.Fatalf("after %d other tokens the tenant in use was dropped: %v", i+1, err)
		}
	}
	if got := f.callsOf("hot"); got != 1 {
		t.Errorf("the token in use was validated %d times, want once", got)
	}
	if got := r.ByWorkspace("ws-hot"); got != hot {
		t.Errorf("ByWorkspace: %p, want %p", got, hot)
	}
	r.tenants.CleanUp()
	r.rejected.CleanUp()
	if n := r.Len(); n > max {
		t.Errorf("%d tenants kept, want at most %d", n, max)
	}
	if n := r.rejected.EstimatedSize(); n > max {
		t.Errorf("%d rejected tokens kept, want at most %d", n, max)
	}
}

func TestRejectingAKnownTokenForgetsItsTenant(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newRegistry(10, 10)
	// Revalidate asks again: Intercom now refuses the token.
	r.Validate = func(context.Context, string, string) (*sources.Workspace, error) {
		return &sources.Workspace{ID: "ws"}, nil
	}
	if _, err := r.ForToken(ctx, "revoked", ""); err != nil {
		t.Fatal(err)
	}
	r.Validate = func(context.Context, string, string) (*sources.Workspace, error) {
		return nil, sources.Errorf(sources.EUnauthenticated, "revoked")
	}
	if _, err := r.Revalidate(ctx, "revoked", ""); sources.ErrorCode(err) != sources.EUnauthenticated {
		t.Fatalf("Revalidate: %v, want UNAUTHENTICATED", err)
	}
	if _, err := r.ForToken(ctx, "revoked", ""); sources.ErrorCode(err) != sources.EUnauthenticated {
		t.Errorf("ForToken after the rejection: %v, want UNAUTHENTICATED from memory", err)
	}
	if n := r.Len(); n != 0 {
		t.Errorf("%d tenants kept, want 0", n)
	}
}

// However many first requests race with a new token, Intercom is asked /me
// once, and they all get the one tenant.
func TestRacingFirstRequestsShareOneValidation(t *testing.T) {
	r, f, _ := newRegistry(10, 10)
	slow := f.validate
	release := make(chan struct{})
	r.Validate = func(ctx context.Context, token, baseURL string) (*sources.Workspace, error) {
		<-release // every racer is waiting before /me answers
		return slow(ctx, token, baseURL)
	}
	const racers = 50
	got := make(chan *Tenant, racers)
	var started sync.WaitGroup
	for range racers {
		started.Add(1)
		go func() {
			started.Done()
			tn, err := r.ForToken(context.Background(), "fresh", "https://api.intercom.io")
			if err != nil {
				t.Error(err)
			}
			got <- tn
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond)
	close(release)
	first := <-got
	for range racers - 1 {
		if tn := <-got; tn != first {
			t.Fatal("racing requests got different tenants for one token")
		}
	}
	if n := f.callsOf("fresh"); n != 1 {
		t.Errorf("%d /me calls for %d racing requests, want 1", n, racers)
	}
}

type validatorFunc func(context.Context) (*sources.Workspace, error)

func (f validatorFunc) Validate(ctx context.Context) (*sources.Workspace, error) { return f(ctx) }
