package agentcmd

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/daemon"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/internal/envflag"
	"github.com/zpam/zpam/internal/logging"
)

// runFlags are run's flags; each overrides the same key of agent.yaml, and
// so does its variable (PAM_AGENT_SERVER for --server).
type runFlags struct {
	configPath string
	c          config.Config
}

// flagFields pairs each overriding flag with its agent.yaml key.
var flagFields = map[string]string{
	"server": "server", "join-token": "join_token", "ca": "ca", "state-dir": "state_dir",
	"socket": "socket", "mode": "mode", "labels": "labels", "pin-dir": "pin_dir", "metrics-listen": "metrics_listen",
}

func newRunCommand(version string) *cobra.Command {
	return (&runFlags{}).command(version)
}

func (f *runFlags) command(version string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Enroll on first start, then enforce grants until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return run(cmd, f, version) },
	}
	f.register(cmd.Flags())
	return cmd
}

// register defines the flags on fl; check takes the same ones, so that it
// validates what run with those flags would use.
func (f *runFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.configPath, "config", config.DefaultPath, "agent config file (optional unless given)")
	fl.Var(serversValue{&f.c.Server}, "server", "control plane address HOST:PORT, or several replicas cp-a:7443,cp-b:7443 tried in order")
	fl.StringVar(&f.c.JoinToken, "join-token", "", "join token for the first enrollment")
	fl.StringVar(&f.c.CA, "ca", "", "CA certificate file to verify the control plane with, instead of the token's fingerprint")
	fl.StringVar(&f.c.StateDir, "state-dir", config.DefaultStateDir, "where the host identity is kept")
	fl.StringVar(&f.c.Socket, "socket", config.DefaultSocket, "local API socket for pamctl")
	fl.Var(modeValue{&f.c.Mode}, "mode", "enforcement mode: auto, lsm, signal or audit (default auto)")
	fl.Var(labelsValue{&f.c.Labels}, "labels", "host labels to ask for at enrollment, k=v,…")
	fl.StringVar(&f.c.PinDir, "pin-dir", kernel.DefaultPinDir, "bpffs directory for the pinned programs and maps")
	fl.StringVar(&f.c.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on HOST:PORT (off by default)")
}

func run(cmd *cobra.Command, f *runFlags, version string) error {
	cfg, err := loadConfig(cmd.Flags(), f)
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr)
	d := daemon.New(daemon.Options{Config: cfg, Version: version, Log: log})
	ctx := cmd.Context()
	if err := d.Start(ctx); err != nil {
		return cli.Exit(cli.ExitFailure, "start: %v", err)
	}
	<-ctx.Done()
	log.Info("signal received; shutting down")
	if err := d.Close(); err != nil {
		return cli.Exit(cli.ExitFailure, "shut down: %v", err)
	}
	return nil
}

// loadConfig reads agent.yaml, lets the flags given override it, and
// validates the result once. Bad values are usage errors.
func loadConfig(fs *pflag.FlagSet, f *runFlags) (*config.Config, error) {
	namedBy := ""
	if fs.Changed("config") {
		namedBy = envflag.Source(fs, "config")
	}
	file, err := config.Load(f.configPath, namedBy)
	if err != nil {
		return nil, cli.Usage("%v", err)
	}
	c := file.Config
	set := func(flag string, apply func()) {
		if fs.Changed(flag) {
			apply()
			file.SetByFlag(flagFields[flag], envflag.Source(fs, flag))
		}
	}
	set("server", func() { c.Server = f.c.Server })
	set("join-token", func() { c.JoinToken = f.c.JoinToken })
	set("ca", func() { c.CA = f.c.CA })
	set("state-dir", func() { c.StateDir = f.c.StateDir })
	set("socket", func() { c.Socket = f.c.Socket })
	set("mode", func() { c.Mode = f.c.Mode })
	set("labels", func() { c.Labels = f.c.Labels })
	set("pin-dir", func() { c.PinDir = f.c.PinDir })
	set("metrics-listen", func() { c.MetricsListen = f.c.MetricsListen })
	if err := file.Check(); err != nil {
		return nil, cli.Usage("%v", err)
	}
	return c, nil
}
