package e2e_test

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/process"
)

// runBinary runs the server binary with args and no setting, as a user at
// the command line does, and returns its exit status and what it printed on
// stdout and on stderr.
func runBinary(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := process.Command(e2e.Binary(t), nil, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// --help is no error: the usage, every setting with its flag, goes to
// stdout, where a user pipes it to less or grep.
func TestHelpListsTheSettingsOnStdout(t *testing.T) {
	code, stdout, stderr := runBinary(t, "--help")
	if code != 0 || stderr != "" {
		t.Errorf("--help: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	for _, s := range []string{"Usage: talkdesk-intercom [flags]", "--addr", "ADDR", "--intercom-token", "INTERCOM_TOKEN", "--redis-url", "REDIS_URL", "--log-level", "LOG_LEVEL"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("--help does not mention %s:\n%s", s, stdout)
		}
	}
}

// A mistyped flag stops the server before it starts, with the flag it
// probably meant, on stderr; nothing goes to stdout.
func TestAMistypedFlagIsReportedOnStderr(t *testing.T) {
	code, stdout, stderr := runBinary(t, "--adr=:9090")
	if code == 0 || !strings.Contains(stderr, "unknown flag --adr (did you mean --addr?)") {
		t.Errorf("--adr=:9090: exit %d, stderr %q; want non-zero and the flag it meant", code, stderr)
	}
	if stdout != "" {
		t.Errorf("--adr=:9090: stdout %q, want nothing", stdout)
	}
}
