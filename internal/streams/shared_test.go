package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// source is an operation's executions as groups run them: each event
// noted with its sequence (as the resolvers do) and then answered.
type source struct {
	mu      sync.Mutex
	runs    []context.Context // each execution's context
	feeds   []chan string     // each execution's events, fed by the test
	started chan struct{}
}

func newSource() *source { return &source{started: make(chan struct{}, 10)} }

// run is execution i's context and events.
func (s *source) run(i int) (context.Context, chan<- string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[i], s.feeds[i]
}

func (s *source) next(ctx context.Context) graphql.ResponseHandler {
	events := make(chan string)
	s.mu.Lock()
	s.runs = append(s.runs, ctx)
	s.feeds = append(s.feeds, events)
	s.mu.Unlock()
	s.started <- struct{}{}
	return func(context.Context) *graphql.Response {
		select {
		case seq := <-events:
			NoteSequence(ctx, seq)
			return &graphql.Response{Data: json.RawMessage(fmt.Sprintf(`{"seq":%q}`, seq))}
		case <-ctx.Done():
			return nil
		}
	}
}

func seqOf(t *testing.T, resp *graphql.Response) string {
	t.Helper()
	if resp == nil {
		t.Fatal("the stream ended")
	}
	var d struct{ Seq string }
	_ = json.Unmarshal(resp.Data, &d)
	return d.Seq
}

// A member that reads too slowly leaves the shared execution: it reads
// what it was handed, then an execution of its own resumes after the last
// of it (LastEventID), while the others go on undisturbed.
func TestAMemberThatFallsBehindResumesAlone(t *testing.T) {
	gs := newGroups()
	src := newSource()
	fastCtx, stopFast := context.WithCancel(context.Background())
	defer stopFast()
	slowCtx, stopSlow := context.WithCancel(context.Background())
	defer stopSlow()
	fast := gs.join(fastCtx, "k", src.next)
	slow := gs.join(slowCtx, "k", src.next)
	<-src.started
	_, shared := src.run(0)
	if gs.Members() != 1 {
		t.Fatalf("Members() = %d, want 1 beyond the execution's one", gs.Members())
	}

	// The fast member reads every event; the slow one none, until its
	// buffer is full and one more comes.
	for i := range sharedBuffer + 1 {
		seq := fmt.Sprintf("%d-0", i+1)
		shared <- seq
		if got := seqOf(t, fast(fastCtx)); got != seq {
			t.Fatalf("fast member: %s, want %s", got, seq)
		}
	}
	// The fast one may have its event before the slow one is dropped.
	for gs.Members() != 0 {
		runtime.Gosched()
	}
	for i := range sharedBuffer {
		if got, want := seqOf(t, slow(slowCtx)), fmt.Sprintf("%d-0", i+1); got != want {
			t.Fatalf("slow member, held event %d: %s, want %s", i, got, want)
		}
	}
	// Its own execution, after the last event it held.
	next := make(chan *graphql.Response)
	go func() { next <- slow(slowCtx) }()
	<-src.started
	own, alone := src.run(1)
	if after := LastEventID(own); after != fmt.Sprintf("%d-0", sharedBuffer) {
		t.Errorf("its own execution resumes after %q, want %d-0", after, sharedBuffer)
	}
	alone <- "99-0"
	if got := seqOf(t, <-next); got != "99-0" {
		t.Errorf("slow member alone: %s, want 99-0", got)
	}
}

// The execution ends with its last member; its members' streams end with
// the execution.
func TestTheSharedExecutionEndsWithItsLastMember(t *testing.T) {
	gs := newGroups()
	src := newSource()
	aCtx, stopA := context.WithCancel(context.Background())
	bCtx, stopB := context.WithCancel(context.Background())
	defer stopB()
	gs.join(aCtx, "k", src.next)
	b := gs.join(bCtx, "k", src.next)
	<-src.started
	exec, events := src.run(0)
	stopA()
	events <- "1-0"
	if got := seqOf(t, b(bCtx)); got != "1-0" {
		t.Errorf("after the first member left: %s, want 1-0", got)
	}
	if exec.Err() != nil {
		t.Error("the execution ended with a member left")
	}
	stopB()
	<-exec.Done()
	if b(bCtx) != nil {
		t.Error("a member whose subscription ended still reads")
	}
	// A new subscription of the same key starts a new execution.
	c := gs.join(context.Background(), "k", src.next)
	<-src.started
	_, events = src.run(1)
	events <- "2-0"
	if got := seqOf(t, c(context.Background())); got != "2-0" {
		t.Errorf("a new execution: %s, want 2-0", got)
	}
}
