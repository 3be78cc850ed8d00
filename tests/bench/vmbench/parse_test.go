package main

import (
	"math"
	"testing"
)

const sample = `goos: linux
BenchmarkRootExec/true/baseline/0-1         	     300	   1000000 ns/op
BenchmarkRootExec/true/lsm/0-1              	     300	   1010000 ns/op
BenchmarkRootExec/true/baseline/1-1         	     300	   2000000 ns/op
BenchmarkRootExec/true/lsm/1-1              	     300	   2040000 ns/op
BenchmarkRootExec/true/baseline/2           	     300	   1000000 ns/op
BenchmarkRootExec/true/lsm/2                	     300	    990000 ns/op
BenchmarkRootExec/setuid-granted/baseline/0-1 	     300	   3000000 ns/op
BenchmarkRootExec/setuid-granted/lsm/0-1      	     300	   3300000 ns/op	      2500 exec-hook-ns/exec	      3000 hook-ns/exec	       400 tree-ns/run
PASS`

func TestCompareUsesPerPairRatios(t *testing.T) {
	got, err := compare(parseRounds(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Workload != "true" || got[1].Workload != "setuid-granted" {
		t.Fatalf("workloads %+v; want true then setuid-granted", got)
	}
	tr := got[0]
	// Pairs: +1 %, +2 %, -1 %: median +1 %, even though pair 1 ran at
	// half the machine's speed.
	if tr.Pairs != 3 || math.Abs(tr.MedianPct-1) > 1e-9 || math.Abs(tr.MinPct+1) > 1e-9 || math.Abs(tr.MaxPct-2) > 1e-9 {
		t.Fatalf("true: %+v; want 3 pairs, median +1 %%, range -1..+2 %%", tr)
	}
	if tr.Mode != "lsm" || math.Abs(got[1].MedianPct-10) > 1e-9 {
		t.Fatalf("setuid-granted: %+v; want lsm, +10 %%", got[1])
	}
	if math.Abs(got[1].HookNS-3000) > 1e-9 || math.Abs(got[1].HookPct-0.1) > 1e-9 {
		t.Fatalf("setuid-granted hook: %+v; want 3000 ns, 0.1 %% of a 3 ms exec", got[1])
	}
}

func TestCompareWithoutPairsFails(t *testing.T) {
	if _, err := compare(parseRounds("PASS")); err == nil {
		t.Fatal("compare accepted output with no rounds")
	}
}
