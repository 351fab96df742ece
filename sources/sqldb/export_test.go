package sqldb

import "context"

// ExecForTest runs a statement through the source's own connections, to
// show that they cannot write.
func ExecForTest(db *DB, statement string) error {
	r, err := db.engine.query(context.Background(), statement)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
	}
	return r.Err()
}
