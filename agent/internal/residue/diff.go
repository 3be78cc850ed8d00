package residue

import (
	"fmt"
	"sort"
)

// Diff lists what changed from before to after, by key. A log that grew
// is not a change, nor is a log that appeared (logs are created all the
// time); one removed, replaced (a new inode) or shrunk is.
func Diff(before, after State) []Change {
	var out []Change
	for key, b := range before.Items {
		a, ok := after.Items[key]
		switch {
		case !ok:
			out = append(out, Change{Category: b.Category, Change: Removed, Item: key, Before: describe(b)})
		case b.Category == Log && a.Fingerprint == b.Fingerprint && a.Size < b.Size:
			out = append(out, Change{Category: Log, Change: Truncated, Item: key, Before: describe(b), After: describe(a)})
		case b.Category == Log && a.Fingerprint != b.Fingerprint:
			out = append(out, Change{Category: Log, Change: Changed, Item: key, Before: describe(b), After: describe(a)})
		case b.Category != Log && a.Fingerprint != b.Fingerprint:
			out = append(out, Change{Category: a.Category, Change: Changed, Item: key, Before: describe(b), After: describe(a)})
		}
	}
	for key, a := range after.Items {
		if _, ok := before.Items[key]; !ok && a.Category != Log {
			out = append(out, Change{Category: a.Category, Change: Added, Item: key, After: describe(a)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return out[i].Item < out[j].Item
	})
	return out
}

func describe(it Item) string {
	if it.Category == Log {
		return fmt.Sprintf("%s size=%d", it.Fingerprint, it.Size)
	}
	return it.Fingerprint
}
