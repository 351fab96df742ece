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

// SettingForTest reads a setting of the source's PostgreSQL sessions.
func SettingForTest(db *DB, name string) (string, error) {
	r, err := db.engine.query(context.Background(), "SELECT current_setting($1)", name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var v string
	for r.Next() {
		if err := r.Scan(&v); err != nil {
			return "", err
		}
	}
	return v, r.Err()
}
