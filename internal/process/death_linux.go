package process

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel kill cmd's process when the process that
// started it dies: a test that panics or times out runs no Cleanup, and a
// benchmark stopped with ^C may not reach its deferred stops; their servers
// and load balancers would outlive them. Call it before cmd.Start.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
