package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// markerVar is set in each node's environment to its pid file's path, so a
// pid file whose pid the system has since given to another process is not
// taken for the node (stop would otherwise kill a stranger).
const markerVar = "SWIPER_DEVENV_NODE"

func pidFile(dev, name string) string  { return filepath.Join(dev, name+".pid") }
func supervisorFile(dev string) string { return filepath.Join(dev, "cluster.pid") }

func writePid(path string, pid int) error {
	return os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

func readPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// removePid removes the pid file if it still names pid (a newer supervisor
// may have written its own).
func removePid(path string, pid int) {
	if got, ok := readPid(path); ok && got == pid {
		os.Remove(path)
	}
}

// alive reports whether pid is a process that has not exited (a zombie,
// exited but not yet reaped by its parent, has).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) // no /proc at all: trust kill
	}
	// pid (comm) STATE ...; comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// nodePid is the pid in the node's pid file if that process runs and is
// the node devenv started.
func nodePid(dev, name string) (int, bool) {
	path := pidFile(dev, name)
	pid, ok := readPid(path)
	if !ok || !alive(pid) {
		return 0, false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return pid, true // no /proc to ask: trust the file
	}
	want := markerVar + "=" + marker(dev, name)
	for _, kv := range bytes.Split(env, []byte{0}) {
		if string(kv) == want {
			return pid, true
		}
	}
	return 0, false
}

// marker is the value of markerVar for a node: its pid file, absolute.
func marker(dev, name string) string {
	p, err := filepath.Abs(pidFile(dev, name))
	if err != nil {
		return pidFile(dev, name)
	}
	return p
}

// supervisorPid is the pid of the devenv cluster that runs for dev, if any.
func supervisorPid(dev string) (int, bool) {
	pid, ok := readPid(supervisorFile(dev))
	if !ok || !alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return pid, true
	}
	args := strings.Split(string(cmdline), "\x00")
	return pid, len(args) > 1 && filepath.Base(args[0]) == "devenv" && args[1] == "cluster"
}

// waitGone polls until none of pids runs, or the deadline passes; it
// returns those still running.
func waitGone(pids []int, within time.Duration) []int {
	deadline := time.Now().Add(within)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		pids = left
		time.Sleep(50 * time.Millisecond) // another process's exit: nothing to wait on but polling
	}
}

// listens reports whether something accepts connections at addr.
func listens(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
