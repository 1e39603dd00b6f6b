package cipher

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// leakCheckLength is the shortest input line whose appearance in an error
// counts as echoing the input; shorter lines could match error text by
// chance.
const leakCheckLength = 24

// checkNoEcho fails if err's text contains a long line of content.
func checkNoEcho(t *testing.T, err error, content []byte) {
	t.Helper()
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= leakCheckLength && strings.Contains(err.Error(), line) {
			t.Fatalf("error %q echoes an input line", err)
		}
	}
}

func FuzzParseRecipients(f *testing.F) {
	x25519 := newX25519(f)
	_, sshLine := newEd25519SSH(f)
	f.Add([]byte("# keys\n\n" + x25519.Recipient().String() + "\n" + sshLine + "\n"))
	f.Add([]byte(x25519.String() + "\n"))
	f.Add([]byte("age1pq1qqqq\nage1yubikey1qqq\r\nssh-rsa AAAA\n"))
	f.Add([]byte("\xff\xfe\n#\n"))
	// One file per worker process, rewritten for every input: inputs run
	// one at a time within a process.
	path := filepath.Join(f.TempDir(), "recipients.txt")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatalf("write: %v", err)
		}
		recipients, err := ParseRecipients(nil, []string{path})
		if err != nil {
			checkNoEcho(t, err, content)
			return
		}
		if len(recipients) == 0 {
			t.Fatal("ParseRecipients succeeded with no recipients")
		}
		// Whatever parses, age must accept as one recipient set.
		if _, err := NewEnvelope(recipients...); err != nil {
			t.Fatalf("NewEnvelope(parsed recipients): %v", err)
		}
	})
}

func FuzzParseIdentityFile(f *testing.F) {
	x25519 := newX25519(f)
	f.Add([]byte("# created: now\n" + x25519.String() + "\n"))
	f.Add([]byte("AGE-SECRET-KEY-PQ-1QQQQ\nAGE-PLUGIN-YUBIKEY-1QQ\n"))
	f.Add([]byte("age-encryption.org/v1\n-> X25519 abc\n--- xyz\n"))
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatalf("ed25519.GenerateKey: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		f.Fatalf("ssh.MarshalPrivateKey: %v", err)
	}
	f.Add(pem.EncodeToMemory(block))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n"))
	// One file per worker process, rewritten for every input: inputs run
	// one at a time within a process.
	path := filepath.Join(f.TempDir(), "identities.txt")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatalf("write: %v", err)
		}
		ids, err := ParseIdentityFile(path)
		if err != nil {
			checkNoEcho(t, err, content)
			return
		}
		if len(ids) == 0 {
			t.Fatal("ParseIdentityFile succeeded with no identities")
		}
		for i, id := range ids {
			if id == nil {
				t.Fatalf("identity %d is nil", i)
			}
		}
	})
}

// fuzzEnvelope is a fixed envelope so fuzz failures reproduce exactly: a
// stub stanza, with the header MAC its file key gives (c2sp.org/age, "Header
// MAC"), which NewCiphertext checks.
var fuzzEnvelope = fixedEnvelope([]byte("0123456789abcdef"), []byte("fedcba9876543210"))

func fixedEnvelope(fileKey, nonce []byte) *Envelope {
	header := []byte("age-encryption.org/v1\n-> stub\n\n---")
	macKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", sha256.Size)
	if err != nil {
		panic(err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(header)
	header = fmt.Appendf(header, " %s\n", base64.RawStdEncoding.EncodeToString(mac.Sum(nil)))
	return &Envelope{FileKey: fileKey, Nonce: nonce, Header: header}
}

func FuzzCiphertextReadAt(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint32(100), uint64(1))
	f.Add(uint32(65536), uint32(100), uint32(65552), uint64(2))
	f.Add(uint32(65537), uint32(65630), uint32(30), uint64(3))
	f.Add(uint32(200000), uint32(150000), uint32(100000), uint64(4))
	f.Add(uint32(65515), uint32(65630), uint32(0), uint64(3)) // empty read past the end
	f.Fuzz(func(t *testing.T, size, off, length uint32, seed uint64) {
		plainSize := int(size % (4*chunkSize + 1))
		plain := pseudoRandomBytes(plainSize, seed)
		want := referenceCiphertext(t, fuzzEnvelope, plain)
		c := NewCiphertext(fuzzEnvelope, bytes.NewReader(plain), int64(plainSize))
		if c.Size() != int64(len(want)) {
			t.Fatalf("Size() = %d; want %d", c.Size(), len(want))
		}
		offset := int64(off) % (int64(len(want)) + 10)
		buf := make([]byte, length%(3*encChunkSize))
		n, err := c.ReadAt(buf, offset)
		end := min(offset+int64(len(buf)), int64(len(want)))
		wantN := int(max(end-offset, 0))
		if n != wantN {
			t.Fatalf("ReadAt(len %d, off %d) = %d bytes; want %d", len(buf), offset, n, wantN)
		}
		if wantEOF := wantN < len(buf) || offset >= c.Size(); wantEOF != errors.Is(err, io.EOF) || (err != nil && !errors.Is(err, io.EOF)) {
			t.Fatalf("ReadAt(len %d, off %d) error %v; want io.EOF: %v", len(buf), offset, err, wantEOF)
		}
		if wantN > 0 && !bytes.Equal(buf[:n], want[offset:end]) {
			t.Fatalf("ReadAt(len %d, off %d) bytes differ from sequential encryption", len(buf), offset)
		}
	})
}
