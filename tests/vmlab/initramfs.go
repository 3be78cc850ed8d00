package vmlab

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Initramfs is a root file system being assembled in a host directory.
type Initramfs struct {
	Root string
}

// NewInitramfs lays out a merged-/usr root (so PAM finds its modules) whose
// top directory is 0755 (so non-root users can load libraries).
func NewInitramfs(dir string) (*Initramfs, error) {
	r := &Initramfs{Root: dir}
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc/sudoers.d",
		"proc", "sys", "dev", "tmp", "run", "root", "var/tmp", "zpam"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(dir, l)); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o1777); err != nil {
			return nil, err
		}
	}
	return r, os.Chmod(dir, 0o755)
}

// CopyFile copies a host file to the same path in the root (or to dst when
// given), keeping its mode bits including setuid.
func (r *Initramfs) CopyFile(src, dst string) error {
	if dst == "" {
		dst = src
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(real)
	if err != nil {
		return err
	}
	target := filepath.Join(r.Root, dst)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	in, err := os.Open(real)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(target, info.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
}

// CopyELF copies binaries or shared objects with every library ldd says
// they need, so the guest runs the host's real builds.
func (r *Initramfs) CopyELF(paths ...string) error {
	for _, p := range paths {
		if err := r.CopyFile(p, ""); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
		libs, err := sharedLibs(p)
		if err != nil {
			return err
		}
		for _, lib := range libs {
			if err := r.CopyFile(lib, ""); err != nil {
				return fmt.Errorf("copy %s (needed by %s): %w", lib, p, err)
			}
		}
	}
	return nil
}

var lddPath = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// sharedLibs lists the absolute library paths ldd resolves for path.
func sharedLibs(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		// Static binaries make ldd fail; they need nothing.
		return nil, nil
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := lddPath.FindStringSubmatch(sc.Text()); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, sc.Err()
}

// WriteFile writes a file into the root.
func (r *Initramfs) WriteFile(path, content string, mode os.FileMode) error {
	target := filepath.Join(r.Root, path)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(target, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(target, mode)
}

// Pack writes the root as a gzip-compressed newc cpio archive.
func (r *Initramfs) Pack(out string) error {
	cmd := exec.Command("sh", "-c", "find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1 > "+shellQuote(out))
	cmd.Dir = r.Root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pack initramfs: %v: %s", err, b)
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
