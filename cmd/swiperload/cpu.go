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
// (so that the backends a restarted node connects to during the run count),
// or by a part of the command line, -cpu pg:cmdline=bench14 (PostgreSQL
// shows each backend's database there: on a machine that runs other
// databases' work too, the backends of the run's own).
type cpuGroups struct {
	names []string
	pids  [][]int
	comms []string // "" for a group of fixed pids
	lines []string // a group by command line instead: what it holds
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
		g.names, g.pids, g.comms, g.lines = append(g.names, name), append(g.pids, nil), append(g.comms, comm), append(g.lines, "")
		return nil
	}
	if line, ok := strings.CutPrefix(list, "cmdline="); ok {
		if line == "" {
			return fmt.Errorf("%q: cmdline= needs text to look for", v)
		}
		g.names, g.pids, g.comms, g.lines = append(g.names, name), append(g.pids, nil), append(g.comms, ""), append(g.lines, line)
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
	g.names, g.pids, g.comms, g.lines = append(g.names, name), append(g.pids, pids), append(g.comms, ""), append(g.lines, "")
	return nil
}

// byComm returns the processes whose command name is comm. One that starts
// after a sample counts in full at the next (it ran only since); one that
// ends between samples loses its time.
func byComm(comm string) []int {
	return procs(func(pid int) bool {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return err == nil && strings.TrimSpace(string(raw)) == comm
	})
}

// byCmdline returns the processes whose command line holds part, as
// byComm does (a process that rewrites its title, as PostgreSQL's do, is
// looked for in the title; swiperload itself may be one).
func byCmdline(part string) []int {
	return procs(func(pid int) bool {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && strings.Contains(strings.ReplaceAll(string(raw), "\x00", " "), part)
	})
}

func procs(match func(pid int) bool) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil && match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTick = 10 * time.Millisecond

// cpuSample is each group's processes' CPU time so far, by pid.
type cpuSample []map[int]time.Duration

// sample returns each group's CPU time so far: user + system time from
// /proc/<pid>/stat of each of its processes.
func (g *cpuGroups) sample() cpuSample {
	out := make(cpuSample, len(g.pids))
	for i, pids := range g.pids {
		switch {
		case g.comms[i] != "":
			pids = byComm(g.comms[i])
		case g.lines[i] != "":
			pids = byCmdline(g.lines[i])
		}
		out[i] = map[int]time.Duration{}
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
			out[i][pid] = time.Duration(ut+st) * clockTick
		}
	}
	return out
}

// since returns group i's CPU time from before to s: each process's time
// since before, in full for one that started since; one that ended
// between the two loses its time (it is no longer there to read) rather
// than subtracting it.
func (s cpuSample) since(before cpuSample, i int) time.Duration {
	var d time.Duration
	for pid, t := range s[i] {
		d += t - before[i][pid]
	}
	return d
}

// report prints each group's CPU time between before and now, per one of n.
func (g *cpuGroups) report(before cpuSample, n int, what string) {
	if len(g.names) == 0 || n == 0 {
		return
	}
	after := g.sample()
	var parts []string
	var total time.Duration
	for i, name := range g.names {
		d := after.since(before, i)
		total += d
		parts = append(parts, fmt.Sprintf("%s %.1fs = %.0f µs", name, d.Seconds(), float64(d.Microseconds())/float64(n)))
	}
	fmt.Printf("CPU per %s: %s; together %.0f µs\n", what, strings.Join(parts, ", "), float64(total.Microseconds())/float64(n))
}
