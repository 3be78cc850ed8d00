package requests

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

// Limits on what an agent may send; they bound storage per request.
const (
	maxReasonBytes  = 1024
	maxCommands     = 32
	maxCommandBytes = 4096
	maxCommentBytes = 1024
)

// userName follows what useradd accepts; "*" and "@" can never be a name,
// which keeps policy wildcards and groups unambiguous.
var userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$`)

func (e Elevation) validate() error {
	if e.HostID == "" {
		return fmt.Errorf("host is missing: %w", errdefs.ErrInvalid)
	}
	if !userName.MatchString(e.User) {
		return fmt.Errorf("user %q is not a unix user name: %w", e.User, errdefs.ErrInvalid)
	}
	if err := checkText("reason", e.Reason, maxReasonBytes); err != nil {
		return err
	}
	if len(e.Commands) > maxCommands {
		return fmt.Errorf("%d commands given, at most %d accepted: %w", len(e.Commands), maxCommands, errdefs.ErrInvalid)
	}
	for _, c := range e.Commands {
		if !strings.HasPrefix(c, "/") || len(c) > maxCommandBytes {
			return fmt.Errorf("command %q is not an absolute path: %w", c, errdefs.ErrInvalid)
		}
	}
	return nil
}

func checkText(field, s string, limit int) error {
	if len(s) > limit || !utf8.ValidString(s) {
		return fmt.Errorf("%s must be UTF-8 text of at most %d bytes: %w", field, limit, errdefs.ErrInvalid)
	}
	return nil
}
