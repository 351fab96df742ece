package sqldb

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL channel a customer's trigger notifies with the
// id of a contact that changed: NOTIFY tdi_changes, '<contact id>'.
const Channel = "tdi_changes"

// Listen calls changed with the id ("sql:<id>") of each contact a
// NOTIFY on Channel names, until ctx ends. It holds one connection of its
// own (outside the pool), and connects again, after retry, when it is
// lost. SQLite has no notifications: Listen returns at once.
func (db *DB) Listen(ctx context.Context, retry time.Duration, changed func(contactID string), lost func(error)) {
	if _, ok := db.engine.(*postgres); !ok {
		return
	}
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		if lost != nil {
			lost(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context, changed func(string)) error {
	cfg, err := pgx.ParseConfig(db.cfg.URL)
	if err != nil {
		return errors.New("not a PostgreSQL URL")
	}
	cfg.ConnectTimeout = db.cfg.Timeout
	cfg.RuntimeParams["application_name"] = "talkdesk-intercom listener"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The channel is this package's constant, never input. LISTEN runs
	// outside the pool's read-only sessions: it writes nothing, but a
	// read-only transaction may refuse it.
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id := strings.TrimSpace(n.Payload); storable(id) {
			changed(Prefix + id)
		}
	}
}
