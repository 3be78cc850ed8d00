package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// durationValue is a pflag.Value whose error names the accepted form.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration like 90s, 30m or 1h", s)
	}
	*v.d = d
	return nil
}

func (durationValue) Type() string { return "duration" }

// labelsValue parses "k=v,k2=v2".
type labelsValue struct{ m *map[string]string }

func (v labelsValue) String() string {
	if v.m == nil || len(*v.m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(*v.m))
	for k, val := range *v.m {
		parts = append(parts, k+"="+val)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (v labelsValue) Set(s string) error {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value; expected a list like env=prod,role=db", item)
		}
		out[k] = val
	}
	*v.m = out
	return nil
}

func (labelsValue) Type() string { return "k=v,..." }

// listValue parses "a,b,c".
type listValue struct{ l *[]string }

func (v listValue) String() string {
	if v.l == nil {
		return ""
	}
	return strings.Join(*v.l, ",")
}

func (v listValue) Set(s string) error {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			return fmt.Errorf("%q has an empty item; expected a list like ops,sec-leads", s)
		}
		out = append(out, item)
	}
	*v.l = out
	return nil
}

func (listValue) Type() string { return "a,b,..." }

// retentionValue is a duration where 0 means forever.
type retentionValue struct{ d *time.Duration }

func (v retentionValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v retentionValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration like 720h, or 0 to keep events forever", s)
	}
	*v.d = d
	return nil
}

func (retentionValue) Type() string { return "duration" }
