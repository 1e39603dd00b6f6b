package main

import (
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFiltersNeverOpenExcluded syncs a tree with nested ** patterns from
// --exclude, --exclude-from and .s3sealignore, checks which objects exist,
// and watches the source with inotify: no excluded file is opened and the
// excluded folder is not even listed.
func TestFiltersNeverOpenExcluded(t *testing.T) {
	e := newEnv(t)
	for _, rel := range []string{"keep.txt", "notes.tmp", "a/b/c/keep.txt", "a/b/c/deep.log",
		"a/b/important.log", "a/x.log", "cache/blob", "cache/sub/blob"} {
		writeFile(t, filepath.Join(e.src, filepath.FromSlash(rel)), []byte(rel))
	}
	writeFile(t, filepath.Join(e.src, ".s3sealignore"), []byte("# local junk\n/cache/\n!important.log\n"))
	from := filepath.Join(t.TempDir(), "excludes")
	writeFile(t, from, []byte("*.tmp\n"))

	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	watches := map[int]string{}
	for _, dir := range []string{".", "a/b/c", "cache"} {
		wd, err := unix.InotifyAddWatch(fd, filepath.Join(e.src, dir), unix.IN_OPEN|unix.IN_ACCESS)
		if err != nil {
			t.Fatal(err)
		}
		watches[wd] = dir
	}

	res := e.run(e.syncArgs("--exclude", "a/**/*.log", "--exclude-from", from)...)
	if res.code != 0 {
		t.Fatalf("sync: exit %d\n%s", res.code, res.stderr)
	}
	want := []string{".s3sealignore", "a/b/c/keep.txt", "a/b/important.log", "keep.txt"}
	if got := e.objectNames(); !equal(got, want) {
		t.Errorf("objects after a filtered sync = %q; want %q", got, want)
	}

	opened := map[string]bool{}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := string(buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)])
			name = filepath.Join(watches[int(ev.Wd)], string(trimNUL([]byte(name))))
			opened[filepath.ToSlash(name)] = true
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	if !opened["keep.txt"] || !opened["a/b/c/keep.txt"] {
		t.Fatalf("inotify saw no open of keep.txt (saw %v): the watch does not work", opened)
	}
	for _, rel := range []string{"notes.tmp", "a/b/c/deep.log", "cache", "cache/blob", "cache/sub"} {
		if opened[rel] {
			t.Errorf("excluded %s was opened or listed (inotify saw %v)", rel, opened)
		}
	}
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
