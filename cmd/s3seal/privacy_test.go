package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3seal/s3seal/cipher"
)

// privateTree writes files whose names, folders and extensions must not
// reach the server, and returns their relative paths.
func privateTree(t *testing.T, src string) []string {
	t.Helper()
	files := map[string]string{
		"my-credit-card-number.txt":        "4111 1111 1111 1111\n",
		"medical/diagnosis-2024.pdf":       strings.Repeat("confidential ", 300),
		"medical/scans/mri_knee.dicom":     strings.Repeat("\x00\x01scan", 20000),
		"taxes/fy2023/return.xlsx":         "numbers",
		"diary/entries/2024-06-01 éà日記.md": "dear diary\n",
	}
	var paths []string
	for rel, content := range files {
		writeFile(t, filepath.Join(src, filepath.FromSlash(rel)), []byte(content))
		paths = append(paths, rel)
	}
	if err := os.Chmod(filepath.Join(src, "taxes/fy2023/return.xlsx"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2019, 3, 4, 5, 6, 7, 890, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "medical/diagnosis-2024.pdf"), old, old); err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestHiddenNamesRevealNothing collects everything a bucket reader sees (every
// key listed, every HEAD's metadata and size) and looks in it for every
// file and folder name, extension and plaintext MD5, in hex and base64.
func TestHiddenNamesRevealNothing(t *testing.T) {
	e := newEnv(t)
	paths := privateTree(t, e.src)
	e.sync(0)

	var needles []string
	for _, rel := range paths {
		for _, elem := range strings.Split(rel, "/") {
			stem, ext, _ := strings.Cut(elem, ".")
			needles = append(needles, elem, stem)
			if ext != "" {
				needles = append(needles, ext)
			}
		}
		data, _ := os.ReadFile(filepath.Join(e.src, filepath.FromSlash(rel)))
		sum := md5.Sum(data)
		needles = append(needles, hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]),
			strings.TrimRight(base64.URLEncoding.EncodeToString(sum[:]), "="))
	}

	var seen bytes.Buffer
	st := e.store()
	ctx := context.Background()
	var keys []string
	err := st.List(ctx, "", func(o s3storeObject) error {
		keys = append(keys, o.Key)
		head, err := st.Head(ctx, o.Key)
		if err != nil {
			return err
		}
		seen.WriteString(o.Key + "\n" + head.ETag + "\n" + head.StorageClass + "\n")
		for k, v := range head.Metadata {
			seen.WriteString(k + "=" + v + "\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(paths)+1 { // the files and the catalog mirror
		t.Fatalf("bucket holds %d objects; want %d:\n%s", len(keys), len(paths)+1, strings.Join(keys, "\n"))
	}
	lower := strings.ToLower(seen.String())
	for _, n := range needles {
		if len(n) >= 3 && strings.Contains(lower, strings.ToLower(n)) {
			t.Errorf("a bucket reader sees %q:\n%s", n, seen.String())
		}
	}
	for _, k := range keys {
		name := strings.TrimPrefix(k, e.prefix+"/")
		if name == ".s3seal/catalog.age" {
			continue
		}
		if len(name) != 33 || name[2] != '/' || strings.Trim(name[:2]+name[3:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Errorf("object key %q is not a fixed-length opaque name", k)
		}
	}
}

// TestRestoreOnFreshMachine restores from the bucket and the identity alone:
// a new home with no catalog, names, mtimes and modes back exactly.
func TestRestoreOnFreshMachine(t *testing.T) {
	e := newEnv(t)
	privateTree(t, e.src)
	e.sync(0)
	fresh := e.withHome()
	if err := os.Remove(e.catalog); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "restored")
	res := fresh.run("restore", e.target, dest, "-i", e.keyFile, "--endpoint", e.srv.Endpoint)
	if res.code != 0 {
		t.Fatalf("restore on a fresh machine: exit %d\n%s", res.code, res.stderr)
	}
	assertSameTree(t, e.src, dest)
}

// TestNamingCannotSwitch refuses to mix hidden and plain names in one target.
func TestNamingCannotSwitch(t *testing.T) {
	e := newEnv(t)
	writeFile(t, filepath.Join(e.src, "a.txt"), []byte("a"))
	e.sync(0) // hidden, the default
	res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--plain-names")
	wantError(t, "--plain-names on a hidden target", res, 1, "uses hidden names")

	p := newEnv(t)
	writeFile(t, filepath.Join(p.src, "a.txt"), []byte("a"))
	p.sync(0, "--plain-names")
	res = p.run("sync", p.src, p.target, "-r", p.recipient, "--endpoint", p.srv.Endpoint, "--catalog", p.catalog, "--hidden-names")
	wantError(t, "--hidden-names on a plain target", res, 1, "uses plain names")
	if objs := p.objects(); len(objs) != 1 || objs[0].Key != p.prefix+"/a.txt" {
		t.Errorf("after the refused switch the plain target holds %v", objs)
	}
	if s := p.sync(0); s.Uploaded != 0 {
		t.Errorf("a plain target synced without a naming flag uploaded %d; want 0 (it keeps plain names)", s.Uploaded)
	}
}

// TestSecretsNeverPrinted greps everything sync -v and restore -v print, and
// the plaintext of the catalog mirror, for the passphrase and the identity.
func TestSecretsNeverPrinted(t *testing.T) {
	const passphrase = "tr0ub4dor&3-unique-passphrase"
	for _, mode := range []string{"recipient", "passphrase"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			privateTree(t, e.src)
			writeRandom(t, filepath.Join(e.src, "large.bin"), 24<<20)
			keyArgs := []string{"-r", e.recipient}
			restoreKey := []string{"-i", e.keyFile}
			if mode == "passphrase" {
				e.extraEnv = []string{"S3SEAL_PASSPHRASE=" + passphrase}
				keyArgs = []string{"-S"}
				restoreKey = []string{"-S"}
			}
			var out strings.Builder
			for range 2 {
				res := e.run(append([]string{"sync", e.src, e.target, "-v", "--endpoint", e.srv.Endpoint, "--catalog", e.catalog}, keyArgs...)...)
				if res.code != 0 {
					t.Fatalf("sync -v: exit %d\n%s", res.code, res.stderr)
				}
				out.WriteString(res.stdout + res.stderr)
			}
			dest := filepath.Join(t.TempDir(), "restored")
			res := e.run(append([]string{"restore", e.target, dest, "-v", "--endpoint", e.srv.Endpoint}, restoreKey...)...)
			if res.code != 0 {
				t.Fatalf("restore -v: exit %d\n%s", res.code, res.stderr)
			}
			out.WriteString(res.stdout + res.stderr)
			if !strings.Contains(out.String(), "large.bin") {
				t.Fatalf("verbose output does not list the files, so this test would see nothing:\n%s", out.String())
			}

			mirror := e.mirrorPlaintext(t, passphrase, mode == "passphrase")
			secrets := []string{e.identity.String(), strings.TrimPrefix(e.identity.String(), "AGE-SECRET-KEY-1"), passphrase}
			for _, s := range secrets {
				if strings.Contains(out.String(), s) {
					t.Errorf("verbose output contains a secret %.12q...", s)
				}
				if bytes.Contains(mirror, []byte(s)) {
					t.Errorf("the catalog mirror's plaintext contains a secret %.12q...", s)
				}
			}
			if strings.Contains(out.String(), "AGE-SECRET-KEY") || bytes.Contains(mirror, []byte("AGE-SECRET-KEY")) {
				t.Errorf("an age identity appears in the output or the mirror")
			}
		})
	}
}

// mirrorPlaintext downloads and decrypts the catalog mirror.
func (e *env) mirrorPlaintext(t *testing.T, passphrase string, symmetric bool) []byte {
	t.Helper()
	ctx := context.Background()
	st := e.store()
	ids := []ageIdentity{e.identity}
	if symmetric {
		sealed := getObject(t, st, cipher.MetaKey(e.prefix, "key.age"))
		id, err := cipher.OpenSealedIdentity(sealed, passphrase)
		if err != nil {
			t.Fatal(err)
		}
		ids = []ageIdentity{id}
	}
	body, _, err := st.Get(ctx, cipher.MetaKey(e.prefix, "catalog.age"))
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	plain, err := cipher.Decrypt(body, ids...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
		t.Fatalf("the mirror's plaintext is not a SQLite database")
	}
	return b
}

// TestPlainNamesTooLong gives a per-file error for a path whose plain key
// would pass S3's 1,024-byte limit, backs up the rest, and backs the same
// path up without trouble under hidden names.
func TestPlainNamesTooLong(t *testing.T) {
	long := strings.Repeat("d", 210) + "/" + strings.Repeat("e", 210) + "/" + strings.Repeat("f", 210) + "/" +
		strings.Repeat("g", 210) + "/" + strings.Repeat("h", 210) + "/file.txt"
	for _, naming := range []string{"--plain-names", "--hidden-names"} {
		e := newEnv(t)
		writeFile(t, filepath.Join(e.src, filepath.FromSlash(long)), []byte("deep"))
		writeFile(t, filepath.Join(e.src, "short.txt"), []byte("short"))
		res := e.run("sync", e.src, e.target, "-r", e.recipient, "--endpoint", e.srv.Endpoint, "--catalog", e.catalog, "--json", naming)
		if naming == "--hidden-names" {
			if res.code != 0 {
				t.Fatalf("hidden names: exit %d\n%s", res.code, res.stderr)
			}
			assertSameTree(t, e.src, e.restore())
			continue
		}
		if res.code != 3 {
			t.Fatalf("plain names with a 1,069-byte path: exit %d; want 3\n%s", res.code, res.stderr)
		}
		fails := events(t, res.stdout, "fail")
		if len(fails) != 1 || fails[0]["path"] != long || !strings.Contains(fails[0]["error"].(string), "1,024") {
			t.Errorf("fail events = %v; want one for the long path naming S3's 1,024-byte limit", fails)
		}
		if objs := e.objects(); len(objs) != 1 || objs[0].Key != e.prefix+"/short.txt" {
			t.Errorf("objects after the plain-name sync = %v; want only short.txt", objs)
		}
	}
}
