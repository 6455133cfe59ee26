package ftpserver

import (
	"errors"
)

var (
	// ErrStorageExceeded defines the error mapped to the FTP 552 reply code.
	// As for RFC 959 this error is checked for STOR, APPE
	ErrStorageExceeded = errors.New("storage limit exceeded")
	// ErrFileNameNotAllowed defines the error mapped to the FTP 553 reply code.
	// As for RFC 959 this error is checked for STOR, APPE, RNTO
	ErrFileNameNotAllowed = errors.New("filename not allowed")
)

func getErrorCode(err error, defaultCode int) int {
	switch {
	case errors.Is(err, ErrStorageExceeded):
		return StatusActionAborted
	case errors.Is(err, ErrFileNameNotAllowed):
		return StatusActionNotTakenNoFile
	default:
		return defaultCode
	}
}

// DriverError is a wrapper is for any error that occur while contacting the drivers
type DriverError struct {
	str string
	err error
}

func newDriverError(str string, err error) DriverError {
	return DriverError{str: str, err: err}
}

// Error returns the driver's message only: it goes to the client, which has
// no use for "calling GetHandle" (s3ftp patch).
func (e DriverError) Error() string {
	return e.err.Error()
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

// Error names what failed without the socket error, which gives the
// server's internal addresses away (s3ftp patch).
func (e NetworkError) Error() string {
	return "network error: " + e.str
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

// Error returns the underlying message only (s3ftp patch).
func (e FileAccessError) Error() string {
	return e.err.Error()
}

func (e FileAccessError) Unwrap() error {
	return e.err
}
