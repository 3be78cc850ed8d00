// Command pamctl asks the local pam-agent for just-in-time root.
package main

import (
	"os"

	"github.com/zpam/zpam/agent/internal/cli/pamctl"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

func main() { os.Exit(pamctl.Main(version)) }
