package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Faults injects failures. Rates are fractions in [0, 1], drawn from a
// math/rand/v2 source seeded by Options.Seed, so a sequential run is
// repeatable. The zero value injects nothing.
type Faults struct {
	ErrorRate   float64       // fraction answered with ErrorStatus and an Intercom error body
	ErrorStatus int           // status for ErrorRate and FailNext (default 500)
	Fail429Next int           // the next N requests get 429 rate_limit_exceeded with Retry-After
	FailNext    int           // the next N requests get ErrorStatus
	SlowRate    float64       // fraction delayed by SlowDelay (on top of the latency)
	SlowDelay   time.Duration // delay for SlowRate
	ResetRate   float64       // fraction whose TCP connection is reset without a response
	Endpoints   []string      // if set, only these route patterns are affected

	// SlowAfterWrite moves the SlowDelay of a write endpoint (IsWrite: POST
	// /contacts, PUT /contacts/{id}, POST /tickets, ...; not the searches)
	// after the handler: the object is created or changed first and the
	// answer comes SlowDelay later. With a client timeout shorter than
	// SlowDelay this is the upstream timeout that may have taken effect,
	// which idempotent actions must survive. Reads are delayed before, as
	// without it.
	SlowAfterWrite bool
	// FailAfterWrite does the same for injected error statuses (ErrorRate,
	// FailNext) and connection resets (ResetRate) on write endpoints: the
	// write is applied, then the answer is the error or the reset. 429s
	// (Fail429Next) always come before: a rate-limited call did nothing.
	FailAfterWrite bool
}

// SetFaults replaces the fault configuration; SetFaults(Faults{}) clears it.
func (w *Workspace) SetFaults(f Faults) {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	f.Endpoints = slices.Clone(f.Endpoints)
	w.faults = f
}

// CurrentFaults returns the fault configuration, with the FailNext and
// Fail429Next counters as they are now.
func (w *Workspace) CurrentFaults() Faults {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	f := w.faults
	f.Endpoints = slices.Clone(f.Endpoints)
	return f
}

// SetRateLimit changes the per-window request budget (0 = DefaultRateLimit).
func (w *Workspace) SetRateLimit(n int) {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	if n <= 0 {
		n = DefaultRateLimit
	}
	w.rateLimit = n
}

type faultPlan struct {
	delay  time.Duration
	reset  bool
	status int
	// delayAfter and failAfter move the delay and the reset or error status
	// after the handler (Faults.SlowAfterWrite, Faults.FailAfterWrite).
	delayAfter, failAfter bool
}

// planFaultsLocked decides the faults for one request; w.ctl must be held.
// Counted faults (Fail429Next, FailNext) are consumed before random ones.
func (w *Workspace) planFaultsLocked(endpoint string) faultPlan {
	p := w.drawFaultsLocked(endpoint)
	if IsWrite(endpoint) {
		p.delayAfter = p.delay > 0 && w.faults.SlowAfterWrite
		p.failAfter = w.faults.FailAfterWrite && (p.reset || (p.status != 0 && p.status != http.StatusTooManyRequests))
	}
	return p
}

// drawFaultsLocked draws the faults of one request; w.ctl must be held.
func (w *Workspace) drawFaultsLocked(endpoint string) faultPlan {
	f := &w.faults
	var p faultPlan
	if len(f.Endpoints) > 0 && !slices.Contains(f.Endpoints, endpoint) {
		return p
	}
	if f.SlowRate > 0 && w.faultRand.Float64() < f.SlowRate {
		p.delay = f.SlowDelay
	}
	if f.ResetRate > 0 && w.faultRand.Float64() < f.ResetRate {
		p.reset = true
		return p
	}
	status := f.ErrorStatus
	if status == 0 {
		status = http.StatusInternalServerError
	}
	switch {
	case f.Fail429Next > 0:
		f.Fail429Next--
		p.status = http.StatusTooManyRequests
	case f.FailNext > 0:
		f.FailNext--
		p.status = status
	case f.ErrorRate > 0 && w.faultRand.Float64() < f.ErrorRate:
		p.status = status
	}
	return p
}

// faultError is the body Intercom sends for a status it produces on its own.
func faultError(status int) *apiError {
	switch status {
	case http.StatusTooManyRequests:
		return errorf(status, CodeRateLimited, "You have exceeded the rate limit. Please try again later.")
	case http.StatusInternalServerError:
		return errorf(status, CodeServerError, "Server Error")
	case http.StatusServiceUnavailable:
		return errorf(status, CodeServiceUnavail, "Service Unavailable. Please try again later.")
	}
	code := strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	if code == "" {
		code = CodeServerError
	}
	return errorf(status, code, "%s", http.StatusText(status))
}

// writeRateHeaders sets the X-RateLimit-* headers for the current 10-second
// window and, if consume is set, spends one request of its budget. It
// reports false when the budget was already spent.
func (w *Workspace) writeRateHeaders(rw http.ResponseWriter, consume bool) bool {
	now := w.now().Unix()
	window := now / int64(RateWindow/time.Second)
	w.ctl.Lock()
	if window != w.rateWindow {
		w.rateWindow, w.rateUsed = window, 0
	}
	ok := true
	if consume {
		if w.rateUsed >= w.rateLimit {
			ok = false
		} else {
			w.rateUsed++
		}
	}
	limit, used := w.rateLimit, w.rateUsed
	w.ctl.Unlock()

	reset := (window + 1) * int64(RateWindow/time.Second)
	h := rw.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if !ok {
		h.Set("X-RateLimit-Remaining", "0")
	}
	return ok
}

// writeTooMany answers 429 with Retry-After counting to the window's end.
func (w *Workspace) writeTooMany(rw http.ResponseWriter) {
	h := rw.Header()
	h.Set("X-RateLimit-Remaining", "0")
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	h.Set("Retry-After", strconv.FormatInt(max(reset-w.now().Unix(), 1), 10))
	writeError(rw, faultError(http.StatusTooManyRequests))
}
