package enroll

import (
	"fmt"
	"regexp"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

var (
	labelKey   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$`)
	labelValue = regexp.MustCompile(`^[A-Za-z0-9._/:@-]{0,253}$`)
)

const maxLabels = 64

// checkLabels keeps labels to what selectors and the CLI's k=v,… syntax
// can express.
func checkLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return fmt.Errorf("%d labels given, at most %d accepted: %w", len(labels), maxLabels, errdefs.ErrInvalid)
	}
	for k, v := range labels {
		if !labelKey.MatchString(k) {
			return fmt.Errorf("label name %q is not letters, digits and ._/- (at most 63): %w", k, errdefs.ErrInvalid)
		}
		if !labelValue.MatchString(v) {
			return fmt.Errorf("label %s value %q is not letters, digits and ._/:@- (at most 253): %w", k, v, errdefs.ErrInvalid)
		}
	}
	return nil
}
