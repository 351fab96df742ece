package streams

import (
	"bytes"
	"net/http"
	"sync"
)

// sseWriter is the ResponseWriter of a GraphQL over SSE stream. It gives
// each subscription event its sequence as the event's id (gqlgen's SSE
// transport writes none), so that a browser's EventSource, or any client,
// reconnects with Last-Event-ID and resumes; and, once the server cut the
// stream (shutdown, lifetime), it drops the final complete, which would
// tell the client that the subscription is over.
type sseWriter struct {
	http.ResponseWriter
	ids *sequences

	mu      sync.Mutex
	stopped bool
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	return &sseWriter{ResponseWriter: w, ids: &sequences{}}
}

var (
	frameNext     = []byte("event: next\n")
	frameComplete = []byte("event: complete\n")
)

// Write receives one whole frame per call (gqlgen writes each event with
// one Fprintf).
func (w *sseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped && bytes.HasPrefix(p, frameComplete):
		return len(p), nil
	case bytes.HasPrefix(p, frameNext):
		if seq, ok := w.ids.next(); ok {
			if _, err := w.ResponseWriter.Write([]byte("id: " + seq + "\n")); err != nil {
				return 0, err
			}
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *sseWriter) cut() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func (w *sseWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *sseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flusher is the ResponseWriter of a multipart/mixed stream: gqlgen asks
// for an http.Flusher, which the middleware's writers reach only through
// Unwrap.
type flusher struct{ http.ResponseWriter }

func (w flusher) Flush()                      { _ = http.NewResponseController(w.ResponseWriter).Flush() }
func (w flusher) Unwrap() http.ResponseWriter { return w.ResponseWriter }
