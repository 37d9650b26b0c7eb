package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// TokenMarker starts every token DB-Forge mints, so that a key is
	// recognisable in a config file or a secret scanner's report.
	TokenMarker = "dbf_"
	// tokenBytes of randomness in a key: 256 bits.
	tokenBytes = 32
	// prefixChars of the token after the marker are kept as the key's
	// display prefix: 48 of its 256 bits, leaving 208 secret.
	prefixChars = 8
	// MaxTokenLength is the longest token Verify looks at; anything longer
	// is unknown without being hashed. Minted tokens are 47 characters.
	MaxTokenLength = 256
	// MinAdminKeyLength is the shortest admin key accepted from
	// FORGE_ADMIN_KEY or the admin key file: about 190 bits of base64, or
	// 128 of hex. A guessable admin key would open every database.
	MinAdminKeyLength = 32
)

// digest is the SHA-256 of a token: what is stored and looked up.
//
// A fast hash is the right one here. Password hashes (bcrypt, argon2) are
// slow to make guessing a low-entropy secret expensive; a minted key has
// 256 random bits, which no amount of guessing covers, so slowness would
// only cost every request time. (The admin key given by FORGE_ADMIN_KEY may
// be chosen by a person: it must be at least MinAdminKeyLength characters,
// and its digest is never written anywhere.)
type digest [sha256.Size]byte

// hashToken digests a token held as a string or bytes. The token is
// copied into a stack buffer first: converting a string of more than 32
// bytes to a slice, or passing the slice on, would allocate on every
// request. Callers have checked len(tok) <= MaxTokenLength.
func hashToken[T string | []byte](tok T) digest {
	var buf [MaxTokenLength]byte
	n := copy(buf[:], tok)
	return sha256.Sum256(buf[:n])
}

// newToken mints a token: the marker, then 32 random bytes in unpadded
// base64url (43 characters).
func newToken() (Secret, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Secret{}, fmt.Errorf("random token: %w", err)
	}
	return newSecret(TokenMarker + base64.RawURLEncoding.EncodeToString(b[:])), nil
}

// newKeyID makes a key id: "key_" and 12 hex digits (48 random bits; the
// caller retries on the unlikely clash with an existing id).
func newKeyID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random key id: %w", err)
	}
	return "key_" + hex.EncodeToString(b[:]), nil
}

// displayPrefix is the part of a token safe to show: the marker and the
// next prefixChars characters. A token without the marker (an admin key
// chosen by a person) shows nothing.
func displayPrefix(tok string) string {
	if !strings.HasPrefix(tok, TokenMarker) || len(tok) < len(TokenMarker)+prefixChars+16 {
		return ""
	}
	return tok[:len(TokenMarker)+prefixChars]
}

// checkAdminToken vets an admin key given by a person: long enough to be
// unguessable, short enough to be checked, and visible ASCII only so that
// it fits in a header unchanged.
func checkAdminToken(tok string) error {
	if len(tok) < MinAdminKeyLength {
		return fmt.Errorf("%w: %d characters, want at least %d (e.g. openssl rand -hex 32)",
			ErrWeakAdminKey, len(tok), MinAdminKeyLength)
	}
	if len(tok) > MaxTokenLength {
		return fmt.Errorf("%w: %d characters, want at most %d", ErrWeakAdminKey, len(tok), MaxTokenLength)
	}
	if !plainToken([]byte(tok)) {
		return fmt.Errorf("%w: only visible ASCII characters, no spaces", ErrWeakAdminKey)
	}
	return nil
}
