package emulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The demo caller: a seeded US contact whose phone is stored in a human
// (non-E.164) format, for demos and tests of caller lookup.
const (
	DemoCallerID             = "6650f0a1c2b3d4e5f6a70142"
	DemoCallerName           = "Maria Garcia"
	DemoCallerPhone          = "(415) 555-0142"
	DemoCallerFormattedPhone = "+14155550142"
	DemoCallerEmail          = "maria.garcia@northwindtraders.com"
	DemoCallerExternalID     = "usr_0001"
)

const day = 24 * time.Hour

// seed fills the workspace. Every random choice comes from one PCG source
// seeded by Options.Seed and is drawn in a fixed order, and every timestamp is
// Now() minus a drawn offset, so equal Options give byte-identical data.
func (w *Workspace) seed() {
	seed := uint64(w.opts.Seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	w.idRand = rand.New(rand.NewPCG(seed, 0x1d5))
	anchor := w.now()
	w.appCreated = anchor.Add(-1200 * day)
	w.admins = seedAdmins()
	w.tags = seedTags()
	for name, t := range map[string]attrType{
		"job_title": typeString, "plan": typeString, "account_manager": typeString,
		"seats": typeNumber, "trial_ends_at": typeDate,
	} {
		w.attrTypes[name] = t
	}
	w.seq.init()
	w.ticketStates = seedTicketStates()
	w.ticketTypes = seedTicketTypes(w.appCreated)
	if w.opts.Empty {
		return
	}
	g := &seeder{w: w, rng: rng, anchor: anchor, phones: map[string]bool{}, emails: map[string]bool{}, exhausted: map[string]bool{}, ids: map[string]bool{DemoCallerID: true}}
	g.companies()
	n := w.opts.Contacts
	for i, c := range curatedContacts() {
		if i >= n {
			break
		}
		g.finishCurated(c)
	}
	for i := len(curatedContacts()); i < n; i++ {
		g.generated(i)
	}
	// Sorted once at the end: inserting in order would be quadratic for the
	// large workspaces benchmarks use.
	slices.SortFunc(w.order, contactLess)
	if !w.opts.noHistory {
		w.seedInteractions(anchor)
	}
}

type seeder struct {
	w      *Workspace
	rng    *rand.Rand
	anchor time.Time
	phones map[string]bool // E.164 numbers handed out, to keep generated phones unique
	emails map[string]bool
	ids    map[string]bool
	// exhausted marks countries whose fictional phone ranges ran out.
	exhausted map[string]bool
}

func (g *seeder) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *seeder) chance(p float64) bool { return g.rng.Float64() < p }

// ago returns anchor minus a random duration in [lo, hi).
func (g *seeder) ago(lo, hi time.Duration) time.Time {
	return g.anchor.Add(-lo - time.Duration(g.rng.Int64N(int64(hi-lo)/int64(time.Second)))*time.Second)
}

func (g *seeder) objectID() string {
	for {
		id := fmt.Sprintf("%08x%016x", uint32(g.rng.Uint64()), g.rng.Uint64())
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

func seedAdmins() []Admin {
	type a struct{ name, title string }
	list := []a{
		{"Sofia Almeida", "Head of Support"}, // owns the token
		{"Liam O'Connor", "Customer Success Manager"},
		{"Priya Nair", "Account Executive"},
		{"Marco Rossi", "Support Engineer"},
		{"Chloe Dubois", "Sales Manager"},
		{"Kenji Tanaka", "Support Agent"},
	}
	out := make([]Admin, len(list))
	for i, x := range list {
		first := strings.ToLower(strings.Fields(x.name)[0])
		out[i] = Admin{
			ID:           fmt.Sprintf("%d", 7300001+i),
			Name:         x.name,
			Email:        first + "@helpdesk-demo.io",
			JobTitle:     x.title,
			AvatarURL:    fmt.Sprintf("https://static.intercomassets.com/avatars/%d/square_128/avatar.png", 7300001+i),
			HasInboxSeat: true,
			TeamIDs:      []int{814865 + i%2},
		}
	}
	out[5].AwayModeEnabled, out[5].AwayModeReassign = true, true
	return out
}

func seedTags() []Tag {
	names := []string{"VIP", "Churn risk", "Beta tester", "Enterprise", "Onboarding", "Partner",
		"Newsletter", "Escalated", "Trial", "Reseller", "Renewal Q3", "NPS promoter"}
	out := make([]Tag, len(names))
	for i, n := range names {
		out[i] = Tag{ID: fmt.Sprintf("%d", 9100001+i), Name: n}
	}
	return out
}

var companyNames = []string{
	"Northwind Traders", "Contoso Labs", "Fabrikam Logistics", "Tailspin Toys", "Wide World Importers",
	"Adventure Works Cycles", "Blue Yonder Airlines", "Coho Winery", "Lucerne Publishing", "Margie's Travel",
	"Proseware", "Litware Systems", "Alpine Ski House", "Fourth Coffee", "Graphic Design Institute",
	"Humongous Insurance", "Trey Research", "Woodgrove Bank", "Lamna Healthcare", "Relecloud",
	"Southridge Video", "VanArsdel Foods", "Bellows College", "Consolidated Messenger", "Datum Corporation",
	"Nod Publishers", "Munson's Pickles", "School of Fine Art", "First Up Consultants", "Fincher Architects",
	"Liberty's Delightful Sinful Bakery", "Olympia Dental", "Pinewood Analytics", "Quayside Energy", "Riverbend Clinics",
	"Saltmarsh Shipping", "Tidewater Telecom", "Umbra Security", "Verdant Agritech", "Zephyr Mobility",
}

var industries = []string{"Software", "Retail", "Logistics", "Healthcare", "Financial Services", "Education",
	"Manufacturing", "Media", "Travel", "Telecommunications", "Real Estate", "Energy"}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(asciiFold(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var foldReplacer = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ã", "a", "ä", "a", "é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i", "ó", "o", "ò", "o", "ô", "o", "õ", "o", "ö", "o",
	"ú", "u", "ù", "u", "û", "u", "ü", "u", "ç", "c", "ñ", "n", "ß", "ss", "'", "",
	"Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U", "Ç", "C", "Ñ", "N", "Ö", "O", "Ü", "U", "Ä", "A",
)

func asciiFold(s string) string { return foldReplacer.Replace(s) }

func (g *seeder) companies() {
	plans := [][2]string{{"101", "Starter"}, {"102", "Growth"}, {"103", "Enterprise"}}
	sizes := []int{8, 25, 60, 120, 250, 600, 1500, 5000}
	regions := []string{"EMEA", "NA", "LATAM", "APAC"}
	for i, name := range companyNames {
		created := g.ago(365*day, 1200*day)
		updated := g.ago(0, 90*day)
		co := &Company{
			ID:              g.objectID(),
			CompanyID:       fmt.Sprintf("acct_%04d", 1001+i),
			Name:            name,
			Website:         "https://www." + slug(name) + ".com",
			Industry:        g.pick(industries),
			Size:            sizes[g.rng.IntN(len(sizes))],
			SessionCount:    g.rng.IntN(5000),
			RemoteCreatedAt: created.Add(-time.Duration(g.rng.IntN(900)) * day),
			CreatedAt:       created,
			UpdatedAt:       updated,
			LastRequestAt:   g.ago(0, 30*day),
			CustomAttributes: map[string]string{
				"region": regions[g.rng.IntN(len(regions))],
				"tier":   []string{"bronze", "silver", "gold"}[g.rng.IntN(3)],
			},
		}
		if p := g.rng.IntN(4); p < 3 { // a quarter have no plan
			co.PlanID, co.PlanName = plans[p][0], plans[p][1]
			co.MonthlySpend = []int{49, 299, 2500}[p] * (1 + g.rng.IntN(4))
		}
		if g.chance(0.4) {
			co.TagIDs = []string{g.w.tags[g.rng.IntN(len(g.w.tags))].ID}
		}
		g.w.companies = append(g.w.companies, co)
		g.w.companyBy[co.ID] = co
	}
}

func (g *seeder) companyDomain(id string) string {
	return strings.TrimPrefix(g.w.companyBy[id].Website, "https://www.")
}

// curated contacts come first and carry the facts tests rely on; fields left
// empty here (timestamps, browser, ...) are filled from the random source.
func curatedContacts() []Contact {
	c := func(ext, role, name, email, phone string, loc [3]string) Contact {
		return Contact{ExternalID: ext, Role: role, Name: name, Email: email, Phone: phone,
			LocationCountry: loc[0], LocationRegion: loc[1], LocationCity: loc[2]}
	}
	sf := [3]string{"US", "California", "San Francisco"}
	nyc := [3]string{"US", "New York", "New York"}
	london := [3]string{"GB", "England", "London"}
	list := []Contact{
		c(DemoCallerExternalID, "user", DemoCallerName, DemoCallerEmail, DemoCallerPhone, sf),
		c("usr_0002", "user", "James Carter", "James.Carter@Contoso-Labs.com", "+1 415-555-0143", sf),
		c("usr_0003", "user", "Emily Chen", "emily.chen@gmail.com", "415.555.0144", sf),
		c("usr_0004", "user", "Robert Johnson", "rjohnson@outlook.com", "1-415-555-0145", sf),
		c("usr_0005", "user", "Oliver Smith", "oliver.smith@fabrikamlogistics.com", "+44 20 7946 0958", london),
		c("usr_0006", "user", "Amelia Brown", "amelia.brown@hotmail.co.uk", "020 7946 0959", london),
		c("usr_0007", "user", "João Silva", "joao.silva@sapo.pt", "+351 912 345 678", [3]string{"PT", "Lisboa", "Lisbon"}),
		c("usr_0008", "user", "Ana Costa", "ana.costa@gmail.com", "00351912345679", [3]string{"PT", "Porto", "Porto"}),
		c("usr_0009", "user", "Lukas Müller", "lukas.mueller@gmx.de", "+49 30 123456", [3]string{"DE", "Berlin", "Berlin"}),
		c("usr_0010", "user", "Lucas Oliveira", "lucas.oliveira@uol.com.br", "+55 11 91234-5678", [3]string{"BR", "São Paulo", "São Paulo"}),
		c("usr_0011", "user", "Daniel Kim", "daniel.kim@gmail.com", "+1 212-555-0187", nyc),
		c("usr_0012", "user", "Grace Kim", "grace.kim@gmail.com", "+1 212-555-0187", nyc),
		c("usr_0013", "user", "Henry Walker", "henry.walker@pinewoodanalytics.com", "(650) 555-0110", [3]string{"US", "California", "Palo Alto"}),
		c("usr_0014", "user", "Camille Martin", "camille.martin@orange.fr", "01 99 00 12 34", [3]string{"FR", "Île-de-France", "Paris"}),
		c("usr_0015", "user", "Harry Wilson", "harry.wilson@outlook.com", "07700 900461", [3]string{"GB", "England", "Manchester"}),
		c("", "lead", "Carmen López", "", "+34 612 34 56 78", [3]string{"ES", "Comunidad de Madrid", "Madrid"}),
		c("usr_0017", "user", "Hannah Schmidt", "hannah.schmidt@web.de", "", [3]string{"DE", "Bayern", "Munich"}),
		c("usr_0018", "user", "Olivia Taylor", "olivia.taylor@bigpond.com", "+61 2 9876 5432", [3]string{"AU", "New South Wales", "Sydney"}),
		c("usr_0019", "user", "Arjun Patel", "arjun.patel@gmail.com", "+91 98765 43210", [3]string{"IN", "Maharashtra", "Mumbai"}),
		c("usr_0020", "user", "Ethan Tremblay", "ethan.tremblay@gmail.com", "(416) 555-0199", [3]string{"CA", "Ontario", "Toronto"}),
		c("usr_0021", "user", "Lucía Fernández", "lucia.fernandez@gmail.com", "+34 912 345 678", [3]string{"ES", "Comunidad de Madrid", "Madrid"}),
		c("", "lead", "Léa Dubois", "lea.dubois@orange.fr", "+33 1 23 45 67 89", [3]string{"FR", "Île-de-France", "Paris"}),
		c("usr_0023", "user", "Noah Williams", "noah.williams@tailspintoys.com", "+1 (312) 555-0123", [3]string{"US", "Illinois", "Chicago"}),
	}
	list[0].ID = DemoCallerID
	for _, i := range []int{12, 13, 14} { // Henry Walker, Camille Martin, Harry Wilson
		list[i].Legacy = true
	}
	return list
}

// finishCurated fills the random parts of a curated contact and stores it.
func (g *seeder) finishCurated(c Contact) {
	if c.ID == "" {
		c.ID = g.objectID()
	}
	cos := g.w.companies
	switch c.Name {
	case DemoCallerName:
		c.CompanyIDs = []string{cos[0].ID, cos[1].ID}
		c.TagIDs = []string{g.w.tags[0].ID, g.w.tags[3].ID}
		c.OwnerID = g.w.admins[1].ID
		c.SocialProfiles = []SocialProfile{{Name: "Twitter", URL: "https://twitter.com/mariagarcia_sf"}, {Name: "LinkedIn", URL: "https://www.linkedin.com/in/mariagarcia"}}
		c.AvatarURL = "https://static.intercomassets.com/avatars/demo/maria-garcia.png"
		c.CustomAttributes = map[string]any{"job_title": "Head of Operations", "plan": "enterprise", "account_manager": g.w.admins[1].Name, "seats": int64(120)}
	case "Noah Williams": // more tags and companies than a contact body lists
		for _, t := range g.w.tags {
			c.TagIDs = append(c.TagIDs, t.ID)
		}
		c.CompanyIDs = []string{cos[3].ID, cos[4].ID, cos[5].ID}
	case "James Carter":
		c.CompanyIDs = []string{cos[1].ID}
	case "Oliver Smith":
		c.CompanyIDs = []string{cos[2].ID}
	case "Henry Walker":
		c.CompanyIDs = []string{cos[32].ID}
	}
	g.fill(&c)
	g.store(&c)
}

// fill draws the attributes a curated contact leaves unset.
func (g *seeder) fill(c *Contact) {
	c.UpdatedAt = g.ago(0, 90*day)
	if c.ID == DemoCallerID {
		c.UpdatedAt = g.anchor.Add(-2 * day)
	}
	c.CreatedAt = c.UpdatedAt.Add(-time.Hour - time.Duration(g.rng.Int64N(int64(700*day/time.Second)))*time.Second)
	if c.Role == "user" {
		c.SignedUpAt = c.CreatedAt.Add(time.Duration(g.rng.IntN(3600)) * time.Second)
		c.Browser = g.pick([]string{"Chrome", "Safari", "Firefox", "Edge"})
		c.OS = g.pick([]string{"Mac OS X", "Windows 10", "iOS", "Android", "Linux"})
		c.BrowserLanguage = browserLanguage(c.LocationCountry)
	}
	if g.chance(0.7) {
		c.LastSeenAt = c.UpdatedAt.Add(-time.Duration(g.rng.IntN(72*3600)) * time.Second)
		if c.LastSeenAt.Before(c.CreatedAt) {
			c.LastSeenAt = c.CreatedAt
		}
	}
	if g.chance(0.4) {
		c.LastContactedAt = c.UpdatedAt.Add(-time.Duration(g.rng.IntN(30*24*3600)) * time.Second)
		if c.LastContactedAt.Before(c.CreatedAt) {
			c.LastContactedAt = c.CreatedAt
		}
	}
	if c.OwnerID == "" && g.chance(0.6) {
		c.OwnerID = g.w.admins[g.rng.IntN(len(g.w.admins))].ID
	}
	if c.CustomAttributes == nil {
		c.CustomAttributes = map[string]any{"job_title": g.pick(jobTitles)}
		if c.Role == "user" {
			c.CustomAttributes["plan"] = g.pick([]string{"free", "starter", "pro", "enterprise"})
		}
		if c.OwnerID != "" {
			c.CustomAttributes["account_manager"] = g.adminName(c.OwnerID)
		}
	}
}

func (g *seeder) adminName(id string) string {
	for _, a := range g.w.admins {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

func (g *seeder) store(c *Contact) {
	if c.FormattedPhone == "" { // generated phones come already parsed
		c.indexPhone()
	}
	if e := c.FormattedPhone; e != "" {
		g.phones[e] = true
	} else if c.Phone != "" {
		g.phones[FormatE164(c.Phone, c.LocationCountry)] = true // legacy: still taken
	}
	g.emails[strings.ToLower(c.Email)] = true
	g.w.contacts[c.ID] = c
	g.w.order = append(g.w.order, c)
	g.w.registerAttrsLocked(c)
}

var jobTitles = []string{"CEO", "CTO", "Head of Operations", "Operations Manager", "Customer Success Lead",
	"Product Manager", "Software Engineer", "Marketing Director", "Sales Representative", "Office Manager",
	"Procurement Specialist", "Finance Analyst", "IT Administrator", "Founder", "Logistics Coordinator"}

// generated creates the i-th non-curated contact.
func (g *seeder) generated(i int) {
	cd := countries[g.pickCountry()]
	first, last := g.pick(cd.first), g.pick(cd.last)
	city := cd.cities[g.rng.IntN(len(cd.cities))]
	c := Contact{
		ID:              g.objectID(),
		Role:            "user",
		Name:            first + " " + last,
		LocationCountry: cd.code,
		LocationRegion:  city[1],
		LocationCity:    city[0],
	}
	if g.chance(0.2) {
		c.Role = "lead"
	} else {
		c.ExternalID = fmt.Sprintf("usr_%04d", 1000+i)
	}
	// Companies: 0-3, mostly one.
	nCompanies := []int{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3}[g.rng.IntN(20)]
	for len(c.CompanyIDs) < nCompanies {
		id := g.w.companies[g.rng.IntN(len(g.w.companies))].ID
		if !slices.Contains(c.CompanyIDs, id) {
			c.CompanyIDs = append(c.CompanyIDs, id)
		}
	}
	if !(c.Role == "lead" && g.chance(0.25)) { // some leads are known by phone only
		domain := g.pick(cd.mail)
		if len(c.CompanyIDs) > 0 && g.chance(0.7) {
			domain = g.companyDomain(c.CompanyIDs[0])
		}
		c.Email = g.email(first, last, domain)
	}
	if g.chance(0.85) || c.Email == "" {
		c.Phone, c.FormattedPhone = g.phone(cd)
	}
	for range g.rng.IntN(4) {
		id := g.w.tags[g.rng.IntN(len(g.w.tags))].ID
		if !slices.Contains(c.TagIDs, id) {
			c.TagIDs = append(c.TagIDs, id)
		}
	}
	handle := slug(first) + slug(last)
	if g.chance(0.3) {
		c.SocialProfiles = append(c.SocialProfiles, SocialProfile{Name: "Twitter", URL: "https://twitter.com/" + handle})
	}
	if g.chance(0.2) {
		c.SocialProfiles = append(c.SocialProfiles, SocialProfile{Name: "LinkedIn", URL: "https://www.linkedin.com/in/" + handle})
	}
	if g.chance(0.3) {
		c.AvatarURL = "https://static.intercomassets.com/avatars/demo/" + handle + ".png"
	}
	c.UnsubscribedFromEmails = g.chance(0.1)
	c.HasHardBounced = g.chance(0.02)
	c.MarkedEmailAsSpam = g.chance(0.01)
	g.fill(&c)
	if c.Role == "user" && len(c.CompanyIDs) > 0 {
		c.CustomAttributes["seats"] = int64(1 + g.rng.IntN(200))
	}
	if g.chance(0.2) {
		c.CustomAttributes["trial_ends_at"] = g.anchor.Add(time.Duration(g.rng.IntN(60)-30) * day).Unix()
	}
	g.store(&c)
}

func (g *seeder) pickCountry() int {
	total := 0
	for _, c := range countries {
		total += c.weight
	}
	n := g.rng.IntN(total)
	for i, c := range countries {
		if n < c.weight {
			return i
		}
		n -= c.weight
	}
	return 0
}

func (g *seeder) email(first, last, domain string) string {
	f, l := slug(first), slug(last)
	patterns := []string{f + "." + l, f + l, f[:1] + "." + l, f + "_" + l, f[:1] + l, l + "." + f}
	local := patterns[g.rng.IntN(len(patterns))]
	for n := 2; ; n++ {
		e := local + "@" + domain
		if !g.emails[e] {
			return e
		}
		local = fmt.Sprintf("%s%d", patterns[0], n)
	}
}

// phone draws a number in one of the country's human formats ('N' is a
// random digit) and returns it with its E.164 form, which keeps numbers
// unique.
func (g *seeder) phone(cd countryData) (phone, e164 string) {
	for try := 0; ; try++ {
		tpl := g.pick(cd.phones)
		if try >= 20 || g.exhausted[cd.code] {
			// The fictional ranges are small; once they are nearly used up,
			// stop retrying them for this country.
			g.exhausted[cd.code] = true
			tpl = cd.bulk
		}
		area := ""
		if len(cd.areas) > 0 {
			area = g.pick(cd.areas)
		}
		var b strings.Builder
		for _, r := range strings.ReplaceAll(tpl, "AAA", area) {
			if r == 'N' {
				b.WriteByte(byte('0' + g.rng.IntN(10)))
			} else {
				b.WriteRune(r)
			}
		}
		p := b.String()
		e := FormatE164(p, cd.code)
		if e != "" && !g.phones[e] {
			g.phones[e] = true
			return p, e
		}
	}
}

func browserLanguage(country string) string {
	if l, ok := map[string]string{"US": "en-US", "GB": "en-GB", "PT": "pt-PT", "DE": "de-DE", "FR": "fr-FR",
		"BR": "pt-BR", "AU": "en-AU", "ES": "es-ES", "IN": "en-IN", "CA": "en-CA", "IE": "en-IE",
		"NL": "nl-NL", "MX": "es-MX"}[country]; ok {
		return l
	}
	return "en"
}
