package harness

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// utime 120 and stime 30 ticks; the name has a space and a ')'.
	stat := "4242 (pam agent) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 120 30 0 0 20 0 9 0 100 1000 200 18446744073709551615\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1500 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v; want %v", got, want)
	}
}

func TestParseStatCPURejectsGarbage(t *testing.T) {
	for _, stat := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b c"} {
		if _, err := parseStatCPU(stat); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded; want an error", stat)
		}
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Fatalf("read this process's CPU time: %v", err)
	}
}
