package sqldb

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
)

// Contract is the view contract as SQL: example tables, the four views
// over them, and the indexes the lookups need. It runs as it is on
// PostgreSQL and SQLite (the tests and the demo load it); customers replace
// the tables with their own and keep the views' names and columns.
//
//go:embed contract.sql
var Contract string

// Columns are the columns of each view of the contract, in order.
var Columns = map[string][]string{
	ViewContacts:     {"id", "name", "company", "title", "url", "updated_at"},
	ViewPoints:       {"contact_id", "kind", "value"},
	ViewInteractions: {"id", "contact_id", "kind", "subject", "description", "occurred_at", "url", "status", "priority"},
	ViewAttributes:   {"contact_id", "name", "value"},
}

// required are the views the source cannot work without, in the order
// Check reports them.
var required = []string{ViewContacts, ViewPoints, ViewInteractions}

// Check validates the database against the contract: every required view
// with every column, and the optional customer_attributes when present. Its
// error names the first view or column missing. What it finds decides
// whether attributes are read.
func (db *DB) Check(ctx context.Context) error {
	for _, view := range required {
		if err := db.checkView(ctx, view); err != nil {
			return err
		}
	}
	db.attributes = db.probe(ctx, ViewAttributes, "*") == nil
	if db.attributes {
		return db.checkView(ctx, ViewAttributes)
	}
	return nil
}

// HasAttributes reports whether Check found the optional customer_attributes.
func (db *DB) HasAttributes() bool { return db.attributes }

func (db *DB) checkView(ctx context.Context, view string) error {
	if err := db.probe(ctx, view, "*"); err != nil {
		if ctx.Err() == nil && !unreachable(err) {
			return fmt.Errorf("customer database: the view %s is missing (see docs/customer-database.md): %v", view, cause(err))
		}
		return fmt.Errorf("customer database: cannot read %s: %v", view, cause(err))
	}
	for _, col := range Columns[view] {
		if err := db.probe(ctx, view, col); err != nil {
			return fmt.Errorf("customer database: the view %s has no column %s (see docs/customer-database.md): %v", view, col, cause(err))
		}
	}
	return nil
}

// probe selects no row of column from view: it fails when either is missing.
// The names are the contract's constants, never input.
func (db *DB) probe(ctx context.Context, view, column string) error {
	ctx, cancel := context.WithTimeout(ctx, db.cfg.Timeout)
	defer cancel()
	r, err := db.engine.query(ctx, "SELECT "+column+" FROM "+view+" WHERE 1 = 0")
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
	}
	return r.Err()
}

// unreachable tells a connection failure from a missing view.
func unreachable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connect") || strings.Contains(s, "dial") || strings.Contains(s, "timeout") ||
		strings.Contains(s, "unable to open")
}

// cause is the database's own message, for the operator at start.
func cause(err error) string {
	s := err.Error()
	if i := strings.Index(s, "password="); i >= 0 {
		return s[:i] + "(redacted)"
	}
	return s
}
