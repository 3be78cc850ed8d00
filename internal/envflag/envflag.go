// Package envflag gives every flag of a command line one environment
// variable, by one rule for all our binaries: flag --state-dir of program
// pam-agent is PAM_AGENT_STATE_DIR. Precedence is flag, then environment,
// then whatever the command reads itself (a config file), then the flag's
// default: a variable counts as if the flag had been given, so a command
// that lets given flags override its config file lets variables do so too.
//
// pflag and cobra have no environment support, and viper would take over
// the config files, whose file:line errors we keep; so this small walk over
// the command tree is ours.
package envflag

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// fromEnv annotates a flag whose value was taken from its variable.
const fromEnv = "envflag-variable"

// Name is the variable for a flag of program.
func Name(program, flag string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(program + "_" + flag))
}

// Prefix is what every variable of program starts with.
func Prefix(program string) string { return Name(program, "") }

// skipped flags are cobra's own; a variable for them would only surprise.
func skipped(f *pflag.Flag) bool { return f.Name == "help" || f.Name == "version" }

// Bind gives root's commands their variables. Call it once the tree is
// complete: it names each flag's variable in its help text and wraps each
// command's PreRunE, so the variables apply after the command line is
// parsed and before required flags are checked. A PersistentPreRunE runs
// before them and so sees the command line alone. Hidden commands
// are internal and take no variables.
func Bind(root *cobra.Command) {
	program := root.Name()
	known := map[string]bool{}
	named := map[*pflag.Flag]bool{}
	walk(root, func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			known[f.Name] = true
			if !skipped(f) && !named[f] && !c.Hidden {
				named[f] = true
				f.Usage += " (env " + Name(program, f.Name) + ")"
			}
		})
		if c.Hidden {
			return // internal: its arguments come from our own code only
		}
		pre := c.PreRunE
		c.PreRunE = func(cmd *cobra.Command, args []string) error {
			if err := apply(cmd, program, known); err != nil {
				return err
			}
			if pre != nil {
				return pre(cmd, args)
			}
			return nil
		}
	})
	if root.Long == "" {
		root.Long = root.Short
	}
	root.Long += "\n\nEvery flag can also be set in the environment: --foo-bar as " + Name(program, "foo-bar") +
		". A flag given on the command line wins over its variable, and the variable over " +
		"any configuration file; empty variables are ignored."
}

// walk calls fn on c and every command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// apply sets each flag of cmd not given on the command line from its
// variable, and refuses a variable of ours that names no flag at all, as
// the YAML loaders refuse unknown keys: a typo must not pass unnoticed.
func apply(cmd *cobra.Command, program string, known map[string]bool) error {
	if err := unknownVariables(cmd, program, known); err != nil {
		return err
	}
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err == nil && !f.Changed && !skipped(f) {
			err = fromVariable(cmd.Flags(), f, Name(program, f.Name))
		}
	})
	return err
}

// fromVariable sets f from the variable name, when that is set and not
// empty, and notes so for Source.
func fromVariable(fs *pflag.FlagSet, f *pflag.Flag, name string) error {
	value := os.Getenv(name)
	if value == "" {
		return nil
	}
	if err := fs.Set(f.Name, value); err != nil {
		var invalid *pflag.InvalidValueError
		if errors.As(err, &invalid) {
			err = invalid.Unwrap()
		}
		return &ValueError{Variable: name, Value: value, Flag: f, Err: err}
	}
	return fs.SetAnnotation(f.Name, fromEnv, []string{name})
}

func unknownVariables(cmd *cobra.Command, program string, known map[string]bool) error {
	prefix := Prefix(program)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, prefix)), "_", "-")
		if !known[flag] {
			return &UnknownError{Variable: name, Program: program, Command: cmd.CommandPath(), Accepted: variables(cmd, program)}
		}
	}
	return nil
}

// variables lists the variables cmd accepts.
func variables(cmd *cobra.Command, program string) []string {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !skipped(f) {
			names = append(names, Name(program, f.Name))
		}
	})
	slices.Sort(names)
	return names
}

// Source says where a flag's value came from, to name it in an error:
// its variable when that set it, else "--flag".
func Source(fs *pflag.FlagSet, flag string) string {
	if f := fs.Lookup(flag); f != nil {
		if v := f.Annotations[fromEnv]; len(v) == 1 {
			return v[0]
		}
	}
	return "--" + flag
}

// ValueError is a variable whose value its flag refused.
type ValueError struct {
	Variable, Value string
	Flag            *pflag.Flag
	// Err is the flag value's own complaint.
	Err error
}

func (e *ValueError) Error() string { return fmt.Sprintf("%s=%q: %v", e.Variable, e.Value, e.Err) }
func (e *ValueError) Unwrap() error { return e.Err }

// UnknownError is a variable with the program's prefix that names no flag
// of any of its commands.
type UnknownError struct {
	Variable, Program, Command string
	Accepted                   []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%s is set but names no flag of any %s command; unset it or use one that %s accepts: %s",
		e.Variable, e.Program, e.Command, strings.Join(e.Accepted, ", "))
}
