package policy

import (
	"testing"
	"time"
)

func TestHoursAcrossTimeZones(t *testing.T) {
	h, err := ParseHours("Mon-Fri 07:00-20:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		utc  string
		want bool
	}{
		{"2025-01-06T06:30:00Z", true},  // Mon 07:30 in Berlin (UTC+1)
		{"2025-01-06T05:59:00Z", false}, // Mon 06:59 Berlin
		{"2025-07-07T05:30:00Z", true},  // Mon 07:30 Berlin (summer, UTC+2)
		{"2025-07-07T04:59:00Z", false}, // Mon 06:59 Berlin summer
		{"2025-01-10T18:59:00Z", true},  // Fri 19:59 Berlin
		{"2025-01-10T19:00:00Z", false}, // Fri 20:00 Berlin: end excluded
		{"2025-01-05T23:30:00Z", false}, // Sun 23:30 UTC is Mon 00:30 Berlin: before 07:00
		{"2025-01-11T06:30:00Z", false}, // Sat 07:30 Berlin: not a weekday
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.utc)
		if got := h.Contains(at); got != c.want {
			t.Errorf("%s: got %v, want %v", c.utc, got, c.want)
		}
	}
}

func TestHoursDayBoundaryInZone(t *testing.T) {
	// Saturday 01:00 in Tokyo is still Friday 16:00 UTC: the zone decides the day.
	h, err := ParseHours("Sat 00:00-24:00 Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 10, 16, 0, 0, 0, time.UTC) // Friday UTC
	if !h.Contains(at) {
		t.Fatal("Friday 16:00 UTC is Saturday in Tokyo and must be inside")
	}
	if h.Contains(at.Add(-2 * time.Hour)) {
		t.Fatal("Friday 14:00 UTC is Friday 23:00 in Tokyo and must be outside")
	}
}

func TestHoursOvernightAndLists(t *testing.T) {
	h, err := ParseHours("Fri,Sat 22:00-06:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	sat3am := time.Date(2025, 1, 11, 3, 0, 0, 0, time.UTC)
	mon3am := time.Date(2025, 1, 13, 3, 0, 0, 0, time.UTC)
	if !h.Contains(sat3am) || h.Contains(mon3am) {
		t.Fatal("overnight window must belong to the day it starts")
	}
	every, err := ParseHours("09:00-17:00 UTC")
	if err != nil || !every.Contains(time.Date(2025, 1, 12, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("days omitted must mean every day: %v", err)
	}
	for _, bad := range []string{"Mon-Fri 07:00-20:00", "Mon 07:00-07:00 UTC", "Mon 7-8 UTC", "Mon 07:00-20:00 Local"} {
		if _, err := ParseHours(bad); err == nil {
			t.Errorf("%q must be rejected", bad)
		}
	}
}
