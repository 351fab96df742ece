package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// afterClaim runs step once, right after the first claim in the store
// returns: another request's claim of the same key lands between the
// winner's claim in Redis and its look at the process's mirror.
type afterClaim struct {
	idempotency.Store
	step func()
}

func (a *afterClaim) Claim(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) (idempotency.Record, string, bool, error) {
	cur, previous, owned, err := a.Store.Claim(ctx, key, rec, ttl)
	if step := a.step; step != nil {
		a.step = nil
		step()
	}
	return cur, previous, owned, err
}

// Concurrent retries of one action in one process: the loser mirrors the
// winner's pending record in process before the winner looks there for a
// record Redis lost. The winner must take it for its own claim, not for a
// lost one, or it waits for itself until the request times out.
func TestTheWinnerOfAClaimIsNotMistakenForALoser(t *testing.T) {
	ctx := context.Background()
	primary := &afterClaim{Store: idempotency.NewRedisStore(redis.NewHealth(redistest.Client(t, redistest.Addr(t)), time.Second, nil))}
	tiered := &idempotency.Tiered{Primary: primary, Local: idempotency.NewMemoryStore()}
	key := redistest.Unique("key")
	claim := func() idempotency.Record {
		now := time.Now()
		return idempotency.Record{State: "pending", Fingerprint: "fp", Started: now.UnixMilli(), LeaseUntil: now.Add(time.Minute).UnixMilli()}
	}
	var loserOwned bool
	primary.step = func() {
		_, _, loserOwned, _ = tiered.Claim(ctx, key, claim(), time.Hour)
	}
	_, previous, owned, err := tiered.Claim(ctx, key, claim(), time.Hour)
	if err != nil || !owned || previous != "" {
		t.Errorf("the first claim: owned %v, previous %q, %v; want owned, new", owned, previous, err)
	}
	if loserOwned {
		t.Error("the concurrent claim owns the key too")
	}
}
