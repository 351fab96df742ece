package sources

import "sync/atomic"

// WorkspaceID is a workspace's id as soon as it is known. A token's
// workspace never changes, so its id is learnt once (from the source's own
// answer, Intercom's /me, or from a validation that told it first) and then
// read without a call by everything scoped to the workspace: cache keys,
// idempotency records, the fleet budget, deep links. The tenant that owns a
// workspace makes one and hands it to each service it builds; nothing asks
// back up for it. The zero value is an id not known yet.
type WorkspaceID struct{ id atomic.Pointer[string] }

// Get returns the id, and whether it is known.
func (w *WorkspaceID) Get() (string, bool) {
	if p := w.id.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// Learn records the id; the first one learnt stays (it cannot change).
func (w *WorkspaceID) Learn(id string) {
	if id != "" {
		w.id.CompareAndSwap(nil, &id)
	}
}

// KnownWorkspaceID returns a workspace id that is already known.
func KnownWorkspaceID(id string) *WorkspaceID {
	w := &WorkspaceID{}
	w.Learn(id)
	return w
}
