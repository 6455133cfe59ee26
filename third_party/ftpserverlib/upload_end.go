package ftpserver

// The end of an upload (s3ftp patch, the whole file).
//
// FTP says an upload (STOR, APPE) is complete when its data connection
// reaches end of file, and a client killed mid-upload also ends its data
// connection with a clean end of file (its kernel sends FIN). The library
// reads the data connection in the transfer goroutine and the control
// connection in the session's read loop, so which of the two ends it saw
// first used to depend on goroutine timing, and the session's end
// (ClientDisconnected) did not wait for the upload. The rule is now decided
// at one point, when the data connection reaches end of file
// (uploadMayCommit):
//
//   - the client closed or reset the control connection without QUIT before
//     that point, or within Settings.UploadEndGrace after it (a killed
//     client's kernel closes both connections at once, often the data
//     connection first): the upload is refused (TransferError with
//     errControlClosed before Close), so the driver discards it;
//   - otherwise it may be stored, and the session's end (end) waits for its
//     Close and reply before calling ClientDisconnected.
//
// "Before that point" is what the server's kernel tells: a FIN or RST that
// has arrived on the control connection counts even if the read loop has not
// read it yet (peerClosed). Then the decision waits for the read loop to
// reach that end of file, to read QUIT (a client that sent QUIT before
// hanging up ended the session on purpose: the upload completes), or to stop
// behind the upload (a command it waits to run after the transfer: the
// client hung up with it queued).
//
// A file that implements FileTransferDataEnd is told of the end of file
// before the decision (and the grace it may wait), so that it can start
// storing meanwhile what Close or TransferError then completes or discards.
//
// An upload announced by ALLO must also carry exactly that size: a byte more
// is refused at once with 552, fewer at end of file with 426 (uploadSize).

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

var (
	// errControlClosed is given to TransferError when the client closed the
	// control connection (without QUIT) before the upload's data connection
	// reached end of file.
	errControlClosed = errors.New("the control connection closed before the upload's end of file")
	// errUploadShort: the data connection reached end of file before the
	// size ALLO announced; replied with 426.
	errUploadShort = errors.New("the data connection ended before the size announced by ALLO")
)

// controlWatch is what the session's read loop tells an upload's end about
// the control connection, and what the session's end waits for. The zero
// value is ready to use.
type controlWatch struct {
	mu         sync.Mutex
	changed    *sync.Cond // on mu; nil until first needed
	gone       bool       // the read loop ended: the control connection is closed
	quit       bool       // QUIT was read
	queued     bool       // the read loop waits for the transfer to end before it reads on
	committing int        // uploads allowed to complete and not yet answered
}

// wait waits for a change; mu is held.
func (w *controlWatch) wait() {
	if w.changed == nil {
		w.changed = sync.NewCond(&w.mu)
	}

	w.changed.Wait()
}

// set changes the state under the lock and wakes whoever waits.
func (w *controlWatch) set(change func()) {
	w.mu.Lock()
	defer w.mu.Unlock()

	change()

	if w.changed != nil {
		w.changed.Broadcast()
	}
}

// ended records that the read loop has ended, then waits until every
// upload allowed to complete has been answered; onWait is called first if
// one has not.
func (w *controlWatch) ended(onWait func()) {
	w.set(func() { w.gone = true })

	w.mu.Lock()
	defer w.mu.Unlock()

	if w.committing > 0 {
		onWait()
	}

	for w.committing > 0 {
		w.wait()
	}
}

// quitting records that QUIT was read.
func (w *controlWatch) quitting() { w.set(func() { w.quit = true }) }

// waitBehindTransfer records that the read loop waits (queued) or no longer
// waits for the transfer to end before it reads the next command.
func (w *controlWatch) waitBehindTransfer(queued bool) { w.set(func() { w.queued = queued }) }

// uploadMayCommit decides whether an upload whose data connection has just
// reached end of file may be stored: errControlClosed if the client closed
// the control connection first, else nil, and then the session's end waits
// for commitDone.
func (c *clientHandler) uploadMayCommit() error {
	w := &c.watch
	w.mu.Lock()
	defer w.mu.Unlock()

	graced := c.server.settings.UploadEndGrace <= 0

	for {
		switch {
		case w.quit:
		case w.gone:
			return errControlClosed
		case !peerClosed(c.conn):
			if !graced { // a killed client's control connection may end just after
				graced = true

				w.mu.Unlock()
				time.Sleep(c.server.settings.UploadEndGrace)
				w.mu.Lock()

				continue
			}
		case w.queued:
			return errControlClosed
		default:
			// The client's FIN or RST is in: let the read loop reach it.
			w.wait()

			continue
		}

		w.committing++

		return nil
	}
}

// commitDone ends what uploadMayCommit allowed, once the upload is answered.
func (c *clientHandler) commitDone() { c.watch.set(func() { c.watch.committing-- }) }

// uploadEnd is called when an upload's data connection reached end of file
// after the bytes size counted (nil: no size announced). It returns nil if
// the upload may be stored (the caller then calls commitDone once it has
// replied), else why not, which the driver is told by TransferError.
func (c *clientHandler) uploadEnd(file FileTransfer, size *uploadSize) error {
	err := size.end()
	if err == nil {
		if ended, ok := file.(FileTransferDataEnd); ok { // the driver may start storing it meanwhile
			ended.DataEnded()
		}

		err = c.uploadMayCommit()
	}

	if err != nil {
		if fileTransferError, ok := file.(FileTransferError); ok {
			fileTransferError.TransferError(err)
		}
	}

	return err
}

// uploadSize counts the bytes an upload writes against the size ALLO
// announced. ALLO gives the size of the file: for STOR after REST offset,
// the data connection carries announced-offset bytes; for APPE (offset 0) it
// carries announced bytes, appended.
type uploadSize struct {
	w         io.Writer
	announced int64 // by ALLO
	offset    int64 // REST offset
	got       int64 // bytes written
	err       error // set when a write went past the announced size
}

// takeAllo returns the size check of the transfer about to start and
// forgets the ALLO: it applies to the next transfer only, and only to an
// upload in binary mode (in ASCII mode line endings change the count). An
// announced size below the REST offset is an error.
func (c *clientHandler) takeAllo(write bool) (*uploadSize, error) {
	announced, ok := c.ctxAllo, c.hasAllo
	c.hasAllo = false

	if !ok || !write || c.currentTransferType == TransferTypeASCII {
		return nil, nil //nolint:nilnil // no size to check
	}

	if announced < c.ctxRest {
		return nil, fmt.Errorf("the REST offset %d is past the %d bytes announced by ALLO", c.ctxRest, announced)
	}

	return &uploadSize{announced: announced, offset: c.ctxRest}, nil
}

// Write writes p unless it would go past the announced size.
func (s *uploadSize) Write(p []byte) (int, error) {
	if s.offset+s.got+int64(len(p)) > s.announced {
		s.err = fmt.Errorf("%w: the upload is larger than the %d bytes announced by ALLO", ErrStorageExceeded, s.announced)

		return 0, s.err
	}

	n, err := s.w.Write(p)
	s.got += int64(n)

	return n, err //nolint:wrapcheck // the file's own error
}

// end returns errUploadShort (wrapped) if fewer bytes than announced came.
func (s *uploadSize) end() error {
	if s == nil || s.offset+s.got == s.announced {
		return nil
	}

	return fmt.Errorf("%w: the file ends at byte %d, ALLO announced %d", errUploadShort, s.offset+s.got, s.announced)
}
