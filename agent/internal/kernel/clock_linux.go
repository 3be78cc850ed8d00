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

// bootClock maps boot-clock instants to wall time like wallFromBoot, but
// reads the clocks once a second instead of once per call: x/sys reads
// CLOCK_BOOTTIME with a real syscall, which per exec record would cost
// more than the rest of its decoding.
type bootClock struct {
	offset time.Duration // wall − boot, as last read
	read   time.Time
}

func (c *bootClock) wall(bootNs uint64) time.Time {
	if now := time.Now(); now.Sub(c.read) > time.Second || now.Before(c.read) {
		c.offset = time.Duration(now.UnixNano()) - bootNow()
		c.read = now
	}
	return time.Unix(0, int64(c.offset)+int64(bootNs))
}
