package pamctl

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/asciicast"
	"github.com/zpam/zpam/agent/internal/cli"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// maxRecording bounds what replay holds in memory.
const maxRecording = 256 << 20

type replayFlags struct {
	speed   float64
	maxIdle time.Duration
	raw     bool
}

func newReplayCommand(g *globals) *cobra.Command {
	f := &replayFlags{}
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Replay a recorded elevated shell with its timing",
		Long: "Replay a shell recorded by pamctl elevate --shell, with its timing. ID is the request id\n" +
			"pamctl printed when the shell ended. You may replay your own recordings; root any on this\n" +
			"host. With --server and a credential that may read the audit trail (an admin's, an\n" +
			"approver's, the recorded person's own), the copy the control plane received is replayed,\n" +
			"from anywhere. --raw prints the asciicast v2 file, for asciinema play or any asciicast player.",
		Example: "  pamctl replay 0b6c1a52-...\n  pamctl replay 0b6c1a52-... --speed 4\n  pamctl replay 0b6c1a52-... --raw > shell.cast && asciinema play shell.cast\n" +
			"  pamctl replay 0b6c1a52-... --server cp.example.com:7443 --credential ~/.config/zpam",
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.speed <= 0 {
				return cli.FlagUsage(cmd, "speed", "%v must be a positive number like 1, 2 or 0.5", f.speed)
			}
			fetch := func() ([]byte, error) { return fetchRecording(cmd, g.socket, args[0]) }
			if g.server != "" {
				fetch = func() ([]byte, error) { return fetchShipped(cmd, g, args[0]) }
			}
			data, err := fetch()
			if err != nil {
				return err
			}
			if f.raw {
				_, err := cmd.OutOrStdout().Write(data)
				return writeOut(err)
			}
			_, evs, err := asciicast.Parse(bytes.NewReader(data))
			if err != nil {
				return cli.Exit(cli.ExitFailure, "recording %s is damaged: %v", args[0], err)
			}
			err = asciicast.Play(cmd.Context(), cmd.OutOrStdout(), evs, asciicast.PlayOptions{Speed: f.speed, MaxIdle: f.maxIdle})
			if err != nil && cmd.Context().Err() == nil {
				return writeOut(err)
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&f.speed, "speed", 1, "play this many times faster")
	cmd.Flags().DurationVar(&f.maxIdle, "max-idle", 2*time.Second, "cap each pause at this (0: keep every pause)")
	cmd.Flags().BoolVar(&f.raw, "raw", false, "print the asciicast v2 file instead of playing it")
	return cmd
}

func fetchRecording(cmd *cobra.Command, socket, id string) ([]byte, error) {
	c, err := dialAgent(socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stream, err := c.ReadRecording(cmd.Context(), &localv1.ReadRecordingRequest{Id: id})
	if err != nil {
		return nil, rpcError(c, socket, err)
	}
	var buf bytes.Buffer
	for {
		d, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, rpcError(c, socket, err)
		}
		if buf.Len()+len(d.GetAsciicast()) > maxRecording {
			return nil, cli.Exit(cli.ExitFailure, "recording %s is larger than %d MiB, more than pamctl replays", id, maxRecording>>20)
		}
		buf.Write(d.GetAsciicast())
	}
}
