package shell

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procRoot is where /proc is mounted.
const procRoot = "/proc"

// sessionPIDs lists the processes whose audit session is id.
func sessionPIDs(id uint32) []int {
	dirs, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*", "sessionid"))
	want := strconv.FormatUint(uint64(id), 10)
	var pids []int
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != want {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func signalSession(id uint32, sig syscall.Signal) {
	if id == 0 || id == ^uint32(0) {
		return // never "no session": that is most of the system
	}
	for _, pid := range sessionPIDs(id) {
		_ = syscall.Kill(pid, sig)
	}
}
