package gateway

import (
	"errors"
	"io/fs"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/s3ftp/s3ftp/storage"
)

// replyError is what the FTP client is shown for a failed operation: a short
// reason (ftpserverlib's reply names the path), never a bucket, key,
// endpoint or S3 request id. ftpserverlib writes err.Error() into its reply
// and picks the reply code with errors.Is on its sentinels, so replyError
// unwraps to the ftpserverlib sentinel (if any) and to the error's kind
// (fs.ErrNotExist, ...) for callers that branch on it.
type replyError struct {
	msg  string
	code error // ftpserver.ErrStorageExceeded (552), ErrFileNameNotAllowed (553), ErrFileUnavailable (450), ErrTransient (451), or nil (550)
	kind error
}

func (e *replyError) Error() string { return e.msg }

func (e *replyError) Unwrap() []error {
	if e.code == nil {
		return []error{e.kind}
	}
	return []error{e.code, e.kind}
}

// replyKinds maps each error kind to the reason shown and the ftpserverlib
// sentinel that selects a reply code other than 550. The first match wins.
// storage.ErrRefused comes first: it also wraps the S3 error, whatever its
// kind, and is the operator's problem, shown without details.
var replyKinds = []struct {
	kind error
	msg  string
	code error
}{
	{storage.ErrRefused, "storage refused the request, contact the administrator", nil},
	{fs.ErrNotExist, "no such file or directory", nil},
	{fs.ErrExist, "file exists", nil},
	{fs.ErrPermission, "permission denied", nil},
	{storage.ErrIsDir, "is a directory", nil},
	{storage.ErrNotDir, "not a directory", nil},
	{storage.ErrNotEmpty, "directory not empty", nil},
	{storage.ErrInvalidName, "file name not allowed", ftpserver.ErrFileNameNotAllowed},
	{storage.ErrNameTooLong, "file name too long", ftpserver.ErrFileNameNotAllowed},
	{storage.ErrTooLarge, "file too large", ftpserver.ErrStorageExceeded},
	{storage.ErrTooMany, "too many entries for one operation", nil},
	{storage.ErrUnsupported, "operation not supported", nil},
	{storage.ErrChanged, "the file changed meanwhile (another client wrote it): try again", ftpserver.ErrFileUnavailable},
	{storage.ErrAborted, "transfer aborted, nothing was stored", nil},
	{fs.ErrInvalid, "invalid argument", nil},
}

// toReply converts an error from the file system into the error the client
// sees. Unknown errors (S3 unreachable, stalled, throttling, ...) become
// "storage temporarily unavailable" with a transient code (451, 421 at
// login: a device retries it; a 550 tells it the file is refused); report says whether the original should be logged because
// it is not the client's doing: every storage.ErrBackend (which
// storage.ErrRefused wraps).
func toReply(err error) (reply error, report bool) {
	if err == nil {
		return nil, false
	}
	var re *replyError
	if errors.As(err, &re) {
		return re, false
	}
	for _, k := range replyKinds {
		if errors.Is(err, k.kind) {
			return &replyError{msg: k.msg, code: k.code, kind: k.kind}, errors.Is(err, storage.ErrBackend)
		}
	}
	return &replyError{msg: "storage temporarily unavailable", code: ftpserver.ErrTransient, kind: storage.ErrBackend}, true
}

// errPermission is the reply for an operation the user's permissions forbid.
var errPermission = &replyError{msg: "permission denied", kind: fs.ErrPermission}

// errLoginUnavailable is the reply when the user store cannot be reached:
// 421, the session closed, so the client logs in again later (a 530 says
// the password is wrong).
var errLoginUnavailable = &replyError{msg: "login temporarily unavailable, try again later", code: ftpserver.ErrTransient, kind: storage.ErrBackend}

// errShuttingDown is the reply to a transfer asked for during a shutdown.
var errShuttingDown = &replyError{msg: "service shutting down, try again later", code: ftpserver.ErrTransient, kind: storage.ErrAborted}

// Reasons a passive port is refused (421) or was given back (425).
var (
	errPassiveShareAddr = errors.New("too many passive ports held from your address, try again later")
	errPassiveShareUser = errors.New("too many passive ports held by this user, try again later")
	errPassiveExpired   = errors.New("passive port closed: no data connection within the data timeout, send PASV or EPSV again")
)

// passiveRefusals maps why no passive port could be opened for PASV/EPSV
// to the reason shown (421) and the reason label of the metric. The first
// match wins: ErrPassivePortsBusy wraps ErrNoAvailableListeningPort.
var passiveRefusals = []struct {
	kind        error
	msg, reason string
}{
	{ftpserver.ErrPassivePortsBusy, "every passive port is waiting for another transfer from your address, try again when one ends", "ports_busy_for_address"},
	{ftpserver.ErrNoAvailableListeningPort, "no passive port is free, try again later", "no_free_port"},
	{errPassiveShareAddr, errPassiveShareAddr.Error(), "share_address"},
	{errPassiveShareUser, errPassiveShareUser.Error(), "share_user"},
}

// passiveRefusal returns the reply text and the metric's reason for err,
// the reason no passive port could be opened; an unknown err (a listen
// error) is not shown.
func passiveRefusal(err error) (reply, reason string) {
	const prefix = "Could not listen for passive connection: "
	for _, r := range passiveRefusals {
		if errors.Is(err, r.kind) {
			return prefix + r.msg, r.reason
		}
	}
	return prefix + "internal error, try again later", "listen_error"
}
