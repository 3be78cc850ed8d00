package localapi

import "testing"

func TestParseStatSurvivesOddCommandNames(t *testing.T) {
	stat := "4242 (a) b (c) S 4200 4242 4242 34819 4242 4194304 0 0 0 0"
	ppid, tty, err := parseStat(stat)
	if err != nil || ppid != 4200 || tty != 34819 {
		t.Fatalf("parseStat = %d, %d, %v; want 4200, 34819", ppid, tty, err)
	}
	if _, _, err := parseStat("4242 (trunc"); err == nil {
		t.Fatal("malformed stat accepted")
	}
}

func TestTTYName(t *testing.T) {
	cases := map[uint32]string{
		34819:          "pts/3",   // major 136, minor 3
		136<<8 | 1<<20: "pts/256", // minor 256 lives in the high bits
		137<<8 | 5:     "pts/261",
		4<<8 | 1:       "tty1",
		4<<8 | 64:      "ttyS0",
		0:              "",
		5<<8 | 1:       "", // /dev/console: not a login terminal
	}
	for nr, want := range cases {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}
