package talkdesk

import (
	"strconv"
	"strings"
	"time"
)

// CheckpointLayout is how the bridge writes times: the contract's own
// example format, "2012-11-20 23:01:00 UTC", always in UTC. It is used for
// synchronization checkpoints and interaction dates.
const CheckpointLayout = "2006-01-02 15:04:05 UTC"

// checkpointLayouts are the spellings parseTime accepts, most likely first.
var checkpointLayouts = []string{
	CheckpointLayout,
	time.RFC3339Nano,
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// formatTime writes t in CheckpointLayout; the zero time is the Unix epoch
// (a checkpoint before every contact).
func formatTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(CheckpointLayout)
}

// parseTime reads a checkpoint or a time a caller wrote: CheckpointLayout,
// RFC 3339, a few near spellings (no zone means UTC), or Unix seconds. The
// epoch and earlier read as the zero time.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return epochAsZero(time.Unix(n, 0)), true
	}
	for _, layout := range checkpointLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return epochAsZero(t), true
		}
	}
	return time.Time{}, false
}

func epochAsZero(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
