package loaders

import (
	"testing"

	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Emulated is an Intercom client of a fresh emulated workspace, for the
// tests of this package, inside it and out (loaders_test).
func Emulated(t *testing.T) (*intercom.Client, *emulator.Workspace) {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: "loader-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	c, err := intercom.New(intercom.Config{Token: "loader-test", BaseURL: em.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, em.Workspace
}
