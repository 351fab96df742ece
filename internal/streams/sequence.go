package streams

import (
	"context"
	"sync"
)

// sequences are the sequences of a subscription's events not yet written,
// in order: the resolver notes each before it hands the event over, and the
// SSE writer takes one per event it writes, as the event's id (what a
// browser's EventSource sends back as Last-Event-ID).
type sequences struct {
	mu   sync.Mutex
	list []string
}

type sequencesKey struct{}

// NoteSequence records the sequence of the event a subscription resolver is
// about to hand over; a no-op outside an SSE stream.
func NoteSequence(ctx context.Context, seq string) {
	if s, ok := ctx.Value(sequencesKey{}).(*sequences); ok {
		s.mu.Lock()
		s.list = append(s.list, seq)
		s.mu.Unlock()
	}
}

func (s *sequences) next() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		return "", false
	}
	seq := s.list[0]
	s.list = s.list[1:]
	return seq, true
}

type lastEventIDKey struct{}

// LastEventID is the Last-Event-ID an SSE client reconnected with ("" when
// none): the subscription resumes after it when the operation gives no
// after of its own.
func LastEventID(ctx context.Context) string {
	id, _ := ctx.Value(lastEventIDKey{}).(string)
	return id
}
