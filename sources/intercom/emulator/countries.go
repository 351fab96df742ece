package emulator

import "strings"

type country struct {
	name      string // location.country, as Intercom shows it
	alpha3    string // location.country_code
	continent string // location.continent_code
}

var countryTable = map[string]country{
	"US": {"United States", "USA", "NA"},
	"CA": {"Canada", "CAN", "NA"},
	"MX": {"Mexico", "MEX", "NA"},
	"BR": {"Brazil", "BRA", "SA"},
	"GB": {"United Kingdom", "GBR", "EU"},
	"IE": {"Ireland", "IRL", "EU"},
	"PT": {"Portugal", "PRT", "EU"},
	"ES": {"Spain", "ESP", "EU"},
	"FR": {"France", "FRA", "EU"},
	"DE": {"Germany", "DEU", "EU"},
	"NL": {"Netherlands", "NLD", "EU"},
	"IN": {"India", "IND", "AS"},
	"AU": {"Australia", "AUS", "OC"},
}

// countryInfo describes an ISO alpha-2 code; unknown codes are shown as is.
func countryInfo(code string) country {
	code = strings.ToUpper(code)
	if c, ok := countryTable[code]; ok {
		return c
	}
	return country{name: code}
}

// countryData drives the generated contacts of one country. Phone templates
// mix the formats people really type; 'N' is a random digit and AAA an area
// code. US/CA numbers use the fictional 555-01xx range, GB numbers Ofcom's
// drama ranges.
type countryData struct {
	code   string
	weight int
	first  []string
	last   []string
	cities [][2]string // city, region
	mail   []string    // consumer mail domains
	areas  []string
	phones []string
	bulk   string // used once the fictional ranges above run out (large seeds)
}

var countries = []countryData{
	{
		code: "US", weight: 30,
		first:  []string{"Michael", "Jennifer", "David", "Sarah", "Christopher", "Jessica", "Matthew", "Ashley", "Joshua", "Amanda", "Andrew", "Megan", "Tyler", "Rachel"},
		last:   []string{"Smith", "Johnson", "Williams", "Jones", "Miller", "Davis", "Rodriguez", "Martinez", "Anderson", "Thomas", "Moore", "Jackson", "Lee", "Nguyen"},
		cities: [][2]string{{"New York", "New York"}, {"Chicago", "Illinois"}, {"Austin", "Texas"}, {"Seattle", "Washington"}, {"Boston", "Massachusetts"}, {"Denver", "Colorado"}, {"Atlanta", "Georgia"}, {"San Francisco", "California"}},
		mail:   []string{"gmail.com", "outlook.com", "yahoo.com", "icloud.com"},
		areas:  []string{"212", "312", "512", "206", "617", "303", "404", "646", "415"},
		phones: []string{"(AAA) 555-01NN", "+1 AAA-555-01NN", "AAA.555.01NN", "1-AAA-555-01NN", "+1AAA55501NN", "AAA-555-01NN", "+1 (AAA) 555-01NN"},
		bulk:   "(AAA) 2NN-NNNN",
	},
	{
		code: "CA", weight: 6,
		first:  []string{"Liam", "Emma", "Noah", "Olivia", "William", "Charlotte", "Benjamin", "Chloé"},
		last:   []string{"Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Wilson", "MacDonald", "Campbell"},
		cities: [][2]string{{"Toronto", "Ontario"}, {"Vancouver", "British Columbia"}, {"Montreal", "Quebec"}},
		mail:   []string{"gmail.com", "outlook.com", "rogers.com"},
		areas:  []string{"416", "604", "514"},
		phones: []string{"(AAA) 555-01NN", "+1 AAA-555-01NN", "AAA.555.01NN", "1-AAA-555-01NN"},
		bulk:   "(AAA) 2NN-NNNN",
	},
	{
		code: "GB", weight: 12,
		first:  []string{"George", "Olivia", "Harry", "Isla", "Jack", "Ava", "Charlie", "Emily", "Thomas", "Sophie", "James", "Poppy"},
		last:   []string{"Taylor", "Davies", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Green", "Hall", "Wood"},
		cities: [][2]string{{"London", "England"}, {"Manchester", "England"}, {"Edinburgh", "Scotland"}, {"Bristol", "England"}, {"Cardiff", "Wales"}},
		mail:   []string{"gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"},
		phones: []string{"+44 20 7946 0NNN", "020 7946 0NNN", "+44 7700 900NNN", "07700 900NNN", "+447700900NNN"},
		bulk:   "+44 7NNN NNNNNN",
	},
	{
		code: "PT", weight: 8,
		first:  []string{"Tiago", "Inês", "Rodrigo", "Beatriz", "Miguel", "Mariana", "Duarte", "Leonor", "Francisco", "Carolina"},
		last:   []string{"Ferreira", "Santos", "Pereira", "Oliveira", "Rodrigues", "Martins", "Sousa", "Fernandes", "Gonçalves", "Gomes"},
		cities: [][2]string{{"Lisbon", "Lisboa"}, {"Porto", "Porto"}, {"Braga", "Braga"}, {"Coimbra", "Coimbra"}},
		mail:   []string{"gmail.com", "sapo.pt", "outlook.pt"},
		phones: []string{"+351 91N NNN NNN", "00351 93N NNN NNN", "96N NNN NNN", "+351 21N NNN NNN", "+35192NNNNNNN"},
		bulk:   "+351 91N NNN NNN",
	},
	{
		code: "DE", weight: 8,
		first:  []string{"Lukas", "Mia", "Leon", "Emma", "Felix", "Hannah", "Jonas", "Lea", "Paul", "Lena"},
		last:   []string{"Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch"},
		cities: [][2]string{{"Berlin", "Berlin"}, {"Munich", "Bayern"}, {"Hamburg", "Hamburg"}, {"Cologne", "Nordrhein-Westfalen"}},
		mail:   []string{"gmx.de", "web.de", "gmail.com", "t-online.de"},
		phones: []string{"+49 30 NNNNNNN", "030 NNNNNNN", "+49 151 NNNNNNNN", "0151 NNNNNNNN", "+49 (0)89 NNNNNN"},
		bulk:   "+49 151 NNNNNNNN",
	},
	{
		code: "FR", weight: 7,
		first:  []string{"Lucas", "Léa", "Hugo", "Manon", "Louis", "Camille", "Gabriel", "Chloé", "Arthur", "Inès"},
		last:   []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"},
		cities: [][2]string{{"Paris", "Île-de-France"}, {"Lyon", "Auvergne-Rhône-Alpes"}, {"Marseille", "Provence-Alpes-Côte d'Azur"}, {"Bordeaux", "Nouvelle-Aquitaine"}},
		mail:   []string{"orange.fr", "gmail.com", "free.fr", "laposte.net"},
		phones: []string{"+33 1 NN NN NN NN", "01 NN NN NN NN", "06 NN NN NN NN", "+33 6 NN NN NN NN", "0033 6NNNNNNNN"},
		bulk:   "+33 6 NN NN NN NN",
	},
	{
		code: "BR", weight: 8,
		first:  []string{"Gabriel", "Ana", "Pedro", "Júlia", "Mateus", "Larissa", "Rafael", "Camila", "Gustavo", "Fernanda"},
		last:   []string{"Silva", "Santos", "Souza", "Lima", "Costa", "Ribeiro", "Alves", "Carvalho", "Araújo", "Barbosa"},
		cities: [][2]string{{"São Paulo", "São Paulo"}, {"Rio de Janeiro", "Rio de Janeiro"}, {"Belo Horizonte", "Minas Gerais"}, {"Curitiba", "Paraná"}},
		mail:   []string{"gmail.com", "uol.com.br", "hotmail.com", "bol.com.br"},
		phones: []string{"+55 11 9NNNN-NNNN", "(11) 9NNNN-NNNN", "+55 (21) 9NNNN-NNNN", "+55 31 9NNNNNNNN"},
		bulk:   "+55 11 9NNNN-NNNN",
	},
	{
		code: "AU", weight: 5,
		first:  []string{"Jack", "Charlotte", "Oliver", "Amelia", "William", "Mia", "Lachlan", "Grace"},
		last:   []string{"Smith", "Jones", "Brown", "Wilson", "Taylor", "Nguyen", "Kelly", "Ryan"},
		cities: [][2]string{{"Sydney", "New South Wales"}, {"Melbourne", "Victoria"}, {"Brisbane", "Queensland"}},
		mail:   []string{"gmail.com", "bigpond.com", "outlook.com"},
		phones: []string{"+61 2 NNNN NNNN", "(02) NNNN NNNN", "04NN NNN NNN", "+61 4NN NNN NNN"},
		bulk:   "+61 4NN NNN NNN",
	},
	{
		code: "ES", weight: 5,
		first:  []string{"Hugo", "Lucía", "Martín", "Sofía", "Pablo", "Martina", "Alejandro", "Paula"},
		last:   []string{"García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez"},
		cities: [][2]string{{"Madrid", "Comunidad de Madrid"}, {"Barcelona", "Cataluña"}, {"Valencia", "Comunidad Valenciana"}, {"Seville", "Andalucía"}},
		mail:   []string{"gmail.com", "hotmail.es", "yahoo.es"},
		phones: []string{"+34 91N NNN NNN", "6NN NN NN NN", "+34 6NN NNN NNN"},
		bulk:   "+34 6NN NNN NNN",
	},
	{
		code: "IN", weight: 6,
		first:  []string{"Aarav", "Ananya", "Vihaan", "Diya", "Rohan", "Isha", "Aditya", "Priya", "Karan", "Neha"},
		last:   []string{"Sharma", "Verma", "Gupta", "Iyer", "Reddy", "Nair", "Mehta", "Joshi", "Rao", "Kapoor"},
		cities: [][2]string{{"Mumbai", "Maharashtra"}, {"Bengaluru", "Karnataka"}, {"New Delhi", "Delhi"}, {"Chennai", "Tamil Nadu"}},
		mail:   []string{"gmail.com", "yahoo.co.in", "rediffmail.com"},
		phones: []string{"+91 9NNNN NNNNN", "09NNNN NNNNN", "+91-22-NNNN-NNNN", "9NNNNNNNNN"},
		bulk:   "+91 9NNNN NNNNN",
	},
	{
		code: "IE", weight: 2,
		first:  []string{"Seán", "Aoife", "Conor", "Niamh", "Cian", "Saoirse"},
		last:   []string{"Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Ryan"},
		cities: [][2]string{{"Dublin", "Leinster"}, {"Cork", "Munster"}},
		mail:   []string{"gmail.com", "eircom.net"},
		phones: []string{"+353 1 NNN NNNN", "087 NNN NNNN", "+353 86 NNN NNNN"},
		bulk:   "+353 87 NNN NNNN",
	},
	{
		code: "NL", weight: 2,
		first:  []string{"Daan", "Emma", "Sem", "Julia", "Lucas", "Tess"},
		last:   []string{"de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"},
		cities: [][2]string{{"Amsterdam", "Noord-Holland"}, {"Rotterdam", "Zuid-Holland"}},
		mail:   []string{"gmail.com", "ziggo.nl", "kpnmail.nl"},
		phones: []string{"+31 20 NNN NNNN", "06-NNNNNNNN", "+31 6 NNNNNNNN"},
		bulk:   "+31 6 NNNNNNNN",
	},
	{
		code: "MX", weight: 3,
		first:  []string{"Santiago", "Valentina", "Mateo", "Regina", "Diego", "Ximena"},
		last:   []string{"Hernández", "García", "Martínez", "López", "González", "Ramírez"},
		cities: [][2]string{{"Mexico City", "Ciudad de México"}, {"Guadalajara", "Jalisco"}, {"Monterrey", "Nuevo León"}},
		mail:   []string{"gmail.com", "hotmail.com", "yahoo.com.mx"},
		phones: []string{"+52 55 NNNN NNNN", "55 NNNN NNNN", "+52 33 NNNN NNNN"},
		bulk:   "+52 55 NNNN NNNN",
	},
}
