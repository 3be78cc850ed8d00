// Package cli holds what pam-agent's and pamctl's commands share: exit
// codes, and turning cobra errors into one sentence and a code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zpam/zpam/internal/envflag"
)

// Exit codes of CONTRACT.md.
const (
	ExitOK = 0
	// ExitFailure is a runtime failure; for pamctl elevate, a denial.
	ExitFailure = 1
	ExitUsage   = 2
	// ExitAuditOnly: pam-agent check found that only audit mode works.
	ExitAuditOnly = 3
	// ExitGaveUp: pamctl stopped waiting for approval.
	ExitGaveUp = 4
	// ExitUnreachable: the agent or the control plane cannot be reached.
	ExitUnreachable = 5
)

// ExitError ends a command with Code; Err, when set, is printed as the
// one-sentence reason.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit makes an ExitError with a formatted reason.
func Exit(code int, format string, args ...any) *ExitError {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// Usage is a usage error: exit 2.
func Usage(format string, args ...any) *ExitError { return Exit(ExitUsage, format, args...) }

// FlagUsage is a usage error about the value of one of cmd's flags that
// a command checked itself: the sentence starts with where that value
// came from, --flag or the environment variable that set it, and goes on
// with the formatted rest ("%q is not …").
func FlagUsage(cmd *cobra.Command, flag, format string, args ...any) *ExitError {
	return Usage("%s %s", envflag.Source(cmd.Flags(), flag), fmt.Sprintf(format, args...))
}

// Execute runs root with args and returns the exit code. Errors go to
// stderr as "<name>: <sentence>". Every error our commands return is an
// ExitError; a bad environment variable is a usage error, and so is
// anything else, which comes from cobra before our code ran (unknown
// command, bad argument).
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetFlagErrorFunc(flagError)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	ee := exitError(root, err)
	if ee.Err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", root.Name(), ee.Err)
	}
	return ee.Code
}

// exitError is the one table from errors to exit codes.
func exitError(root *cobra.Command, err error) *ExitError {
	var ee *ExitError
	var bad *envflag.ValueError
	var unknown *envflag.UnknownError
	switch {
	case errors.As(err, &ee):
		return ee
	case errors.As(err, &bad):
		return Usage("%s %q %s", bad.Variable, bad.Value, expected(bad.Flag, bad.Err))
	case errors.As(err, &unknown):
		return Usage("%v", unknown)
	}
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s; see '%s --help'", firstLine(err.Error()), root.Name())}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// flagError rewrites pflag's errors as one sentence naming the bad value.
func flagError(cmd *cobra.Command, err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		return Usage("--%s %q %s", f.Name, invalid.GetValue(), expected(f, invalid.Unwrap()))
	}
	return Usage("%s; see '%s --help'", err, cmd.CommandPath())
}

// expected says what a flag accepts. Custom flag values phrase their own
// errors as the rest of the sentence.
func expected(f *pflag.Flag, cause error) string {
	switch f.Value.Type() {
	case "duration":
		return "is not a duration like 90s, 15m or 1h"
	case "bool":
		return "is not true or false"
	case "int", "int32", "int64", "uint", "uint32":
		return "is not a whole number"
	}
	return cause.Error()
}
