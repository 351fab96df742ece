package e2e_test

import (
	"os"
	"testing"

	"github.com/talkdesk-intercom/api/e2e"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }
