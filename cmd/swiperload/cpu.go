package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuGroups is the -cpu flag: named groups of processes whose CPU time a
// run reports per request, e.g. -cpu swiperd:101,102,103 -cpu postgres:201,202,
// or by command name, looked up at each sample, -cpu postgres:comm=postgres
// (so that the backends a restarted node connects to during the run count).
type cpuGroups struct {
	names []string
	pids  [][]int
	comms []string // "" for a group of fixed pids
}

func (g *cpuGroups) String() string { return "" }

func (g *cpuGroups) Set(v string) error {
	name, list, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return fmt.Errorf("want NAME:PID,PID…, not %q", v)
	}
	if comm, ok := strings.CutPrefix(list, "comm="); ok {
		if comm == "" {
			return fmt.Errorf("%q: comm= needs a command name", v)
		}
		g.names, g.pids, g.comms = append(g.names, name), append(g.pids, nil), append(g.comms, comm)
		return nil
	}
	var pids []int
	for _, f := range strings.Split(list, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q: not a pid", f)
		}
		pids = append(pids, pid)
	}
	g.names, g.pids, g.comms = append(g.names, name), append(g.pids, pids), append(g.comms, "")
	return nil
}

// byComm returns the processes whose command name is comm. One that starts
// after a sample counts in full at the next (it ran only since); one that
// ends between samples loses its time.
func byComm(comm string) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(raw)) == comm {
			pids = append(pids, pid)
		}
	}
	return pids
}

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTick = 10 * time.Millisecond

// sample returns each group's CPU time so far: user + system time from
// /proc/<pid>/stat, summed over its processes (one that is gone counts 0).
func (g *cpuGroups) sample() []time.Duration {
	out := make([]time.Duration, len(g.pids))
	for i, pids := range g.pids {
		if g.comms[i] != "" {
			pids = byComm(g.comms[i])
		}
		for _, pid := range pids {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			// The command name (field 2) may hold spaces; fields after it
			// start at state (3): utime and stime are fields 14 and 15.
			_, rest, _ := strings.Cut(string(raw), ") ")
			f := strings.Fields(rest)
			if len(f) < 13 {
				continue
			}
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			out[i] += time.Duration(ut+st) * clockTick
		}
	}
	return out
}

// report prints each group's CPU time between before and now, per one of n.
func (g *cpuGroups) report(before []time.Duration, n int, what string) {
	if len(g.names) == 0 || n == 0 {
		return
	}
	after := g.sample()
	var parts []string
	var total time.Duration
	for i, name := range g.names {
		d := after[i] - before[i]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.1fs = %.0f µs", name, d.Seconds(), float64(d.Microseconds())/float64(n)))
	}
	fmt.Printf("CPU per %s: %s; together %.0f µs\n", what, strings.Join(parts, ", "), float64(total.Microseconds())/float64(n))
}
