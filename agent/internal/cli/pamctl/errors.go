package pamctl

import (
	"errors"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
)

// rpcError is the one table from the agent's answers to exit codes.
func rpcError(c *localclient.Client, socket string, err error) *cli.ExitError {
	st := status.Convert(err)
	if dialErr := c.DialErr(); dialErr != nil && st.Code() == codes.Unavailable {
		return unreachable(socket, dialErr)
	}
	code := cli.ExitFailure
	switch st.Code() {
	case codes.Unavailable:
		code = cli.ExitUnreachable
	case codes.InvalidArgument:
		code = cli.ExitUsage
	case codes.Canceled, codes.DeadlineExceeded:
		code = cli.ExitGaveUp
	}
	return &cli.ExitError{Code: code, Err: errors.New(st.Message())}
}

func unreachable(socket string, dialErr error) *cli.ExitError {
	return cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: %s (is pam-agent running? start it with: systemctl start pam-agent)",
		socket, describeDialErr(dialErr))
}

func describeDialErr(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "no such file"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EACCES):
		return "permission denied"
	}
	return err.Error()
}
