package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill a node when the test process dies: a
// test that panics runs no Cleanup, and its nodes would outlive it.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
