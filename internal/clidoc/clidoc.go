// Package clidoc writes a command tree's man pages and its bash, zsh and
// fish completion scripts, generated from the cobra definitions (cobra's
// completion generators, cobra/doc for the pages), so that the packages
// install documentation that cannot drift from the commands.
package clidoc

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Command is the hidden `gendocs DIR` subcommand of root, which `make
// packages` runs on the binaries it just built. section is the man
// section of root's pages: 1 for commands people run, 8 for daemons and
// their administration.
func Command(root *cobra.Command, section string) *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write man pages and shell completions into DIR (for packaging)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(_ *cobra.Command, args []string) error { return Write(root, section, args[0]) },
	}
}

// Write writes, for root and every command below it that --help lists,
// DIR/man/manSECTION/<command-path>.SECTION.gz, and root's completions as
// DIR/completions/bash/NAME, DIR/completions/zsh/_NAME and
// DIR/completions/fish/NAME.fish: the names and directories the shells
// load completions from.
func Write(root *cobra.Command, section, dir string) error {
	root.DisableAutoGenTag = true
	if err := writeMan(root, section, filepath.Join(dir, "man", "man"+section)); err != nil {
		return err
	}
	return writeCompletions(root, filepath.Join(dir, "completions"))
}

func writeMan(cmd *cobra.Command, section, dir string) error {
	if !cmd.IsAvailableCommand() && cmd.HasParent() {
		return nil
	}
	header := &doc.GenManHeader{Section: section, Source: "ZPAM " + cmd.Root().Version, Manual: "ZPAM Manual"}
	var page bytes.Buffer
	if err := doc.GenMan(cmd, header, &page); err != nil {
		return fmt.Errorf("man page of %s: %w", cmd.CommandPath(), err)
	}
	name := strings.ReplaceAll(cmd.CommandPath(), " ", "-") + "." + section + ".gz"
	if err := writeFile(filepath.Join(dir, name), gzipped(page.Bytes())); err != nil {
		return err
	}
	for _, sub := range cmd.Commands() {
		if err := writeMan(sub, section, dir); err != nil {
			return err
		}
	}
	return nil
}

// gzipped compresses as `gzip -9n` does: best compression, which the
// gzip header records and lintian looks for, and no name or time in the
// header, so the same page makes the same bytes.
func gzipped(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		z, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := z.Write(data); err != nil {
			return err
		}
		return z.Close()
	}
}

func writeCompletions(root *cobra.Command, dir string) error {
	name := root.Name()
	files := map[string]func(io.Writer) error{
		filepath.Join("bash", name):         func(w io.Writer) error { return root.GenBashCompletionV2(w, true) },
		filepath.Join("zsh", "_"+name):      root.GenZshCompletion,
		filepath.Join("fish", name+".fish"): func(w io.Writer) error { return root.GenFishCompletion(w, true) },
	}
	for path, gen := range files {
		if err := writeFile(filepath.Join(dir, path), gen); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, gen func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	var buf bytes.Buffer
	if err := gen(&buf); err != nil {
		return fmt.Errorf("generate %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
