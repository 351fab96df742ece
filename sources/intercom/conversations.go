package intercom

import (
	"context"
	"net/url"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/preview"
)

// Conversations: one search per 100 of a batch's contacts, or one read by id.

// Upstream endpoints, as Config.Observe and errors name them.
const (
	endpointSearchConversations = "POST /conversations/search"
	endpointConversation        = "GET /conversations/{id}"
)

// conversations searches the batch's conversations.
func (b *batch) conversations(ctx context.Context) {
	convs, err := b.searchConversations(ctx)
	addFound(b, sources.KindConversation, convs, err, func(w *wireConversation) (*sources.Interaction, []string) {
		return b.x.conversation(w, ""), w.Contacts
	})
}

// searchConversations runs a conversation search over the batch's contacts.
func (b *batch) searchConversations(ctx context.Context, extra ...filter) ([]wireConversation, error) {
	return searchBatch[wireConversationList](ctx, b, endpointSearchConversations, "/conversations/search",
		func(w *wireConversation) string { return string(w.ID) }, extra...)
}

func (l *wireConversationList) pages() *wireListPages { return l.Pages }

// Conversation reads one conversation; ContactID is its first contact.
func (x *Interactions) Conversation(ctx context.Context, id string) (*sources.Interaction, error) {
	return readOne(ctx, x, endpointConversation, "/conversations/"+url.PathEscape(id), func(w *wireConversation) *sources.Interaction {
		return x.conversation(w, first(w.Contacts))
	})
}

func (x *Interactions) conversation(w *wireConversation, contactID string) *sources.Interaction {
	it := &sources.Interaction{
		ID:          string(w.ID),
		Kind:        sources.KindConversation,
		ContactID:   contactID,
		CreatedAt:   unixTime(w.CreatedAt),
		UpdatedAt:   unixTime(w.UpdatedAt),
		URL:         x.inboxURL(string(w.ID)),
		Priority:    priority(w.Priority),
		Status:      conversationStatus(w),
		SourceState: w.State,
		Assignee:    x.assignee(w.AdminAssigneeID, w.TeamAssigneeID),
	}
	it.Date = cmpTime(it.UpdatedAt, it.CreatedAt)
	var body string
	if s := w.Source; s != nil {
		body = s.Body
		it.Author = x.participant(s.Author)
		it.Direction = direction(s.DeliveredAs, s.Author)
		it.Subject = preview.Text(w.Title, subjectLength)
		if it.Subject == "" {
			it.Subject = preview.Text(s.Subject, subjectLength)
		}
	}
	it.Description = preview.Text(body, x.preview)
	if it.Subject == "" {
		it.Subject = preview.Text(body, min(x.preview, 80))
	}
	if it.Subject == "" {
		it.Subject = "Conversation " + it.ID
	}
	return it
}
