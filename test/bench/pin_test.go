package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// cores is how -bench.pin splits the machine's cores: the gateway (and
// replicas) on the last one, the harness, the S3 server and the clients on
// the others.
type cores struct{ gateway, rest []int }

func splitCores(n int) (cores, error) {
	if n < 2 {
		return cores{}, fmt.Errorf("-bench.pin needs at least 2 CPUs, this machine has %d", n)
	}
	var c cores
	for i := range n - 1 {
		c.rest = append(c.rest, i)
	}
	c.gateway = []int{n - 1}
	return c, nil
}

// pinProcess sets the CPU affinity of every thread of process pid (0: this
// one) to cpus. Threads and processes started afterwards inherit it from
// the thread that starts them; the threads are set twice, so that those
// started during the first pass are caught.
func pinProcess(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	dir := "/proc/self/task"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/task", pid)
	}
	for range 2 {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d of %s to CPUs %v: %w", tid, dir, cpus, err)
			}
		}
	}
	return nil
}

// pinned returns the CPUs thread tid may run on.
func pinned(tid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for c := range runtime.NumCPU() {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// pinRig, under -bench.pin, moves the gateway's processes (and the
// replicas') to their core; the harness is pinned to the rest before the S3
// server starts (TestWorkloads).
func pinRig(t testing.TB, r *rig, c cores) {
	t.Helper()
	for _, g := range []*gateway{r.gw, r.replicas} {
		if g == nil {
			continue
		}
		for _, pid := range g.pids {
			if err := pinProcess(pid, c.gateway); err != nil {
				t.Fatal(err)
			}
		}
	}
}
