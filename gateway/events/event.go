package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event types: the value of Event.Type and of the X-S3ftp-Event header.
// Config.Types selects which of them are sent.
const (
	TypeUpload = "upload" // a STOR/APPE completed and the object is stored
	TypeDelete = "delete" // DELE removed an object
	TypeRename = "rename" // RNFR/RNTO moved an object from OldKey to Key
	// TypeUserSilent: a user with an upload expectation went past it
	// without an upload; TypeUserResumed: a silent user is no longer
	// (it uploaded, or was disabled, or lost its expectation). Each is
	// announced once per change by one gateway of those sharing a store.
	TypeUserSilent  = "user.silent"
	TypeUserResumed = "user.resumed"
)

// timeFormat is the fixed form of Event.Time on the wire: RFC 3339, UTC,
// always three fractional digits, so every JSON and ISO 8601 parser reads it.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Event is one thing that happened to an object. Its JSON form is the body of
// every webhook POST and a contract consumers rely on (docs/events.md):
// fields are only ever added, never renamed or removed, so receivers must
// ignore fields they do not know.
//
// The same event (same ID, same body) may arrive more than once: delivery is
// at least once, retried after timeouts and errors, so receivers de-duplicate
// on ID. Events are not ordered: compare Time, not arrival order.
type Event struct {
	// ID is unique per event: 32 lower-case hex digits (16 random bytes),
	// identical in every retry and for every URL. Publish fills it in
	// when empty.
	ID string `json:"id"`
	// Type is TypeUpload, TypeDelete, TypeRename, TypeUserSilent or
	// TypeUserResumed.
	Type string `json:"type"`
	// Time is when the operation completed. Publish fills in the current
	// time when zero. On the wire: RFC 3339 in UTC with milliseconds,
	// e.g. "2025-03-01T12:00:00.123Z".
	Time time.Time `json:"time"`
	// User is the FTP login name.
	User string `json:"user"`
	// Bucket and Key name the S3 object (after a rename: its new key).
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Path is the FTP path the client used, relative to its home ("/scans/a.pdf").
	Path string `json:"path"`
	// Size is the object's size in bytes (0 when the gateway does not know
	// it, e.g. for a delete).
	Size int64 `json:"size"`
	// SHA256 is the object's SHA-256 as 64 lower-case hex digits, when
	// known; omitted otherwise.
	SHA256 string `json:"sha256,omitempty"`
	// OldKey and OldPath are a rename's source; omitted for other types.
	OldKey  string `json:"old_key,omitempty"`
	OldPath string `json:"old_path,omitempty"`
	// ClientIP is the FTP client's address (IPv4 or IPv6, no port).
	ClientIP string `json:"client_ip"`
	// Session is the gateway's id of the FTP session, as in its logs.
	Session string `json:"session"`
	// ExpectUploadEvery is the user's upload expectation (a Go duration
	// string) in user.silent and user.resumed events, whose Path and Size
	// are those of the user's last upload (empty if it never uploaded);
	// omitted otherwise.
	ExpectUploadEvery string `json:"expect_upload_every,omitempty"`
	// LastUpload is when the user's last upload completed, in the form of
	// Time, in user.silent and user.resumed events; omitted otherwise.
	LastUpload string `json:"last_upload,omitempty"`
}

// FormatTime formats t as Event.Time and Event.LastUpload are sent.
func FormatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// MarshalJSON encodes e with Time in the fixed form described on Event.Time.
// It fails only if Time is outside years 0-9999.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // same fields, without this method
	t := e.Time.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, fmt.Errorf("events: time %s outside years 0-9999", t)
	}
	return json.Marshal(struct {
		plain
		Time string `json:"time"`
	}{plain(e), FormatTime(t)})
}

// newID returns 16 random bytes as 32 hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
