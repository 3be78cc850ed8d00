package config

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	labelKeyRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?$`)
	labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$`)
)

// ParseLabels reads "k=v,k2=v2" as given to --labels.
func ParseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("label %q is not key=value", pair)
		}
		if err := checkLabel(k, v); err != nil {
			return nil, err
		}
		labels[k] = v
	}
	return labels, nil
}

func checkLabel(k, v string) error {
	if !labelKeyRE.MatchString(k) {
		return fmt.Errorf("label key %q is not 1-63 letters, digits, '-', '_', '.' or '/'", k)
	}
	if !labelValueRE.MatchString(v) {
		return fmt.Errorf("label value %q of %q is not up to 63 letters, digits, '-', '_' or '.'", v, k)
	}
	return nil
}
