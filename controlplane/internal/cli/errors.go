package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/internal/envflag"
)

// Exit codes (CONTRACT.md): 2 for usage errors.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// runError marks an error that happened while doing the work, as opposed
// to cobra's parsing errors, which are all usage errors.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// usageError is a bad value noticed by a command itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is the one table from errors to exit codes.
func exitCode(err error) int {
	var run *runError
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage), errors.Is(err, errdefs.ErrInvalid):
		return exitUsage
	case errors.As(err, &run):
		return exitFailure
	}
	return exitUsage
}

// run wraps a command body so its errors count as failures, not usage.
func run(fn func() error) error {
	if err := fn(); err != nil {
		var usage *usageError
		if errors.As(err, &usage) {
			return err
		}
		return &runError{err: err}
	}
	return nil
}

// envError rewrites a bad environment variable as a usage error naming it,
// in the words flagError uses for the flag.
func envError(err error) error {
	var bad *envflag.ValueError
	var unknown *envflag.UnknownError
	switch {
	case errors.As(err, &bad):
		return usagef("%s: %v", bad.Variable, bad.Err)
	case errors.As(err, &unknown):
		return usagef("%v", unknown)
	}
	return err
}

// flagError rewrites pflag's messages into one sentence naming the bad
// value and what would be accepted.
func flagError(cmdPath string, err error) error {
	var notExist *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	var needsValue *pflag.ValueRequiredError
	switch {
	case errors.As(err, &notExist):
		return usagef("unknown flag %q for %s; run \"%s --help\" for the accepted flags", "--"+notExist.GetSpecifiedName(), cmdPath, cmdPath)
	case errors.As(err, &invalid):
		return usagef("--%s: %v", invalid.GetFlag().Name, errors.Unwrap(invalid))
	case errors.As(err, &needsValue):
		return usagef("--%s needs a value; run \"%s --help\" for its form", needsValue.GetFlag().Name, cmdPath)
	}
	return usagef("%v; run \"%s --help\" for usage", err, cmdPath)
}
