package redis

import (
	"testing"
	"time"
)

// The names replicas share, as the releases before this package wrote them:
// a durable one that changes strands what an older replica wrote (an action
// run twice, a budget counted anew) during a rolling deploy.
func TestNamesAreTheFleetsContract(t *testing.T) {
	for _, tt := range []struct{ what, got, want string }{
		{"cache key", CacheKey("ws1", "phone", "+14155550100"), "tdi:v2:{ws1}:phone:+14155550100"},
		{"kept answer", AnswerKey("ws1", []byte{0xfb, 0xff}), "tdi:v2:{ws1}:answer:-_8"},
		{"kept answers' versions", AnswerVersionsKey("ws1"), "tdi:v2:{ws1}:answer-versions"},
		{"kept answers' bytes", AnswerBytesKey, "tdi:v2:{answers}:bytes"},
		{"hash tag", Tag("ws1"), "{ws1}"},
		{"idempotency record", IdempotencyKey("ws1", "addNote", "k-1"), "tdi:v2:{ws1}:idem:addNote:k-1"},
		{"budget window", BudgetWindowKey("ws1", time.Unix(1700000000, 0)), "tdi:v2:{ws1}:budget:1700000000"},
		{"webhook de-duplication", WebhookKey("ws1", "notif_1"), "tdi:v2:{ws1}:webhook:notif_1"},
		// The first 8 bytes of sha256("ws\x00ip:a"), in hex.
		{"caller's rate bucket", RateBucketKey("requests", "ws", "ip:a"), "tdi:v2:{caller:40524e456be6ed6e}:rate:requests"},
		{"persisted document", PersistedDocumentKey("abc123"), "tdi:v1:apq:abc123"},
		{"persisted documents' bytes", PersistedBytesKey, "tdi:v1:{apq}:bytes"},
		{"events channel", EventsChannel("ws1"), "tdi:v1:events:ws1"},
		{"every events channel", EventsChannels, "tdi:v1:events:*"},
		{"call events stream", CallEventsStream("ws1"), "tdi:v1:{ws1}:calls:events"},
		{"call events dead letters", CallEventsDeadLetters("ws1"), "tdi:v1:{ws1}:calls:dead"},
		{"call state", CallStateKey("ws1", "c-1"), "tdi:v1:{ws1}:calls:state:c-1"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.what, tt.got, tt.want)
		}
	}
}
