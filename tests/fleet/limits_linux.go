package fleet

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises this process's open-file limit to at least want
// (a connection per simulated host, and some), up to the hard limit, or
// past it where the process may (CAP_SYS_RESOURCE). The control plane, a
// child process, inherits the limit and holds a connection per host too.
func RaiseFileLimit(want int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open file limit: %w", err)
	}
	if lim.Cur >= uint64(want) {
		return nil
	}
	hard := lim.Max
	lim.Max = max(lim.Max, uint64(want))
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open file limit to %d past its hard limit %d (that needs CAP_SYS_RESOURCE; or simulate fewer hosts): %w", want, hard, err)
	}
	return nil
}
