package residue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// setuidDirs are where setuid and setgid files are looked for: the
// program directories and the places anyone may write to.
// The largest usually come last, so a spent budget skips the least.
var setuidDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/libexec",
	"/tmp", "/var/tmp", "/dev/shm", "/srv", "/opt", "/home", "/root"}

var errLimit = errors.New("entry limit reached")

// walk visits the regular files under dir (a host path) within the
// reading's entry budget, not following symlinks nor leaving the
// filesystem it starts on.
func (rd *reading) walk(dir string, budget *int, visit func(path string, fi fs.FileInfo)) {
	root := rd.path(dir)
	top, err := os.Lstat(root)
	if err != nil || !top.IsDir() {
		return
	}
	dev := device(top)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				rd.note("cannot read %s: %v", rd.hostPath(p), err)
			}
			return nil
		}
		if *budget--; *budget < 0 {
			return errLimit
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if d.IsDir() && p != root && device(fi) != dev {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			visit(p, fi)
		}
		return nil
	})
	if errors.Is(err, errLimit) {
		rd.note("stopped reading %s after %d entries: the rest of it is not compared", dir, rd.r.Limits.Entries)
	}
}

func (rd *reading) setuid() {
	budget := rd.r.Limits.Entries
	for i, dir := range setuidDirs {
		if budget <= 0 {
			rd.note("not read for setuid files (entry limit spent): %s", strings.Join(setuidDirs[i:], ", "))
			return
		}
		rd.walk(dir, &budget, func(p string, fi fs.FileInfo) {
			if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) == 0 {
				return
			}
			rd.add(rd.hostPath(p), Item{Category: Setuid, Fingerprint: fmt.Sprintf("%s %s size=%d", fi.Mode(), owner(fi), fi.Size())})
		})
	}
}

// logs are /var/log's files by size: removing or shrinking one is the
// change; growing is what logs do.
func (rd *reading) logs() {
	budget := rd.r.Limits.Entries
	rd.walk("/var/log", &budget, func(p string, fi fs.FileInfo) {
		rd.add(rd.hostPath(p), Item{Category: Log, Fingerprint: fmt.Sprintf("inode=%d", inode(fi)), Size: fi.Size()})
	})
}
