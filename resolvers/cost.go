package resolvers

import "github.com/talkdesk-intercom/api/internal/cost"

// Batch sizes of the source's batched reads: a loader batch of up to 100
// keys is one search (`IN` lists of 100 values), and a caller lookup's
// number takes about five of a search's 100 values (its spellings).
const (
	keysPerSearch   = 100.0
	phonesPerSearch = 20.0
	// companiesPerContact is how many companies a contact is assumed to
	// belong to: Intercom cannot say before the contact is read.
	companiesPerContact = 3
	// matchesPerLookup is how many contacts a phone or email is assumed
	// to match.
	matchesPerLookup = 2
)

// Costs declares what each field costs: how many objects it returns and how
// many Intercom calls it makes at worst (see package cost). One model serves
// the complexity limit, the per-operation Intercom budget and the benchmark.
func Costs() cost.Model {
	perKey := func(n float64) func(cost.Args) float64 {
		return func(cost.Args) float64 { return n }
	}
	page := func(def int) func(cost.Args) int {
		return func(a cost.Args) int { return max(a.Int("first", def), 1) }
	}
	fixed := func(n int) func(cost.Args) int { return func(cost.Args) int { return n } }
	// A contact's history: one conversation, one ticket and one call
	// search per batch of contacts, and one notes read per contact.
	history := cost.Field{Items: page(10), Fixed: 3, PerInstance: perKey(1 + 3/keysPerSearch)}
	// One read per call: the write, and at worst the lookup it needs.
	action := cost.Field{Action: true, PerInstance: perKey(2)}
	return cost.Model{
		"Query.contactsByPhone": {Items: fixed(matchesPerLookup), Fixed: 1, PerInstance: perKey(1 / phonesPerSearch)},
		"Query.contact":         {Fixed: 1, PerInstance: perKey(1 / keysPerSearch)},
		// More than maxIDs ids is refused before any call.
		"Query.contactsByIds": {Items: func(a cost.Args) int { return min(a.Len("ids"), maxIDs) }, Fixed: 1,
			PerInstance: func(a cost.Args) float64 { return float64(min(a.Len("ids"), maxIDs)) / keysPerSearch }},
		"Query.contactsByEmail": {Items: fixed(matchesPerLookup), Fixed: 1, PerInstance: perKey(1 / keysPerSearch)},
		// Text searches and list pages cannot be batched: one call each.
		// They are bulk work: a screen pop goes first.
		"Query.searchContacts": {Items: page(20), PerInstance: perKey(1), Bulk: true},
		"Query.contacts":       {Items: page(50), PerInstance: perKey(1), Bulk: true},
		"Query.agents":         {Fixed: 1},
		"Query.interactions":   history,
		"Contact.interactions": history,
		// Intercom has no batch read of companies: one read per company.
		"Contact.company":   {PerInstance: perKey(1)},
		"Contact.companies": {Items: fixed(companiesPerContact), PerInstance: perKey(companiesPerContact)},
		// A caller across sources: the number, then up to two rounds of the
		// numbers and emails its contacts hold (identity resolution).
		"Query.caller":        {Fixed: 5},
		"Caller.people":       {Items: fixed(matchesPerLookup)},
		"Person.contacts":     {Items: fixed(matchesPerLookup)},
		"Person.interactions": cost.Field{Items: page(10), Fixed: 3, PerInstance: perKey(matchesPerLookup * (1 + 3/keysPerSearch))},
		// The workspace's tag list, read once per request.
		"Tag.name": {Fixed: 1},

		"Mutation.createContact": action,
		"Mutation.updateContact": action,
		"Mutation.tagContact":    action,
		"Mutation.untagContact":  action,
		"Mutation.addNote":       action,
		"Mutation.createTicket":  action,
		"Mutation.logCall":       {Action: true, PerInstance: perKey(3)},
	}
}
