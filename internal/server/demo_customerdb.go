package server

import (
	"fmt"
	"strings"
	"time"
)

// demoCustomerRows are the demo customer database's rows, in the contract's
// example tables (sqldb.Contract), dated relative to now like the demo
// workspace's:
//   - Maria Garcia: the demo workspace's caller, same number and email,
//     with orders, a payment and an open case: one person, one timeline;
//   - James Carter: only his email in common with the workspace (joined
//     through it); Emily Chen: her number stored as "415.555.0144";
//   - Priya Nair and Tom Becker: only in the database;
//   - Globex's switchboard +1 415-555-0100 on four contacts: found, never
//     merged.
func demoCustomerRows(now time.Time) string {
	at := func(daysAgo float64) string {
		return now.Add(-time.Duration(daysAgo * float64(24*time.Hour))).UTC().Format(time.RFC3339)
	}
	var b strings.Builder
	row := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	customers := []struct{ id, name, company, title string }{
		{"C-1001", "Maria Garcia", "Northwind Traders", "Operations Manager"},
		{"C-1002", "James Carter", "Contoso Labs", "CTO"},
		{"C-1003", "Emily Chen", "", ""},
		{"C-2001", "Priya Nair", "Blue Yonder Airlines", "Travel Coordinator"},
		{"C-2002", "Tom Becker", "", ""},
		{"C-3001", "Dana Whitfield", "Globex", "Facilities"},
		{"C-3002", "Eli Navarro", "Globex", "Accounts Payable"},
		{"C-3003", "Fay Osei", "Globex", "Office Manager"},
		{"C-3004", "Gus Lindqvist", "Globex", "IT"},
	}
	for i, c := range customers {
		row("INSERT INTO shop_customers VALUES (%s, %s, %s, %s, %s, %s);", q(c.id), q(c.name), nullable(c.company), nullable(c.title),
			q("https://crm.example.com/customers/"+c.id), q(at(float64(i+1))))
	}
	for _, p := range [][2]string{
		{"C-1001", "+14155550142"}, {"C-1003", "415.555.0144"}, {"C-2001", "+14155550150"}, {"C-2002", "+14155550152"},
		{"C-3001", "+14155550100"}, {"C-3002", "+14155550100"}, {"C-3003", "+14155550100"}, {"C-3004", "+14155550100"},
		{"C-3001", "+14155550101"},
	} {
		row("INSERT INTO shop_phones VALUES (%s, %s);", q(p[0]), q(p[1]))
	}
	for _, e := range [][2]string{
		{"C-1001", "maria.garcia@northwindtraders.com"}, {"C-1002", "james.carter@contoso-labs.com"},
		{"C-2001", "priya.nair@blueyonder.example"}, {"C-3001", "dana@globex.example"},
	} {
		row("INSERT INTO shop_emails VALUES (%s, %s);", q(e[0]), q(e[1]))
	}
	orders := []struct {
		no, customer, summary, state string
		daysAgo                      float64
	}{
		{"50412", "C-1001", "Espresso machine descaler × 3", "delivered", 21},
		{"50877", "C-1001", "Grinder replacement blade", "shipped", 4},
		{"51003", "C-1001", "Payment of $129.00 by card ending 4242", "paid", 3.5},
		{"49920", "C-1002", "Team coffee subscription, 12 months", "active", 60},
		{"51120", "C-2001", "Flight voucher order", "pending", 1},
		{"48001", "C-3001", "Office kitchen supplies", "delivered", 30},
	}
	for _, o := range orders {
		row("INSERT INTO shop_orders VALUES (%s, %s, %s, %s, %s);", q(o.no), q(o.customer), q(o.summary), q(o.state), q(at(o.daysAgo)))
	}
	row("INSERT INTO shop_cases VALUES ('7781', 'C-1001', 'Replacement blade arrived bent', %s, 'open', 'high', %s);",
		q("The blade shipped with order 50877 arrived bent. She asked for a new one or a refund; photos attached in the case."), q(at(0.2)))
	row("INSERT INTO shop_cases VALUES ('7702', 'C-2002', 'Cannot log in to the portal', 'Password reset email never arrives.', 'pending', 'medium', %s);", q(at(2)))
	for _, f := range [][3]string{
		{"C-1001", "plan", "Gold"}, {"C-1001", "balance", "$0.00"}, {"C-1001", "lifetime_value", "$2,340"},
		{"C-1002", "plan", "Business"}, {"C-2001", "plan", "Silver"},
	} {
		row("INSERT INTO shop_facts VALUES (%s, %s, %s);", q(f[0]), q(f[1]), q(f[2]))
	}
	return b.String()
}

// q quotes a demo literal (the demo's own constants, never input).
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return q(s)
}
