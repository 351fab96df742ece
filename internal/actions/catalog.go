package actions

// Definition describes an action the way Talkdesk's action configuration
// does: the same definitions serve the GraphQL `actions` query and the
// bridge's actions.json.
type Definition struct {
	Name        string  `json:"name"`
	DisplayName string  `json:"display_name"`
	Description string  `json:"description"`
	Inputs      []Input `json:"inputs"`
}

// Input is a field an action asks for; Key is its key in the bridge's `data`.
type Input struct {
	Key       string `json:"key"`
	Name      string `json:"name"`
	Mandatory bool   `json:"mandatory"`
}

// Action names: the bridge's /talkdesk/actions/{name}.
const (
	ActionCreateContact = "create_contact"
	ActionUpdateContact = "update_contact"
	ActionTagContact    = "tag_contact"
	ActionUntagContact  = "untag_contact"
	ActionAddNote       = "add_note"
	ActionCreateTicket  = "create_ticket"
	ActionLogCall       = "log_call"
)

// Catalog lists every action.
func Catalog() []Definition {
	return []Definition{
		{ActionCreateContact, "Create contact", "Create a contact (a lead by default) in Intercom; an existing contact with the same email or phone is returned instead.", []Input{
			{"name", "Name", false}, {"email", "Email", false}, {"phone", "Phone", false},
			{"role", "Role (user or lead)", false}, {"external_id", "External id", false}, {"company_id", "Intercom company id", false},
		}},
		{ActionUpdateContact, "Update contact", "Change the name, email, phone, role or external id of the contact in scope.", []Input{
			{"name", "Name", false}, {"email", "Email", false}, {"phone", "Phone", false},
			{"role", "Role (user or lead)", false}, {"external_id", "External id", false},
		}},
		{ActionTagContact, "Tag contact", "Attach a tag to the contact in scope, creating the tag when it does not exist.", []Input{
			{"tag", "Tag", true},
		}},
		{ActionUntagContact, "Untag contact", "Remove a tag from the contact in scope.", []Input{
			{"tag", "Tag", true},
		}},
		{ActionAddNote, "Add note", "Add a note to the contact in scope, written by the agent who runs the action.", []Input{
			{"body", "Note", true},
		}},
		{ActionCreateTicket, "Create ticket", "Open an Intercom ticket for the contact in scope.", []Input{
			{"title", "Title", true}, {"description", "Description", false}, {"ticket_type", "Ticket type (name or id)", true},
		}},
		{ActionLogCall, "Log call", "Record a phone call on the caller's Intercom contact as a note, creating a lead for an unknown caller when asked.", []Input{
			{"from", "From number", true}, {"to", "To number", true}, {"direction", "Direction (inbound or outbound)", true},
			{"started_at", "Start time (RFC 3339)", true}, {"duration", "Duration in seconds", true},
			{"disposition", "Disposition", false}, {"recording_url", "Recording URL", false}, {"notes", "Agent notes", false},
			{"create_contact_if_unknown", "Create a lead for an unknown caller (true or false)", false},
		}},
	}
}
