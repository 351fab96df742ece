// Package emulator is a stateful, in-memory emulator of the Intercom REST
// API (version 2.16) served over real HTTP. It is a product feature as much
// as a test helper: it is the server's demo workspace (no Intercom token
// configured), a local Intercom sandbox through cmd/intercom-emulator, and
// what the tests and the benchmark run against. Response bodies follow
// Intercom's OpenAPI description (https://github.com/intercom/Intercom-OpenAPI).
//
// # Use
//
//	srv, err := emulator.Start(emulator.Options{})
//	defer srv.Close()
//	// point the client at srv.URL with "Authorization: Bearer test-token"
//
// New builds a *Workspace, which is an http.Handler; Start serves one on
// 127.0.0.1:0 (or Options.Addr) without importing net/http/httptest.
//
// # Endpoints
//
//	GET  /me                                       admin_with_app (app.id_code = Options.WorkspaceID)
//	GET  /admins, /admins/{id}                     admin.list, admin (404 admin_not_found)
//	GET  /contacts                                 contact list; per_page (default 10, max 150), starting_after
//	GET  /contacts/{id}                            contact (404 not_found "User Not Found")
//	GET  /contacts/find_by_external_id/{external_id}   users only, as Intercom
//	GET  /contacts/{id}/companies                  contact_attached_companies (sent as both "data" and "companies")
//	POST /contacts/search                          contact list with total_count and cursor pages
//	GET  /companies                                company list; page/per_page (default 15); company_id, name, tag_id filters
//	GET  /companies/{id}                           company (404 company_not_found)
//	GET  /tags                                     tag_list
//	GET  /contacts/{id}/notes                      note_list, newest first; per_page (default 50), page, starting_after
//	GET  /conversations                            conversation_list (items under "conversations"); per_page (default 20), starting_after
//	GET  /conversations/{id}                       conversation with its parts (404 not_found); display_as=plaintext
//	POST /conversations/search                     conversation_list; default page 20
//	POST /tickets/search                           ticket_list (items under "tickets"); default page 20
//	GET  /tickets/{id}                             ticket (404 not_found, which the description does not list)
//	GET  /ticket_types                             ticket_type list
//	GET  /calls                                    call_list, newest first; page, per_page (default and maximum 25)
//	GET  /calls/{id}                               call (404 not_found)
//	POST /calls/search                             calls of 1..20 conversation_ids, with transcripts
//
// Writes (see "Writes" below):
//
//	POST   /contacts                               create a user or lead: contact
//	PUT    /contacts/{id}                          update a contact: contact (404 not_found "User Not Found")
//	POST   /contacts/{id}/companies                attach a company {id}: company (404 company_not_found)
//	POST   /tags                                   create a tag {name}, or find it ignoring case; {id, name} renames: tag
//	POST   /contacts/{id}/tags                     attach a tag {id}: tag with applied_at, applied_by
//	DELETE /contacts/{id}/tags/{tag_id}            detach a tag: tag (404 not_found "Resource Not Found" if not attached)
//	POST   /contacts/{id}/notes                    add a note {body, admin_id}: note with its author
//	POST   /tickets                                open a ticket {ticket_type_id, contacts: [{id}], ticket_attributes}: ticket
//	POST   /tickets/{id}/reply                     an admin's note or comment {message_type, type: "admin", admin_id, body}: ticket_part
//
// The call endpoints need Options.Phone (the workspace has Intercom Phone);
// without it they answer 403 api_plan_restricted "Active subscription
// needed.", as the description answers for features a plan lacks.
//
// Every request needs "Authorization: Bearer <Options.Token>"; otherwise 401
// {"type":"error.list","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}.
// Every response carries X-Request-Id (also the request_id of error bodies)
// and X-RateLimit-Limit / -Remaining / -Reset (Unix end of the current
// 10-second window). An Intercom-Version header is recorded (LastVersion);
// values Intercom does not know get 400 intercom_version_invalid, as the live
// API answers.
//
// # Search
//
// POST /contacts/search, /conversations/search and /tickets/search take
// {"query": filter, "pagination": {"per_page", "starting_after"}, "sort":
// {"field", "order"}}; a filter is {field, operator, value} or {operator:
// "AND"|"OR", value: [filters]}. One engine serves the three, with the same
// operators, limits, errors and paging; the fields differ:
//
//   - contacts: as listed below.
//   - conversations: the description's table: id, created_at, updated_at,
//     source.type, source.delivered_as, source.subject, source.body (= matches
//     any one word, as the description says), source.author.*, contact_ids
//     and teammate_ids (lists: = and IN match when any element does),
//     admin_assignee_id and team_assignee_id (integers), open, read, state
//     (open, closed, snoozed), waiting_since, snoozed_until, tag_ids, priority
//     (none, low, medium, high, urgent), statistics.*, ...
//   - tickets: id, created_at (which also takes <= and >=), updated_at,
//     title, description, category (the search terms request, task and
//     tracker), ticket_type_id, contact_ids, teammate_ids, admin_assignee_id,
//     team_assignee_id, open, state (submitted, in_progress,
//     waiting_on_customer, resolved), snoozed_until.
//
// For contacts:
//
//   - String fields: = != IN NIN ~ (contains) !~ ^ (starts with) $ (ends with).
//     = != IN NIN are exact, except on email and email_domain where they ignore
//     case; ~ !~ ^ $ always ignore case. "= null" / "!= null" test for a
//     missing value; != NIN !~ also match contacts without a value.
//   - Date fields (created_at, updated_at, signed_up_at, last_seen_at, ... and
//     date custom attributes) are matched by calendar day in
//     Options.Timezone: = is the whole day, > starts at the next day's
//     midnight, < ends at that day's midnight. != >= <= IN NIN are errors. The
//     value is a Unix timestamp, as a JSON integer or a string of digits.
//   - Integer custom attributes: = != IN NIN < > <= >=. Booleans: = != IN NIN.
//   - tag_id and segment_id: = and != only. company_id (the Intercom id or
//     your own company_id): = != IN NIN.
//   - formatted_phone is Phone in E.164 (parsed with the contact's country as
//     default region); it is searchable but never in a contact body. Legacy
//     contacts have no formatted_phone, so only a phone search on the stored
//     string finds them.
//   - custom_attributes.<name> for the attributes the workspace knows
//     (job_title, plan, account_manager: string; seats: integer;
//     trial_ends_at: date; plus any added through AddContact).
//
// Limits: at most 2 levels of AND/OR groups and 15 filters per group.
// Results are ordered by created_at then id unless sort is given (order
// defaults to descending; nulls last; ties by id). Pages default to 50 for
// contacts and 20 for conversations and tickets, at most 150; the cursor
// comes back in pages.next.starting_after and goes back in
// pagination.starting_after (a cursor of another object or sort is a
// client_error). An empty starting_after answers 500, as the live API has
// been seen to.
//
// Errors are 400 error.list bodies with a specific message and, where it
// applies, the offending "field":
//
//	bad_request         malformed JSON, missing query, bad filter shape, nesting deeper than 2,
//	                    more than 15 filters in a group, empty group
//	invalid_field       unknown field or custom attribute, unsortable sort field
//	invalid_operator    unknown operator, or one the field's type does not accept (>= on a date)
//	invalid_value       value of the wrong type (string for a date, scalar for IN, role not user/lead)
//	invalid_sort_order  sort.order not ascending/descending (the description's own example)
//	parameter_invalid   per_page outside 1..150
//	client_error        starting_after that is not a cursor from this query
//
// # Writes
//
// Written objects are in every read at once: a new or changed contact is in
// GET /contacts and in searches immediately, formatted_phone included
// (computed as for seeded contacts, with the contact's country or US as the
// default region; a phone written to a legacy contact is indexed). The live
// API can take minutes before a new contact is searchable (NOTES.md); code
// that must survive that should not rely on this emulator to prove it.
// Bodies are checked as Intercom does; refusals are error.list bodies:
//
//	bad_request          400  body is not JSON or not an object
//	parameter_not_found  400  a required parameter is missing: POST /contacts without email,
//	                          external_id or role; note body; ticket_type_id, contacts; company
//	                          or tag id
//	parameter_invalid    400  a parameter of the wrong type or value: role not user/lead, bad
//	                          email, unknown custom attribute or a value of the wrong type for
//	                          it, email_verified without email, tag without a name ("invalid
//	                          tag parameters"), unknown or archived ticket type, more than one
//	                          ticket contact, ticket without _default_title_ ("Missing required
//	                          ticket attributes"), unknown ticket attribute
//	conflict             409  a user (role user) with that email (ignoring case) or external_id
//	                          exists: "A contact matching those details already exists with
//	                          id=<id>"; leads may share emails
//	not_found            404  unknown contact ("User Not Found", also for a ticket's contact),
//	                          unknown tag or admin ("Resource Not Found")
//	company_not_found    404  unknown company on attach
//
// Contact updates, company attaches, tagging and untagging bump the
// contact's updated_at (attaching or tagging twice changes nothing); notes
// and tickets do not. New contacts get 24-hex-digit ids, created_at =
// updated_at = Now(); new tags continue the tag ids; notes and tickets
// continue the interaction ids. Workspace helpers (Contact, Contacts, Tags,
// Notes, Tickets, Ticket) see every write; AddTag and AddTicketType (an
// archived type, for instance) prepare data.
//
// # Behaviour controls
//
// Options set the token, workspace id, region, time zone, seed, clock (Now),
// latency and rate limit (requests per 10-second window, default 1666, that
// is Intercom's 10,000 a minute). Over budget the answer is 429
// rate_limit_exceeded with Retry-After. The window follows Options.Now, so a
// fake clock controls it too. At run time, SetLatency, SetRateLimit and
// SetFaults change behaviour; Faults injects error statuses (by rate or for
// the next N requests), 429s, slow answers and connection resets, optionally
// only on some endpoints, drawing from a source seeded by Options.Seed.
// Faults.SlowAfterWrite applies the slow delay of a write endpoint
// (IsWrite) after the write instead of before it, so that a client timeout
// leaves the object created: the upstream timeout that may have taken effect.
// Faults.FailAfterWrite does the same for injected error statuses and resets
// (never for 429s). Without them a fault comes before the handler, and a
// client that gives up during a delay leaves nothing written.
// Calls, CallCounts, TotalCalls and ResetCalls count requests per route
// pattern (the Endpoint constants, e.g. "POST /contacts/search"); the
// Intercom Phone calls of a contact are PhoneCalls.
//
// # Seed data
//
// With the default Options the workspace has 300 contacts, 40 companies, 6
// admins (the first, Sofia Almeida, id 7300001, owns the token) and 12 tags
// (ids 9100001..9100012). The same Options (including Now) give
// byte-identical data; timestamps are Now() minus drawn offsets, updated_at
// within the last 90 days. Contacts live in 13 countries with phones in
// varied human formats. The first contacts are curated and present whenever
// Options.Contacts allows (they come first):
//
//   - the demo caller, Maria Garcia (DemoCallerID "6650f0a1c2b3d4e5f6a70142",
//     external_id usr_0001, maria.garcia@northwindtraders.com), a US user in
//     San Francisco whose phone is stored as "(415) 555-0142"
//     (formatted_phone +14155550142), with 2 companies, tags VIP and Enterprise,
//     updated_at two days before Now;
//   - US phones stored as "+1 415-555-0143" (James Carter, whose email is
//     stored as James.Carter@Contoso-Labs.com), "415.555.0144" (Emily Chen),
//     "1-415-555-0145" (Robert Johnson);
//   - GB "+44 20 7946 0958" (Oliver Smith) and "020 7946 0959" (Amelia
//     Brown); PT "+351 912 345 678" (João Silva) and "00351912345679" (Ana
//     Costa); DE "+49 30 123456" (Lukas Müller); BR "+55 11 91234-5678"
//     (Lucas Oliveira);
//   - Daniel Kim and Grace Kim share the phone "+1 212-555-0187";
//   - legacy contacts (no formatted_phone): Henry Walker "(650) 555-0110",
//     Camille Martin "01 99 00 12 34" (FR), Harry Wilson "07700 900461" (GB);
//   - Carmen López, a lead with a phone and no email; Hannah Schmidt, a user
//     without a phone; Noah Williams, with all 12 tags (has_more) and 3
//     companies.
//
// Histories are drawn after the contacts from their own random source, so
// they change none of the facts above (nor any contact's updated_at). Most
// contacts have 0 to 5 conversations, a few tickets and notes; about one in
// sixteen (and Noah Williams) has a long history of 20 to 60 conversations;
// about a third have none, and Hannah Schmidt (NoHistoryContactName) has
// no interaction of any kind. Conversations are chats, emails, outbound and
// automated messages and phone calls, with HTML bodies (paragraphs, line
// breaks, links, entities), every state and priority, admins as authors and
// assignees, and replies, notes and state changes as parts; each
// phone_call conversation has one call (answered, missed or voicemail).
// Tickets have one of four types (GET /ticket_types: Bug report, Billing
// question, Callback request, Account review) and go through the state
// categories; some old ones were closed unresolved. A contact body's
// notes.total_count is its number of notes. The demo caller has
// DemoCallerConversations conversations (the newest an unanswered urgent
// chat from two hours ago, then a missed call), DemoCallerTickets tickets
// (one in each state category), DemoCallerNotes notes and
// DemoCallerPhoneCalls calls. Ids are decimal numbers that grow with
// creation time; conversations and tickets share one id space. Workspace
// helpers (Conversations, Tickets, Notes, PhoneCalls, TicketTypes and the
// Add* methods) read and change them.
package emulator
