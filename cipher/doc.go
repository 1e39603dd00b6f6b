// Package cipher holds everything s3seal knows about cryptography: age
// recipients and identities, passphrase mode, resumable payload encryption
// and object-name hiding. It knows nothing about S3 or the catalog.
//
// Every object s3seal writes is a standard age v1 file. To let an
// interrupted multipart upload resume mid-file, the payload is not produced
// by age's writer but reproduced from the age specification: an [Envelope]
// holds the file key, the 16-byte payload nonce and the header that
// age.Encrypt built for the recipients (the file key is captured by wrapping
// one recipient). The stream key is HKDF-SHA256(file key, nonce, "payload");
// the plaintext is cut into 64 KiB chunks, each sealed with
// ChaCha20-Poly1305 under the nonce "11-byte big-endian chunk counter ||
// last-chunk flag". Because every chunk depends only on the Envelope, its
// index and its plaintext, [Ciphertext] can serve any byte range of the file
// by encrypting just the chunks that overlap it, and the bytes are the same
// on every run. Persisting the Envelope while an upload is in flight is
// what makes resumption possible; it must never encrypt different plaintext.
//
// Passphrase mode seals one random X25519 identity per target with age's
// scrypt recipient, once, so files cost an X25519 header instead of a scrypt
// each. Hidden object names are HMAC-SHA256 of the relative path under a
// per-target key, truncated to 160 bits and written in lowercase base32.
//
// A catalog mirror is signed inside its age header: [SigningRecipient] adds
// an "s3seal-signature" stanza with an Ed25519 signature over the target,
// the catalog generation and the plaintext's SHA-256, and
// [SignatureReader] finds it again on decryption. Other age tools skip the
// unknown stanza. The key is random per target, or in passphrase mode
// derived with HKDF from the target identity ([PassphraseSigningSeed]).
package cipher
