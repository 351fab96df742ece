package emulator

import (
	"slices"
	"time"
)

// ordered holds one kind of interaction by id and in its listing order
// (created_at, then id), which the list and search endpoints walk. w.mu
// guards it.
type ordered[T any] struct {
	byID    map[string]*T
	list    []*T
	created func(*T) (time.Time, string) // created_at and id
}

func newOrdered[T any](created func(*T) (time.Time, string)) ordered[T] {
	return ordered[T]{byID: map[string]*T{}, created: created}
}

func (o *ordered[T]) less(a, b *T) int {
	at, aid := o.created(a)
	bt, bid := o.created(b)
	return createdLess(at, aid, bt, bid)
}

// put stores x in its place, replacing the object with the same id.
func (o *ordered[T]) put(x *T) {
	_, id := o.created(x)
	if old, ok := o.byID[id]; ok {
		o.list = slices.DeleteFunc(o.list, func(y *T) bool { return y == old })
	}
	o.byID[id] = x
	i, _ := slices.BinarySearchFunc(o.list, x, o.less)
	o.list = slices.Insert(o.list, i, x)
}

// fill stores xs (distinct ids) with one sort rather than an insertion
// each: the seed adds thousands.
func (o *ordered[T]) fill(xs []*T) {
	for _, x := range xs {
		_, id := o.created(x)
		o.byID[id] = x
	}
	o.list = append(o.list, xs...)
	slices.SortFunc(o.list, o.less)
}
