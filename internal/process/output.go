package process

import (
	"bytes"
	"io"
	"sync"
)

// tailBytes is how much of a server's output is kept for the error when it
// fails to start: its last lines say why.
const tailBytes = 16 << 10

// lineWriter passes what a process writes to w, hands each complete line
// to line, and keeps the last tailBytes.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	line    func([]byte)
	partial []byte
	tail    []byte
}

// newLineWriter writes to w (nil: nowhere) and calls line for each line.
func newLineWriter(w io.Writer, line func([]byte)) *lineWriter {
	if w == nil {
		w = io.Discard
	}
	return &lineWriter{w: w, line: line}
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.partial = append(lw.partial, p...)
	for {
		i := bytes.IndexByte(lw.partial, '\n')
		if i < 0 {
			break
		}
		lw.line(lw.partial[:i])
		lw.partial = lw.partial[i+1:]
	}
	lw.tail = append(lw.tail, p...)
	if over := len(lw.tail) - tailBytes; over > 0 {
		lw.tail = append(lw.tail[:0], lw.tail[over:]...)
	}
	// The server's output is kept even when w fails (a full disk): the
	// process must not block or die on it.
	_, _ = lw.w.Write(p)
	return len(p), nil
}

// last is the end of what was written.
func (lw *lineWriter) last() string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return string(lw.tail)
}
