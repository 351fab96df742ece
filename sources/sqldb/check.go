package sqldb

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
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
	err := db.probe(ctx, ViewAttributes, "*")
	if err != nil && !missing(err) {
		return fmt.Errorf("customer database: cannot read %s: %s", ViewAttributes, cause(err))
	}
	if err != nil {
		db.attributes.Store(false)
		return nil
	}
	if err := db.checkView(ctx, ViewAttributes); err != nil {
		return err
	}
	db.attributes.Store(true)
	return nil
}

// HasAttributes reports whether Check found the optional customer_attributes.
func (db *DB) HasAttributes() bool { return db.attributes.Load() }

// ErrContract is wrapped by Check's error when the database answers but
// lacks a view or column of the contract (not when it does not answer).
var ErrContract = errors.New("the database does not match the view contract")

// contractError names what is missing, and is ErrContract.
type contractError struct{ msg string }

func (e *contractError) Error() string        { return e.msg }
func (e *contractError) Is(target error) bool { return target == ErrContract }

func (db *DB) checkView(ctx context.Context, view string) error {
	if err := db.probe(ctx, view, "*"); err != nil {
		if missing(err) {
			return &contractError{fmt.Sprintf("customer database: the view %s is missing (see docs/customer-database.md): %s", view, cause(err))}
		}
		return fmt.Errorf("customer database: cannot read %s: %s", view, cause(err))
	}
	for _, col := range Columns[view] {
		if err := db.probe(ctx, view, col); err != nil {
			if missing(err) {
				return &contractError{fmt.Sprintf("customer database: the view %s has no column %s (see docs/customer-database.md): %s", view, col, cause(err))}
			}
			return fmt.Errorf("customer database: cannot read %s: %s", view, cause(err))
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

// missing tells a database that answered "no such view, column or right"
// from one that did not answer.
func missing(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// undefined_table, undefined_column, insufficient_privilege
		return pg.Code == "42P01" || pg.Code == "42703" || pg.Code == "42501"
	}
	s := err.Error()
	return strings.Contains(s, "no such table") || strings.Contains(s, "no such column")
}

// cause is the database's own message, for the operator at start (pgx's
// messages never hold the connection's password).
func cause(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Message
	}
	return err.Error()
}
