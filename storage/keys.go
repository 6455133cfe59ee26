package storage

import (
	"path"
	"strings"
	"unicode/utf8"
)

// MaxKeyBytes is the longest S3 object key, in bytes.
const MaxKeyBytes = 1024

// jail maps the paths an FTP user sees onto S3 keys under one prefix. It is the
// only place a key is made from client input: every key it returns starts with
// prefix, and its remainder has no empty, "." or ".." segment, so no input can
// name an object outside the user's prefix.
type jail struct {
	prefix string // "" (whole bucket) or ending in "/"
}

// newJail returns the jail for prefix, which is normalized to "" or "a/b/".
func newJail(prefix string) jail {
	p := strings.Trim(path.Clean("/"+prefix), "/")
	if p == "" || p == "." {
		return jail{}
	}
	return jail{prefix: p + "/"}
}

// clean resolves name (absolute, or relative to "/") inside the jail and
// returns it as "/a/b". Going above the root stays at the root, as in chroot.
func clean(name string) string {
	return path.Clean("/" + name)
}

// key returns the object key for the file at name. The root has no file key:
// for "/" it returns ErrInvalidName. The checks refuse what S3 or the XML of
// its listings cannot carry faithfully: invalid UTF-8, control characters and
// keys over MaxKeyBytes.
func (j jail) key(name string) (string, error) {
	rel := strings.TrimPrefix(clean(name), "/")
	if rel == "" {
		return "", ErrInvalidName
	}
	if err := checkName(rel); err != nil {
		return "", err
	}
	k := j.prefix + rel
	if len(k) > MaxKeyBytes {
		return "", ErrNameTooLong
	}
	return k, nil
}

// dirPrefix returns the listing prefix of the directory at name: the key
// followed by "/", or the jail's prefix itself for the root.
func (j jail) dirPrefix(name string) (string, error) {
	rel := strings.TrimPrefix(clean(name), "/")
	if rel == "" {
		return j.prefix, nil
	}
	k, err := j.key(name)
	if err != nil {
		return "", err
	}
	if len(k)+1 > MaxKeyBytes {
		return "", ErrNameTooLong
	}
	return k + "/", nil
}

// name returns the FTP path of key, which must start with the jail's prefix.
func (j jail) name(key string) string {
	return "/" + strings.TrimSuffix(strings.TrimPrefix(key, j.prefix), "/")
}

// checkName refuses relative paths that S3 cannot store faithfully.
func checkName(rel string) error {
	if !utf8.ValidString(rel) {
		return ErrInvalidName
	}
	for _, r := range rel {
		if r < 0x20 || r == 0x7f {
			return ErrInvalidName
		}
	}
	return nil
}

// isRoot reports whether name is the user's root directory.
func isRoot(name string) bool { return clean(name) == "/" }

// Key returns the object key of the file at name, as the other methods map
// it, or ErrInvalidName / ErrNameTooLong.
func (f *Fs) Key(name string) (string, error) { return f.jail.key(name) }
