package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// bootNow reads CLOCK_BOOTTIME, the clock the BPF programs compare grant
// deadlines against (bpf_ktime_get_boot_ns).
func bootNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		// CLOCK_BOOTTIME exists on every kernel that can load our programs.
		panic("clock_gettime(CLOCK_BOOTTIME): " + err.Error())
	}
	return time.Duration(ts.Nano())
}

// deadlineFor converts a wall-clock expiry into a boot-clock deadline once,
// at write time; afterwards wall-clock jumps cannot move it.
func deadlineFor(expiresAt time.Time) uint64 {
	left := time.Until(expiresAt)
	if left < 0 {
		left = 0
	}
	return uint64(bootNow() + left)
}

// wallFromBoot maps a boot-clock instant back to wall time for display.
func wallFromBoot(bootNs uint64) time.Time {
	return time.Now().Add(time.Duration(bootNs) - bootNow())
}
