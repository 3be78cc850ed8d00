package kernel

import (
	"os/exec"
	"syscall"
)

// sudoer is a real non-root user with NOPASSWD sudo: created for the test
// on the host (newSudoer), the lab's user in the VM.
type sudoer struct {
	uid, gid uint32
	home     string
}

// command runs argv as the user, outside any elevated tree.
func (s sudoer) command(argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + s.home, "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: s.uid, Gid: s.gid, Groups: []uint32{s.gid}}}
	return cmd
}
