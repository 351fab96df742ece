//go:build !linux

package redistest

import "os/exec"

func dieWithTest(*exec.Cmd) {}
