package pamctl

import (
	"errors"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
)

// codeExits is the one table from gRPC codes of the agent's or control
// plane's answers to pamctl's exit codes; unlisted codes are failures.
var codeExits = map[codes.Code]int{
	codes.Unavailable:      cli.ExitUnreachable,
	codes.InvalidArgument:  cli.ExitUsage,
	codes.Canceled:         cli.ExitGaveUp,
	codes.DeadlineExceeded: cli.ExitGaveUp,
}

// rpcError turns an answer of the agent into an exit code and a sentence.
func rpcError(c *localclient.Client, socket string, err error) *cli.ExitError {
	st := status.Convert(err)
	if dialErr := c.DialErr(); dialErr != nil && st.Code() == codes.Unavailable {
		return unreachable(socket, dialErr)
	}
	return statusExit(st)
}

func statusExit(st *status.Status) *cli.ExitError {
	code, ok := codeExits[st.Code()]
	if !ok {
		code = cli.ExitFailure
	}
	return &cli.ExitError{Code: code, Err: errors.New(st.Message())}
}

// errSentence is the message of a gRPC error, without its code.
func errSentence(err error) string { return status.Convert(err).Message() }

func unreachable(socket string, dialErr error) *cli.ExitError {
	if errors.Is(dialErr, syscall.EACCES) {
		return cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: permission denied; the agent makes the socket 0666 in a 0755 directory "+
			"and tells callers apart by their kernel credentials, so something changed those modes (check: ls -ld %s %s)",
			socket, parentDir(socket), socket)
	}
	return cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: %s (is pam-agent running? start it with: systemctl start pam-agent)",
		socket, describeDialErr(dialErr))
}

func parentDir(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

func describeDialErr(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "no such file"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return err.Error()
}

// dialAgent connects to the agent's local API on socket; the one error
// every command gives when it cannot says which socket it tried.
func dialAgent(socket string) (*localclient.Client, error) {
	c, err := localclient.Dial(socket)
	if err != nil {
		return nil, cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: %v", socket, err)
	}
	return c, nil
}
