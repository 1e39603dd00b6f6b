package cipher_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"

	"filippo.io/age"
	"github.com/s3seal/s3seal/cipher"
)

// An interrupted upload resumes by persisting the Envelope and asking the
// Ciphertext for the missing byte ranges; any range has the same bytes as
// a single sequential read.
func ExampleNewCiphertext() {
	identity, err := age.GenerateX25519Identity()
	if err != nil {
		log.Fatal(err)
	}
	envelope, err := cipher.NewEnvelope(identity.Recipient())
	if err != nil {
		log.Fatal(err)
	}
	plain := []byte(strings.Repeat("resumable ", 20000)) // 200000 bytes, four chunks
	ciphertext := cipher.NewCiphertext(envelope, bytes.NewReader(plain), int64(len(plain)))

	// Upload in two "parts", the second one as if after a restart.
	file := make([]byte, ciphertext.Size())
	split := int64(100000)
	if _, err := ciphertext.ReadAt(file[:split], 0); err != nil {
		log.Fatal(err)
	}
	resumed := cipher.NewCiphertext(envelope, bytes.NewReader(plain), int64(len(plain)))
	if _, err := resumed.ReadAt(file[split:], split); err != nil {
		log.Fatal(err)
	}

	r, err := cipher.Decrypt(bytes.NewReader(file), identity)
	if err != nil {
		log.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("size formula holds:", ciphertext.Size() == envelope.CiphertextSize(int64(len(plain))))
	fmt.Println("overhead:", ciphertext.Size()-int64(len(envelope.Header))-int64(len(plain)), "bytes")
	fmt.Println("round trip:", bytes.Equal(got, plain))
	// Output:
	// size formula holds: true
	// overhead: 80 bytes
	// round trip: true
}

func ExampleNaming() {
	plain := cipher.Naming{}
	fmt.Println(plain.ObjectKey("archive", "photos/2024/cat.jpg"))

	hidden := cipher.Naming{Hidden: true, Key: bytes.Repeat([]byte{7}, 32)}
	fmt.Println(hidden.ObjectKey("archive", "photos/2024/cat.jpg"))
	fmt.Println(cipher.MetaKey("archive", "catalog.age"))
	// Output:
	// archive/photos/2024/cat.jpg
	// archive/f2/x6lu4mgbhckeohi7vwglx2enemr25q
	// archive/.s3seal/catalog.age
}
