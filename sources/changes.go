package sources

// What a change means to a dashboard that follows it live. An Invalidator
// hears of every change as a Changed; these optional lists say, in the
// product's terms, what happened to whom, so that the one event stream
// (package events) can tell subscribers: a contact updated, deleted,
// archived or merged into another; an interaction created or changed.

// ContactChangeKind is what happened to a contact.
type ContactChangeKind string

const (
	ContactUpdated  ContactChangeKind = "UPDATED"
	ContactDeleted  ContactChangeKind = "DELETED"
	ContactArchived ContactChangeKind = "ARCHIVED"
	ContactMerged   ContactChangeKind = "MERGED"
)

// Ends reports whether a contact with this change is gone for good: a
// subscription that follows it has nothing more to follow.
func (k ContactChangeKind) Ends() bool {
	return k == ContactDeleted || k == ContactMerged
}

// ContactChange is one contact's change. Survivor is, for a merge, the
// contact the one that went was merged into.
type ContactChange struct {
	ID       string            `json:"id"`
	Kind     ContactChangeKind `json:"kind"`
	Survivor string            `json:"survivor,omitempty"`
}

// InteractionChange is an interaction created or changed, in the histories
// of ContactIDs.
type InteractionChange struct {
	ID         string          `json:"id"`
	Kind       InteractionKind `json:"kind"`
	ContactIDs []string        `json:"contacts"`
	Created    bool            `json:"created,omitempty"`
}

// CallRinging is a call that rings (Talkdesk's call_started): who calls,
// on which number, for which agent. It changes no data: it is told to the
// dashboards that wait for it (the screen pop), before the agent picks up.
type CallRinging struct {
	CallID         string `json:"call"`
	Phone          string `json:"phone"` // the caller's, as Talkdesk sent it
	TalkdeskNumber string `json:"number,omitempty"`
	AgentEmail     string `json:"agent,omitempty"`
}

// Live reports whether the change has anything to tell a dashboard.
func (ch Changed) Live() bool { return len(ch.Contacts)+len(ch.Interactions)+len(ch.Calls) > 0 }
