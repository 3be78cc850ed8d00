// Package vmlab boots Debian's cloud kernel under qemu (TCG) with an
// initramfs of busybox, statically built test binaries and real sudo, so
// that BPF LSM enforcement is tested on a kernel where BPF LSM is active.
package vmlab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CacheDir keeps downloaded kernels between runs on the same machine.
const CacheDir = "/var/cache/zpam-vmlab"

// metaPackage always depends on the current cloud kernel; its version
// moves, so it is resolved at run time and never hard-coded.
const metaPackage = "linux-image-cloud-amd64"

// KernelImage returns the path of the current Debian cloud kernel's vmlinuz,
// downloading and unpacking the -unsigned package when it is not cached.
func KernelImage() (string, error) {
	pkg, err := currentKernelPackage()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheDir, pkg)
	if img, err := findVmlinuz(dir); err == nil {
		return img, nil
	}
	if err := fetchKernel(pkg, dir); err != nil {
		return "", err
	}
	return findVmlinuz(dir)
}

// currentKernelPackage resolves the meta package to the image package,
// refreshing apt's lists once if they do not know it.
func currentKernelPackage() (string, error) {
	name, err := dependsOf(metaPackage)
	if err != nil {
		if out, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %v: %s", uerr, out)
		}
		if name, err = dependsOf(metaPackage); err != nil {
			return "", err
		}
	}
	return name + "-unsigned", nil
}

func dependsOf(pkg string) (string, error) {
	out, err := exec.Command("apt-cache", "depends", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w", pkg, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if dep, ok := strings.CutPrefix(line, "Depends: linux-image-"); ok {
			return "linux-image-" + dep, nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s names no linux-image package", pkg)
}

// fetchKernel downloads pkg with apt-get and unpacks it with dpkg -x into
// dir, via a temp dir so that a failed fetch leaves nothing half-written.
func fetchKernel(pkg, dir string) error {
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return fmt.Errorf("create kernel cache: %w", err)
	}
	tmp, err := os.MkdirTemp(CacheDir, ".fetch-")
	if err != nil {
		return fmt.Errorf("create kernel cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	// apt's sandbox user must be able to write the download directory.
	if err := os.Chmod(tmp, 0o777); err != nil {
		return err
	}
	dl := exec.Command("apt-get", "download", "-qq", pkg)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %v: %s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.Command("dpkg", "-x", debs[0], root).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg -x %s: %v: %s", debs[0], err, out)
	}
	return os.Rename(root, dir)
}

func findVmlinuz(dir string) (string, error) {
	imgs, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(imgs) != 1 {
		return "", fmt.Errorf("no single vmlinuz in %s/boot", dir)
	}
	return imgs[0], nil
}
