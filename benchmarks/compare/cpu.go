package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// cpuUse is the CPU time used so far by this process (the host: the farm
// and, for workestrator-go-remote, its embedded NATS server), by each
// worker, and by each agent process.
type cpuUse struct {
	machine time.Duration // busy time of every CPU of the machine, by /proc/stat
	host    time.Duration
	workers map[int]time.Duration // by pid
	agents  map[int]time.Duration // by pid
}

func (r *goRunner) cpuTimes(f *farm.Farm) cpuUse {
	u := cpuUse{machine: machineBusy(), workers: map[int]time.Duration{}, agents: map[int]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.host = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, w := range f.Stats().Workers {
		if t, ok := procCPU(w.PID); ok {
			u.workers[w.PID] = t
		}
	}
	for _, a := range r.agents {
		if t, ok := procCPU(a.pid()); ok {
			u.agents[a.pid()] = t
		}
	}
	return u
}

// procCPU returns the CPU time a process has used: the sum of its
// threads' run time from /proc/PID/task/*/schedstat (nanoseconds, where
// /proc/PID/stat counts 10 ms ticks), or, without schedstat, utime and
// stime from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	n := 0
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fs := strings.Fields(string(b))
		if len(fs) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		sum += time.Duration(ns)
		n++
	}
	if n > 0 {
		return sum, true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fs) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64) // utime, in clock ticks (100 Hz)
	st, _ := strconv.ParseInt(fs[12], 10, 64) // stime
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// machineBusy is the time the machine's CPUs have been busy (user, nice,
// system, irq, softirq), from the first line of /proc/stat, in 10 ms
// ticks; 0 if it cannot be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fs) < 8 || fs[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, _ := strconv.ParseInt(fs[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// since describes the CPU time used between u0 and u: the host's, then
// each worker's and each agent's that lived through both readings.
func (u cpuUse) since(u0 cpuUse) string {
	s := fmt.Sprintf("host %v", (u.host - u0.host).Round(time.Millisecond))
	for pid, t := range u.workers {
		if t0, ok := u0.workers[pid]; ok {
			s += fmt.Sprintf(", worker %d %v", pid, (t - t0).Round(time.Millisecond))
		}
	}
	for pid, t := range u.agents {
		if t0, ok := u0.agents[pid]; ok {
			s += fmt.Sprintf(", agent %d %v", pid, (t - t0).Round(time.Millisecond))
		}
	}
	return s
}

// workerSide is the CPU time the workers and the agents used between u0
// and u (those that lived through both readings).
func (u cpuUse) workerSide(u0 cpuUse) time.Duration {
	var d time.Duration
	for _, m := range [][2]map[int]time.Duration{{u.workers, u0.workers}, {u.agents, u0.agents}} {
		for pid, t := range m[0] {
			if t0, ok := m[1][pid]; ok {
				d += t - t0
			}
		}
	}
	return d
}

// cpuDelta is the CPU time used over an interval, or the sum of several:
// by the host, by the worker side (workers and agents), and by the whole
// machine (0 if /proc/stat cannot be read).
type cpuDelta struct{ host, work, machine time.Duration }

// minus is the CPU time used between u0 and u.
func (u cpuUse) minus(u0 cpuUse) cpuDelta {
	d := cpuDelta{host: u.host - u0.host, work: u.workerSide(u0)}
	if u.machine > 0 && u0.machine > 0 {
		d.machine = u.machine - u0.machine
	}
	return d
}

func (d cpuDelta) plus(e cpuDelta) cpuDelta {
	return cpuDelta{d.host + e.host, d.work + e.work, d.machine + e.machine}
}

// cpuRows adds, for the pinned systems, the CPU per call of the host and
// of the worker side over d, how many cores each side kept busy over el,
// and how many other work kept busy (other_cores: what the machine's CPUs
// did besides, such as another program; the rounds it disturbed show it).
func (r *goRunner) cpuRows(workload string, calls int, el time.Duration, d cpuDelta) {
	if !pinnedSystem(r.spec.System) || calls == 0 || el <= 0 {
		return
	}
	r.add(workload, "host_cpu_us_per_call", float64(d.host.Nanoseconds())/1e3/float64(calls))
	r.add(workload, "worker_cpu_us_per_call", float64(d.work.Nanoseconds())/1e3/float64(calls))
	r.add(workload, "host_cores", d.host.Seconds()/el.Seconds())
	r.add(workload, "worker_cores", d.work.Seconds()/el.Seconds())
	if d.machine > 0 {
		r.add(workload, "other_cores", max(0, (d.machine-d.host-d.work).Seconds()/el.Seconds()))
	}
}
