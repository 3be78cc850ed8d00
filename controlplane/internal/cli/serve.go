package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/server"
	"github.com/zpam/zpam/internal/envflag"
	"github.com/zpam/zpam/internal/logging"
)

func newServe(e *env) *cobra.Command {
	var cfg config.Serve
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the agent and admin gRPC APIs (mTLS), the web console, /healthz and /metrics",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.CheckAndSetDefaults(); err != nil {
				return usageOr(cmd, err)
			}
			return run(func() error { return serve(cmd.Context(), e, cfg) })
		},
	}
	addDataDir(cmd, &cfg.DataDir)
	cmd.Flags().StringVar(&cfg.Listen, "listen", config.DefaultListen, "gRPC (mTLS) address HOST:PORT")
	cmd.Flags().StringVar(&cfg.HTTP, "http", config.DefaultHTTP, "HTTP address of the web console, /healthz and /metrics; loopback unless --http-tls")
	cmd.Flags().BoolVar(&cfg.HTTPTLS, "http-tls", false, "serve --http over TLS with the control plane's server certificate (needed beyond loopback)")
	addDatabase(cmd, &cfg.DatabaseURL)
	cmd.Flags().Var(durationValue{&cfg.HostCertTTL}, "host-cert-ttl", "validity of host certificates; agents renew at 2/3 of it (default 24h)")
	addTelemetryFlags(cmd, &cfg)
	return cmd
}

func addTelemetryFlags(cmd *cobra.Command, cfg *config.Serve) {
	cfg.Retention = config.DefaultRetention
	fl := cmd.Flags()
	fl.Var(retentionValue{&cfg.Retention}, "retention", "how long telemetry is kept (0: forever)")
	fl.Lookup("retention").DefValue = config.DefaultRetention.String()
	fl.StringArrayVar(&cfg.ExportFiles, "export-file", nil, "append events as JSON lines to this file (repeatable)")
	fl.StringArrayVar(&cfg.ExportSyslog, "export-syslog", nil, "send events as RFC 5424 syslog to unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT (repeatable)")
	fl.StringArrayVar(&cfg.ExportHTTP, "export-http", nil, "POST events as JSON lines to this http(s) URL (repeatable)")
}

func serve(ctx context.Context, e *env, cfg config.Serve) error {
	log := logging.New(e.stderr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	defer signal.Stop(reload)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Run(ctx, reload)
}

// usageOr keeps config errors as usage errors (exit 2), naming the
// environment variable rather than the flag when that set the bad value.
func usageOr(cmd *cobra.Command, err error) error {
	var bad *config.FlagError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bad):
		return usagef("%s %s", envflag.Source(cmd.Flags(), bad.Flag), bad.Problem)
	}
	return usagef("%v", err)
}
