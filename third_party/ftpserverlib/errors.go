package ftpserver

import (
	"errors"
	"fmt"
	"net"
)

var (
	// ErrStorageExceeded defines the error mapped to the FTP 552 reply code.
	// As for RFC 959 this error is checked for STOR, APPE
	ErrStorageExceeded = errors.New("storage limit exceeded")
	// ErrFileNameNotAllowed defines the error mapped to the FTP 553 reply code.
	// As for RFC 959 this error is checked for STOR, APPE, RNTO
	ErrFileNameNotAllowed = errors.New("filename not allowed")
	// ErrFileUnavailable defines the error mapped to the FTP 450 reply code
	// (file unavailable, e.g. busy: a transient refusal the client may
	// retry), checked where ErrStorageExceeded is. s3ftp patch.
	ErrFileUnavailable = errors.New("file unavailable")
	// ErrTransient marks a driver error as temporary (the storage behind the
	// driver unreachable, throttling): the reply is 451 (local error, try
	// again) where it would be 550 or 552/553, and 421 to PASS. RFC 959 tells
	// a client a 4xx may succeed if repeated, a 5xx will not. s3ftp patch.
	ErrTransient = errors.New("temporary failure")
	// ErrCommandLineTooLong is the DisconnectReason of a control connection
	// closed for a command line over 4,096 bytes. s3ftp patch.
	ErrCommandLineTooLong = errors.New("command line too long")
	// ErrCommandLineIncomplete is the DisconnectReason of a control connection
	// closed because a command line begun was not complete within the idle
	// timeout (a slow sender). s3ftp patch.
	ErrCommandLineIncomplete = errors.New("command line not complete within the idle timeout")
)

func getErrorCode(err error, defaultCode int) int {
	switch {
	case errors.Is(err, ErrTransient): // s3ftp patch
		return StatusLocalError
	case errors.Is(err, ErrStorageExceeded):
		return StatusActionAborted
	case errors.Is(err, ErrFileNameNotAllowed):
		return StatusActionNotTakenNoFile
	case errors.Is(err, errUploadShort): // s3ftp patch
		return StatusTransferAborted
	case errors.Is(err, ErrFileUnavailable): // s3ftp patch
		return StatusFileActionNotTaken
	}

	// s3ftp patch: a transfer that failed while data moved says which side failed
	var failure *transferFailure
	if errors.As(err, &failure) {
		return failure.code
	}

	return defaultCode
}

// transientCode is 451 for an ErrTransient error, defaultCode otherwise: the
// replies that carry a driver error and used to be 550 whatever the error.
// s3ftp patch.
func transientCode(err error, defaultCode int) int {
	if errors.Is(err, ErrTransient) {
		return StatusLocalError
	}

	return defaultCode
}

// DriverError is a wrapper is for any error that occur while contacting the drivers
type DriverError struct {
	str string
	err error
}

func newDriverError(str string, err error) DriverError {
	return DriverError{str: str, err: err}
}

func (e DriverError) Error() string {
	return fmt.Sprintf("driver error: %s: %v", e.str, e.err)
}

func (e DriverError) Unwrap() error {
	return e.err
}

// NetworkError is a wrapper for any error that occur while contacting the network
type NetworkError struct {
	str string
	err error
}

func newNetworkError(str string, err error) NetworkError {
	return NetworkError{str: str, err: err}
}

func (e NetworkError) Error() string {
	return fmt.Sprintf("network error: %s: %v", e.str, e.err)
}

func (e NetworkError) Unwrap() error {
	return e.err
}

// FileAccessError is a wrapper for any error that occur while accessing the file system
type FileAccessError struct {
	str string
	err error
}

func newFileAccessError(str string, err error) FileAccessError {
	return FileAccessError{str: str, err: err}
}

func (e FileAccessError) Error() string {
	return fmt.Sprintf("file access error: %s: %v", e.str, e.err)
}

func (e FileAccessError) Unwrap() error {
	return e.err
}

// replyText is the text of err for a reply to the client. The library's
// wrappers name its internal steps, and a socket error (net.Error) names the
// server's internal addresses; the client is told the driver's own message
// (DriverError, FileAccessError) and, for a NetworkError, what failed with its
// cause unless that is a socket error. Error() keeps the whole chain for the
// program and its logs. s3ftp patch.
func replyText(err error) string {
	var netErr NetworkError
	if errors.As(err, &netErr) {
		var sockErr net.Error
		if netErr.err == nil || errors.As(netErr.err, &sockErr) {
			return "network error: " + netErr.str
		}

		return "network error: " + netErr.str + ": " + replyText(netErr.err)
	}

	var drvErr DriverError
	if errors.As(err, &drvErr) && drvErr.err != nil {
		return drvErr.err.Error()
	}

	var accessErr FileAccessError
	if errors.As(err, &accessErr) && accessErr.err != nil {
		return accessErr.err.Error()
	}

	return err.Error()
}
