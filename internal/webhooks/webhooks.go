// Package webhooks receives Intercom's webhook notifications and keeps the
// cache coherent with changes made in Intercom itself: a contact updated,
// merged or deleted, a conversation replied to, a ticket's state changed.
//
// Every notification is authenticated (X-Hub-Signature: the HMAC-SHA1 of the
// raw body keyed by the app's client secret, compared in constant time), and
// handled once even when Intercom delivers it again.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Handler serves POST /webhooks/intercom.
type Handler struct {
	// Secret is the app's client secret; without one every delivery is
	// refused, since none could be authenticated.
	Secret string
	// Workspace returns the invalidator of the workspace (Intercom app id)
	// a notification is about, or nil when this server does not serve it.
	Workspace func(ctx context.Context, appID string) sources.Invalidator

	// Redis, when set, de-duplicates for the whole fleet: a redelivery that
	// lands on another replica is not applied again. Without it, or while it
	// does not answer (each call bounded by REDIS_TIMEOUT, none while it is
	// known away), each process remembers what it handled.
	Redis *redis.Health

	// Failures counts a delivery whose signature does not verify against
	// its client address (AUTH_FAILURES_PER_MINUTE): past the allowance it
	// is answered 429. A delivery that verifies is never refused for rate:
	// Intercom retries what it got a 429 for for up to 2 hours, then drops
	// it, and a dropped notification is a lost invalidation. Nil: none
	// counted.
	Failures *access.Failures

	once  sync.Once
	clock *bounded.Clock                 // nil: the wall clock
	seen  *otter.Cache[string, struct{}] // notification ids handled
}

// Ids are remembered for a day. Past maxSeen the least seen go first: a
// redelivery of one is handled again, which only invalidates again.
const (
	seenFor = 24 * time.Hour
	maxSeen = 100_000
)

// envelope is Intercom's notification.
type envelope struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Topic string `json:"topic"`
	AppID string `json:"app_id"`
	Data  struct {
		Item json.RawMessage `json:"item"`
	} `json:"data"`
}

// item holds what the topics of interest carry about contacts.
type item struct {
	ID       json.RawMessage `json:"id"`
	Email    string          `json:"email"`
	Phone    string          `json:"phone"`
	Location *struct {
		CountryCode string `json:"country_code"`
	} `json:"location"`
	Contacts *struct {
		Contacts []struct {
			ID string `json:"id"`
		} `json:"contacts"`
	} `json:"contacts"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web.Handle(h.serve).ServeHTTP(w, r)
}

// serve handles one delivery; its errors are answered by web's adapter.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return sources.Errorf(sources.EMethodNotAllowed, "use POST")
	}
	if h.Secret == "" {
		return sources.Errorf(sources.EUnavailable, "webhooks are off: set INTERCOM_CLIENT_SECRET")
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return sources.Errorf(sources.EBodyTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
	case err != nil:
		return sources.Errorf(sources.EBadRequest, "the body could not be read")
	}
	if !h.signed(r.Header.Get("X-Hub-Signature"), body) {
		return h.Failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "the X-Hub-Signature does not match the body"))
	}
	var n envelope
	if err := json.Unmarshal(body, &n); err != nil || n.Type != "notification_event" || n.ID == "" {
		return sources.Errorf(sources.EBadRequest, "the body is not an Intercom notification_event")
	}
	if h.firstDelivery(r.Context(), n.AppID, n.ID) {
		if err := h.handle(r.Context(), n); err != nil {
			h.forget(r.Context(), n.AppID, n.ID) // let Intercom's retry try again
			web.Logger(r.Context()).Warn("webhook not applied", "topic", n.Topic, "error", err)
			return sources.Errorf(sources.EUnavailable, "the change could not be applied; Intercom will retry")
		}
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// signed checks "sha1=<hex HMAC-SHA1 of body>" in constant time.
func (h *Handler) signed(header string, body []byte) bool {
	got, ok := strings.CutPrefix(header, "sha1=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	return err == nil && hmac.Equal(sig, signature(h.Secret, body))
}

// Sign returns the X-Hub-Signature Intercom would send for body.
func Sign(secret string, body []byte) string {
	return "sha1=" + hex.EncodeToString(signature(secret, body))
}

// signature is Intercom's HMAC-SHA1 of a body under the app's client secret.
func signature(secret string, body []byte) []byte {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}

// firstDelivery reports whether id is new, and remembers it: in process
// first (a redelivery to this replica costs no round trip), then in Redis
// with SET NX, which one replica of the fleet wins.
func (h *Handler) firstDelivery(ctx context.Context, appID, id string) bool {
	h.once.Do(func() {
		h.seen = bounded.New(otter.Options[string, struct{}]{MaximumSize: maxSeen,
			ExpiryCalculator: otter.ExpiryCreating[string, struct{}](seenFor)}, h.clock)
	})
	if _, first := h.seen.SetIfAbsent(id, struct{}{}); !first || h.Redis == nil {
		return first
	}
	first := true
	err := h.Redis.Do(ctx, func(ctx context.Context) error {
		var err error
		first, err = h.Redis.Client().SetNX(ctx, redis.WebhookKey(appID, id), 1, seenFor).Result()
		return err
	})
	if err != nil {
		if !errors.Is(err, redis.ErrUnavailable) { // said once, when Redis went away
			web.Logger(ctx).Warn("webhook de-duplication falls back to this process", "error", err)
		}
		return true
	}
	return first
}

func (h *Handler) forget(ctx context.Context, appID, id string) {
	h.seen.Invalidate(id)
	if h.Redis != nil {
		_ = h.Redis.Do(ctx, func(ctx context.Context) error { return h.Redis.Client().Del(ctx, redis.WebhookKey(appID, id)).Err() })
	}
}

// goneTopics are the topics of a contact that is gone: deleted, archived
// (Intercom's searches no longer find it) or merged into another (its id no
// longer answers). Whichever contact of a merge the item names, nothing
// cached about it is kept to answer stale.
var goneTopics = map[string]bool{
	"contact.deleted": true, "contact.user.deleted": true, "contact.lead.deleted": true,
	"contact.archived": true, "contact.user.archived": true, "contact.lead.archived": true,
	"contact.merged": true, "contact.user.merged": true, "contact.lead.merged": true,
}

// handle makes the cache stop trusting what the notification changed: old
// values are kept stale, those of a contact that is gone are deleted.
func (h *Handler) handle(ctx context.Context, n envelope) error {
	inv := h.Workspace(ctx, n.AppID)
	if inv == nil {
		return nil // not a workspace this server serves
	}
	var it item
	_ = json.Unmarshal(n.Data.Item, &it)
	switch {
	case strings.HasPrefix(n.Topic, "contact."):
		ch := sources.Changed{ContactIDs: []string{rawID(it.ID)}}
		if it.Phone != "" {
			country := ""
			if it.Location != nil {
				country = it.Location.CountryCode
			}
			if p, err := phone.Normalize(it.Phone, country); err == nil {
				ch.Phones = []string{p}
			}
		}
		if it.Email != "" {
			ch.Emails = []string{it.Email}
		}
		if goneTopics[n.Topic] {
			// The contact is no longer one to show: what is cached about it,
			// and the lookups that found it, are wrong, not old.
			ch.DeletedContactIDs, ch.RemovedPhones, ch.RemovedEmails = ch.ContactIDs, ch.Phones, ch.Emails
		}
		return inv.Invalidate(ctx, ch)
	case strings.HasPrefix(n.Topic, "conversation.") || strings.HasPrefix(n.Topic, "ticket."):
		if it.Contacts == nil {
			return nil
		}
		var ids []string
		for _, c := range it.Contacts.Contacts {
			ids = append(ids, c.ID)
		}
		return inv.Invalidate(ctx, sources.Changed{ContactIDs: ids}) // their histories changed
	}
	return nil
}

// rawID reads an id sent as a string or a number.
func rawID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
