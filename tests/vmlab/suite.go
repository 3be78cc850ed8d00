package vmlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildKernelTests builds the kernel package's test binary statically into
// dir, with the given build tags, from the module at root.
func BuildKernelTests(root, dir string, tags ...string) (string, error) {
	out := filepath.Join(dir, "kernel.test")
	args := []string{"test", "-c", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", joinTags(tags))
	}
	cmd := exec.Command("go", append(args, "./agent/internal/kernel")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build kernel tests: %v\n%s", err, b)
	}
	return out, nil
}

func joinTags(tags []string) string {
	s := tags[0]
	for _, t := range tags[1:] {
		s += "," + t
	}
	return s
}

// SuiteInitramfs assembles a guest with real sudo that runs testBinary
// (as /zpam/kernel.test) with args and env, and packs it under work.
func SuiteInitramfs(work, testBinary string, args, env []string) (string, error) {
	r, err := NewInitramfs(filepath.Join(work, "root"))
	if err != nil {
		return "", err
	}
	if err := r.AddRealSudo(); err != nil {
		return "", err
	}
	if err := r.CopyFile(testBinary, "/zpam/kernel.test"); err != nil {
		return "", err
	}
	if err := r.AddInit([]string{"kernel.test"}, args, env); err != nil {
		return "", err
	}
	initrd := filepath.Join(work, "initrd.gz")
	return initrd, r.Pack(initrd)
}
