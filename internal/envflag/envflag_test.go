package envflag

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// tree is a two-level program like ours: a persistent flag on the root and
// local flags on subcommands, one of them defined by two commands.
type tree struct {
	root          *cobra.Command
	socket, state string
	wait          time.Duration
	seenState     string // --state-dir as the command's own PreRunE saw it
	sources       map[string]string
}

func newTree() *tree {
	tr := &tree{}
	tr.root = &cobra.Command{Use: "pam-test", Short: "a test program", SilenceErrors: true, SilenceUsage: true}
	tr.root.PersistentFlags().StringVar(&tr.socket, "socket", "/run/default.sock", "the socket")
	run := &cobra.Command{
		Use: "run",
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			tr.seenState = tr.state
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			tr.sources = map[string]string{}
			for _, f := range []string{"socket", "state-dir", "wait"} {
				tr.sources[f] = Source(cmd.Flags(), f)
			}
			return nil
		},
	}
	run.Flags().StringVar(&tr.state, "state-dir", "/var/lib/default", "state")
	run.Flags().DurationVar(&tr.wait, "wait", time.Second, "how long")
	other := &cobra.Command{Use: "other", RunE: func(*cobra.Command, []string) error { return nil }}
	other.Flags().String("state-dir", "", "another command's flag of the same name")
	other.Flags().String("only-here", "", "a flag run does not have")
	hidden := &cobra.Command{Use: "helper", Hidden: true, RunE: func(cmd *cobra.Command, _ []string) error {
		tr.sources = map[string]string{"uid": cmd.Flag("uid").Value.String()}
		return nil
	}}
	hidden.Flags().String("uid", "0", "internal")
	tr.root.AddCommand(run, other, hidden)
	Bind(tr.root)
	return tr
}

func (tr *tree) execute(args ...string) error {
	tr.root.SetArgs(args)
	tr.root.SetOut(&bytes.Buffer{})
	return tr.root.Execute()
}

func TestName(t *testing.T) {
	cases := map[[2]string]string{
		{"pam-agent", "state-dir"}:       "PAM_AGENT_STATE_DIR",
		{"pamctl", "socket"}:             "PAMCTL_SOCKET",
		{"pam-controlplane", "data-dir"}: "PAM_CONTROLPLANE_DATA_DIR",
	}
	for in, want := range cases {
		if got := Name(in[0], in[1]); got != want {
			t.Errorf("Name(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// TestPrecedence: a flag on the command line beats its variable, a
// variable beats the default, and the command's own PreRunE and RunE see
// the result, with Source naming where each value came from.
func TestPrecedence(t *testing.T) {
	t.Setenv("PAM_TEST_SOCKET", "/run/env.sock")
	t.Setenv("PAM_TEST_STATE_DIR", "/var/lib/env")
	t.Setenv("PAM_TEST_WAIT", "")
	tr := newTree()
	if err := tr.execute("run", "--state-dir", "/var/lib/flag"); err != nil {
		t.Fatal(err)
	}
	if tr.socket != "/run/env.sock" || tr.state != "/var/lib/flag" || tr.wait != time.Second {
		t.Errorf("socket %q, state-dir %q, wait %v; want the variable's socket, the flag's state-dir, the default wait (empty variable ignored)",
			tr.socket, tr.state, tr.wait)
	}
	if tr.seenState != "/var/lib/flag" {
		t.Errorf("the command's own PreRunE saw --state-dir %q; want it to run after the variables applied", tr.seenState)
	}
	want := map[string]string{"socket": "PAM_TEST_SOCKET", "state-dir": "--state-dir", "wait": "--wait"}
	for f, w := range want {
		if tr.sources[f] != w {
			t.Errorf("Source(%s) = %q, want %q", f, tr.sources[f], w)
		}
	}
}

func TestBadValueNamesTheVariable(t *testing.T) {
	t.Setenv("PAM_TEST_WAIT", "soon")
	err := newTree().execute("run")
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Variable != "PAM_TEST_WAIT" || ve.Value != "soon" || ve.Flag.Name != "wait" {
		t.Fatalf("error = %v, want a ValueError for PAM_TEST_WAIT=soon", err)
	}
	// The same value on the command line is the flag's error, not ours.
	t.Setenv("PAM_TEST_WAIT", "")
	if err := newTree().execute("run", "--wait", "soon"); err == nil || errors.As(err, &ve) {
		t.Fatalf("--wait soon: error = %v, want pflag's own", err)
	}
}

// TestUnknownVariable: a variable of ours that no command has a flag for
// is refused; one that belongs to another command is not.
func TestUnknownVariable(t *testing.T) {
	t.Setenv("PAM_TEST_ONLY_HERE", "x")
	if err := newTree().execute("run"); err != nil {
		t.Fatalf("a variable of another command's flag: %v, want it ignored", err)
	}
	t.Setenv("PAM_TEST_STAT_DIR", "/typo")
	err := newTree().execute("run")
	var ue *UnknownError
	if !errors.As(err, &ue) || ue.Variable != "PAM_TEST_STAT_DIR" {
		t.Fatalf("error = %v, want an UnknownError for PAM_TEST_STAT_DIR", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "PAM_TEST_STATE_DIR") || !strings.Contains(msg, "pam-test run accepts") {
		t.Errorf("message %q does not list what pam-test run accepts", msg)
	}
}

func TestHelpNamesTheVariables(t *testing.T) {
	tr := newTree()
	var out bytes.Buffer
	tr.root.SetOut(&out)
	tr.root.SetArgs([]string{"run", "--help"})
	if err := tr.root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"state (env PAM_TEST_STATE_DIR)", "the socket (env PAM_TEST_SOCKET)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "PAM_TEST_HELP") {
		t.Errorf("--help got a variable:\n%s", out.String())
	}
	if !strings.Contains(tr.root.Long, "--foo-bar as PAM_TEST_FOO_BAR") {
		t.Errorf("root help does not state the rule: %q", tr.root.Long)
	}
	var other bytes.Buffer
	tr.root.SetOut(&other)
	tr.root.SetArgs([]string{"other", "--help"})
	if err := tr.root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(other.String(), "same name (env PAM_TEST_STATE_DIR)") {
		t.Errorf("a second flag of the same name is not annotated:\n%s", other.String())
	}
}

// TestHiddenCommandsTakeNoVariables: an internal command's flags come from
// the command line only, yet its variable is no typo for other commands.
func TestHiddenCommandsTakeNoVariables(t *testing.T) {
	t.Setenv("PAM_TEST_UID", "1000")
	tr := newTree()
	if err := tr.execute("helper"); err != nil || tr.sources["uid"] != "0" {
		t.Fatalf("hidden command: %v, --uid %q; want the default, not the variable", err, tr.sources["uid"])
	}
	if err := tr.execute("run"); err != nil {
		t.Fatalf("run with PAM_TEST_UID set: %v", err)
	}
}
