package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill a process of the test when the test
// process dies: a test that panics or times out runs no Cleanup, and its
// replicas and load balancer would outlive it (as internal/redistest does
// for its redis-server nodes).
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
