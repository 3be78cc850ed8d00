// Command pam-controlplane is the ZPAM control plane server and its admin
// commands.
package main

import (
	"context"
	"os"

	"github.com/zpam/zpam/controlplane/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli.Execute(context.Background(), version, os.Args[1:], os.Stdout, os.Stderr))
}
