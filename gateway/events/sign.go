package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of every webhook request besides Content-Type and User-Agent.
const (
	HeaderEvent     = "X-S3ftp-Event"     // the event's type
	HeaderDelivery  = "X-S3ftp-Delivery"  // the event's id, the same in retries
	HeaderTimestamp = "X-S3ftp-Timestamp" // Unix seconds when this attempt was sent
	HeaderSignature = "X-S3ftp-Signature" // "sha256=" + hex HMAC, with a secret
)

// Errors of Verify.
var (
	ErrBadSignature = errors.New("events: missing or bad signature")
	ErrStale        = errors.New("events: timestamp outside the tolerated window")
)

// Sign returns the X-S3ftp-Signature value of body sent at timestamp (the
// X-S3ftp-Timestamp value): "sha256=" followed by the lower-case hex
// HMAC-SHA256, keyed with secret, of timestamp + "." + body.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is the receiver's check of a request with headers h and body body,
// for Go receivers: the signature must match (compared in constant time) and
// the timestamp must be within tolerance of now. It returns an error wrapping
// ErrBadSignature or ErrStale otherwise. Replays inside the window are the
// receiver's to catch, by remembering X-S3ftp-Delivery ids for at least
// tolerance (which de-duplicating retries does anyway).
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	got, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if !ok || ts == "" {
		return fmt.Errorf("%w: no %s or %s header", ErrBadSignature, HeaderSignature, HeaderTimestamp)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%w: not hex", ErrBadSignature)
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, ts, body), "sha256="))
	if !hmac.Equal(gotMAC, want) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Second))
	}
	return nil
}
