// Command pam-agent is the ZPAM host daemon.
package main

import (
	"os"

	"github.com/zpam/zpam/agent/internal/cli/agentcmd"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

func main() { os.Exit(agentcmd.Main(version)) }
