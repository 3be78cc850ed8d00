package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// private is a server this test started.
type private struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan error
}

func (p *private) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// startPrivate runs initdb and postgres in a fresh directory and waits
// until the server accepts connections.
func startPrivate(t testing.TB, bin string) *private {
	t.Helper()
	dir, err := os.MkdirTemp("", "zpam-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	p := &private{dir: dir, port: freePort(t), done: make(chan error, 1)}
	t.Cleanup(func() { p.stop(t) })
	cred := serverCredential(t, dir)
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	p.launch(t, bin, cred)
	p.waitReady(t, bin)
	return p
}

func (p *private) data() string { return filepath.Join(p.dir, "data") }

// serverCredential is who runs the server: the postgres user when we are
// root (initdb refuses root), ourselves otherwise.
func serverCredential(t testing.TB, dir string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root, the test server needs the postgres user (Debian's postgresql package makes it): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// launch starts postgres from a goroutine locked to its OS thread for the
// server's whole life: the parent-death signal follows the thread that
// forked, not the process, and Go may retire an unlocked thread.
func (p *private) launch(t testing.TB, bin string, cred *syscall.Credential) {
	t.Helper()
	logf, err := os.Create(filepath.Join(p.dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", p.data(), "-k", p.dir, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends after postgres does
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.done <- p.cmd.Wait()
		logf.Close()
	}()
	if err := <-started; err != nil {
		t.Fatalf("start postgres: %v", err)
	}
}

func (p *private) waitReady(t testing.TB, bin string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := exec.Command(filepath.Join(bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port)).Run()
		if err == nil {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("postgres exited at start (%v): %s", err, p.log())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres not ready after 60s: %s", p.log())
		}
	}
}

func (p *private) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
	return string(b)
}

// stop asks for a fast shutdown, kills after 15 s, and removes the
// directory either way.
func (p *private) stop(t testing.TB) {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			t.Logf("postgres did not stop in 15s; killing it")
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		t.Errorf("remove %s: %v", p.dir, err)
	}
}
