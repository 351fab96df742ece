package shared

import (
	"context"
	"testing"
)

type key struct{}

func TestWorkIsCancelledWhenItsLastWaiterLeaves(t *testing.T) {
	first, cancelFirst := context.WithCancel(context.WithValue(context.Background(), key{}, "trace"))
	w := New(first)
	w.Join()
	w.Join()
	cancelFirst() // the first waiter's client left: the work goes on for the other
	if w.Context().Err() != nil || w.Context().Value(key{}) != "trace" {
		t.Fatalf("work context: err %v, value %v; want live, with the first waiter's values", w.Context().Err(), w.Context().Value(key{}))
	}
	if w.Leave() {
		t.Fatal("Leave with a waiter left reported the last")
	}
	if w.Context().Err() != nil {
		t.Fatal("work cancelled while a waiter remains")
	}
	if !w.Leave() || w.Context().Err() == nil {
		t.Fatal("the last Leave did not cancel the work")
	}
}

func TestFinishReleasesTheContext(t *testing.T) {
	w := New(context.Background())
	w.Finish()
	if w.Context().Err() == nil {
		t.Fatal("Finish left the context live")
	}
}
