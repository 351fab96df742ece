package loaders

import (
	"context"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/metrics"
)

// A key loaded again in the same request (a prefetched company, once its
// field asks for it) joins no batch: it is no late key, and the loader's
// wait still shrinks request after request when every key comes at once.
func TestKeysLoadedAgainAreNotLate(t *testing.T) {
	client, ws := Emulated(t)
	var ids []string
	for _, c := range ws.Contacts() {
		ids = append(ids, c.CompanyIDs...)
		if len(ids) >= 5 {
			break
		}
	}
	const longest = 20 * time.Millisecond
	waits := NewWaits(time.Millisecond, longest)
	for range 10 {
		l := New(client, nil, Config{Wait: longest, Waits: waits, Metrics: metrics.New()})
		ctx := context.Background()
		l.PrefetchCompanies(ctx, ids)
		for range 2 { // the batch, then the same keys again
			if _, err := l.Companies(ctx, ids); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := waits.of("company_by_id"); got >= longest {
		t.Errorf("company_by_id waits %s after 10 requests whose keys all came at once, want it shorter than %s", got, longest)
	}
}
