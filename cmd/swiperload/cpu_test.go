package main

import (
	"testing"
	"time"
)

// TestCPUSince: a process's time counts from the first sample, one that
// started since counts in full, and one that ended between the samples
// counts nothing rather than taking its earlier time off the group.
func TestCPUSince(t *testing.T) {
	before := cpuSample{{1: 10 * time.Second, 2: 3 * time.Second}}
	after := cpuSample{{1: 12 * time.Second, 3: time.Second}} // 2 ended, 3 started
	if d := after.since(before, 0); d != 3*time.Second {
		t.Errorf("since: %v; want 3s (2s of process 1, 1s of process 3)", d)
	}
}

func TestCPUGroupsSet(t *testing.T) {
	var g cpuGroups
	for _, v := range []string{"swiperd:12,13", "pg:comm=postgres", "mine:cmdline=postgres bench14"} {
		if err := g.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if g.pids[0][1] != 13 || g.comms[1] != "postgres" || g.lines[2] != "postgres bench14" || g.lines[0] != "" || g.comms[2] != "" {
		t.Errorf("groups: %+v", g)
	}
	for _, v := range []string{"nopids", "x:cmdline=", "x:comm=", "x:1,a"} {
		if err := g.Set(v); err == nil {
			t.Errorf("Set(%q) took it", v)
		}
	}
}
