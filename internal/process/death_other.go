//go:build !linux

package process

import "os/exec"

// DieWithParent does nothing where the kernel offers no parent-death
// signal: a process outlives a parent that dies without stopping it.
func DieWithParent(*exec.Cmd) {}
