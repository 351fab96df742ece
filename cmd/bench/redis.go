package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// startPrivateRedis starts redis-server on a free port for the benchmark.
func startPrivateRedis() (string, func(), error) {
	p, err := startRedisProcess()
	if err != nil {
		return "", nil, err
	}
	return p.url, p.close, nil
}

// redisProcess is a private redis-server the benchmark may kill, freeze
// (SIGSTOP) and bring back.
type redisProcess struct {
	bin, dir, url string
	port          int
	cmd           *exec.Cmd
}

func startRedisProcess() (*redisProcess, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "bench-redis")
	if err != nil {
		return nil, err
	}
	p := &redisProcess{bin: bin, dir: dir, port: port, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	if err := p.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *redisProcess) start() error {
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", p.dir, "--logfile", filepath.Join(p.dir, "redis.log"))
	if err := p.cmd.Start(); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p.port)})
	defer c.Close()
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	return errors.New("redis-server did not start")
}

// kill stops the server as a crash would.
func (p *redisProcess) kill() {
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *redisProcess) freeze() { _ = p.cmd.Process.Signal(syscall.SIGSTOP) }
func (p *redisProcess) thaw()   { _ = p.cmd.Process.Signal(syscall.SIGCONT) }

func (p *redisProcess) close() {
	p.kill()
	_ = os.RemoveAll(p.dir)
}
