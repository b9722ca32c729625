package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// stop stops what `devenv cluster` started for dev: the supervisor, which
// stops its nodes in its own way, then any node its pid file still names
// (a supervisor killed outright leaves its nodes running). It says what it
// stopped, and what listens on a node's addresses that it did not start.
func stop(w io.Writer, dev string, nodes []nodeFile, wait time.Duration) error {
	say := func(format string, args ...any) { fmt.Fprintf(w, "devenv: "+format+"\n", args...) }
	type running struct {
		name string
		pid  int
	}
	var was []running
	for _, nf := range nodes {
		if pid, ok := nodePid(dev, nf.Name); ok {
			was = append(was, running{nf.Name, pid})
		}
	}
	if pid, ok := supervisorPid(dev); ok {
		say("stopping the devenv cluster (pid %d), which stops its nodes", pid)
		syscall.Kill(pid, syscall.SIGTERM)
		if left := waitGone([]int{pid}, wait+10*time.Second); len(left) > 0 {
			say("the devenv cluster (pid %d) did not stop within %v; stopping its nodes here", pid, wait+10*time.Second)
		}
	}
	// Whatever still runs: SIGTERM once, then SIGKILL after wait.
	var pids []int
	for _, r := range was {
		if pid, ok := nodePid(dev, r.name); ok {
			say("stopping %s (pid %d)", r.name, pid)
			syscall.Kill(pid, syscall.SIGTERM)
			pids = append(pids, pid)
		}
	}
	if left := waitGone(pids, wait); len(left) > 0 {
		say("pids %v did not stop within %v; killing them", left, wait)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if left := waitGone(left, 5*time.Second); len(left) > 0 {
			return fmt.Errorf("pids %v still run after SIGKILL", left)
		}
	}
	var stopped []string
	for _, r := range was {
		removePid(pidFile(dev, r.name), r.pid)
		stopped = append(stopped, fmt.Sprintf("%s (pid %d)", r.name, r.pid))
	}
	if len(stopped) > 0 {
		say("stopped the cluster's nodes: %s", strings.Join(stopped, ", "))
	} else {
		say("no cluster node was running")
	}
	for _, nf := range nodes {
		for _, a := range []struct{ addr, what string }{{nf.HTTPAddr, "client API"}, {nf.AdminAddr, "admin API"}} {
			if a.addr != "" && listens(a.addr) {
				say("left alone: something listens on %s, %s's %s address, which devenv did not start", a.addr, nf.Name, a.what)
			}
		}
	}
	return nil
}
