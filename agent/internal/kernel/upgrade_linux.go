package kernel

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// replacingSuffix names the pin of a new link while it replaces the old.
const replacingSuffix = ".new"

// adoptOrReplace keeps a link an earlier agent pinned when it runs the
// program this agent would load (the kernel's tag of the instructions
// matches), and replaces it when an upgrade changed the program: the new
// link is attached and pinned beside the old one before the old one is
// released, so enforcement never lapses, and what the new programs
// enforce (scoped grants, terminating trees) is in force from this start.
// Whatever goes wrong keeps the old link: it still enforces what it did.
func adoptOrReplace(spec *ebpf.CollectionSpec, p program, opts *ebpf.CollectionOptions, pin string, old link.Link) link.Link {
	prog, err := loadProgram(spec, p.name, opts)
	if err != nil {
		return old
	}
	defer prog.Close()
	if same, err := sameProgram(old, prog); err != nil || same {
		return old
	}
	l, err := p.attach(prog)
	if err != nil {
		return old
	}
	if err := l.Pin(pin + replacingSuffix); err != nil {
		l.Close()
		return old
	}
	release(old)
	// Pinning again renames the new pin into place. Should that fail, the
	// new link enforces while this agent runs, and the next start drops
	// it as an unfinished replacement and attaches afresh.
	_ = l.Pin(pin)
	return l
}

// sameProgram reports whether the link runs a program with p's tag.
func sameProgram(l link.Link, p *ebpf.Program) (bool, error) {
	li, err := l.Info()
	if err != nil {
		return false, err
	}
	running, err := ebpf.NewProgramFromID(li.Program)
	if err != nil {
		return false, err
	}
	defer running.Close()
	ri, err := running.Info()
	if err != nil {
		return false, err
	}
	ni, err := p.Info()
	if err != nil {
		return false, err
	}
	return ri.Tag == ni.Tag, nil
}

// release detaches and unpins a link and closes this process's handle.
// Tracing and LSM links cannot be detached on every kernel; unpinned and
// closed by their last holder, they go all the same.
func release(l link.Link) {
	_ = l.Detach()
	_ = l.Unpin()
	l.Close()
}

// dropPin releases a pinned link if one is there.
func dropPin(pin string) {
	if l, err := link.LoadPinnedLink(pin, nil); err == nil {
		release(l)
	}
}
