package gateway

import (
	"crypto"
	"errors"
	"io"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/time/rate"

	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
)

// transfer adapts one of storage's handles to ftpserverlib for the duration
// of one RETR or STOR: it counts bytes, passes ftpserverlib's TransferError
// on to the upload (so an interrupted upload is aborted), converts errors
// into safe replies, logs one line when the transfer ends and publishes the
// upload's event.
type transfer struct {
	file      stream
	up        *storage.Upload // nil for a download
	drv       *clientDriver
	name      string
	offset    int64
	start     time.Time
	limit     *rate.Limiter // nil: unlimited
	bytes     atomic.Int64
	interrupt error
}

// stream is what storage's Download and Upload both are; a download is
// also an io.WriterTo.
type stream interface {
	io.ReadWriteSeeker
	io.Closer
}

var (
	_ ftpserver.FileTransfer        = (*transfer)(nil)
	_ ftpserver.FileTransferError   = (*transfer)(nil)
	_ ftpserver.FileTransferDataEnd = (*transfer)(nil)
	_ io.WriterTo                   = (*transfer)(nil)
	_ stream                        = (*storage.Download)(nil)
	_ stream                        = (*storage.Upload)(nil)
	_ io.WriterTo                   = (*storage.Download)(nil)
)

// newTransfer starts accounting for a transfer of file: a *storage.Download
// with up nil, or an upload with up the same *storage.Upload as file.
func newTransfer(d *clientDriver, file stream, up *storage.Upload, name string, offset int64) *transfer {
	d.sess.transfers.Add(1)
	return &transfer{
		file: file, up: up, drv: d, name: name, offset: offset, start: time.Now(),
		limit: d.srv.bw.limiter(d.sess.user, up != nil),
	}
}

// Read reads from a download.
func (t *transfer) Read(p []byte) (int, error) {
	if t.limit != nil && len(p) > bandwidthBurst {
		p = p[:bandwidthBurst]
	}
	n, err := t.file.Read(p)
	t.bytes.Add(int64(n))
	if werr := wait(t.drv.sess.ctx, t.limit, n); werr != nil && err == nil {
		err = werr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, t.drv.reply("download", t.name, err)
	}
	return n, err
}

// WriteTo sends a download to w (the data connection): in the large
// pieces the download holds when the user's bandwidth is not limited,
// else through Read. An error of w is returned as it is, so ftpserverlib
// can tell a failed data connection from a failed download.
func (t *transfer) WriteTo(w io.Writer) (int64, error) {
	if t.limit != nil || t.up != nil {
		return io.CopyBuffer(writerOnly{w}, readerOnly{t}, make([]byte, bandwidthBurst))
	}
	cw := &countingWriter{w: w, n: &t.bytes}
	n, err := t.file.(io.WriterTo).WriteTo(cw)
	if err != nil && !errors.Is(err, cw.err) {
		return n, t.drv.reply("download", t.name, err)
	}
	return n, err
}

// countingWriter counts the bytes written to w and keeps w's error.
type countingWriter struct {
	w   io.Writer
	n   *atomic.Int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	if err != nil {
		c.err = err
	}
	return n, err
}

// writerOnly and readerOnly hide the ReaderFrom and WriterTo of what they
// hold, so io.CopyBuffer uses the buffer it is given.
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)

// Write writes to an upload.
func (t *transfer) Write(p []byte) (int, error) {
	if werr := wait(t.drv.sess.ctx, t.limit, len(p)); werr != nil {
		return 0, t.drv.reply("upload", t.name, werr)
	}
	n, err := t.file.Write(p)
	t.bytes.Add(int64(n))
	if err != nil {
		return n, t.drv.reply("upload", t.name, err)
	}
	return n, nil
}

// Seek passes ftpserverlib's REST seek on.
func (t *transfer) Seek(offset int64, whence int) (int64, error) {
	pos, err := t.file.Seek(offset, whence)
	return pos, t.drv.reply("seek", t.name, err)
}

// TransferError records the interruption and aborts an upload, which Close
// then discards.
func (t *transfer) TransferError(err error) {
	t.interrupt = err
	if t.up != nil {
		t.up.Abort(err)
	}
}

// DataEnded tells an upload that its data has all come, before ftpserverlib
// decides whether it may be stored: it starts storing meanwhile.
func (t *transfer) DataEnded() {
	if t.up != nil {
		t.up.DataEnded()
	}
}

// Close ends the transfer. For an upload, its error is the upload's: the
// client is told 226 only if the object was stored.
func (t *transfer) Close() error {
	defer t.drv.sess.transfers.Add(-1)
	err := t.file.Close()
	upload := t.up != nil
	op := "download"
	if upload {
		op = "upload"
	}
	result := "ok"
	switch {
	case t.interrupt != nil || errors.Is(err, storage.ErrAborted):
		result = "aborted"
	case err != nil:
		result = "failed"
	}
	log := t.drv.sess.log.With("op", op, "path", t.name, "bytes", t.bytes.Load(),
		"duration_ms", time.Since(t.start).Milliseconds(), "result", result)
	if t.offset > 0 {
		log = log.With("offset", t.offset)
	}
	switch {
	case t.interrupt != nil:
		log.Info("transfer", "reason", t.interrupt.Error())
	case err != nil && result == "aborted":
		log.Info("transfer", "reason", err.Error())
	case err != nil && upload:
		log.Warn("transfer", "err", err)
	default:
		log.Info("transfer")
	}
	t.drv.srv.observe.TransferDone(op, result, t.bytes.Load(), time.Since(t.start))
	t.drv.srv.recordTransfer(t, op, result, err)
	if result == "ok" && upload {
		t.publishUpload()
	}
	if err != nil && !upload {
		return nil // a download's close error changes nothing the client has
	}
	return t.drv.reply(op, t.name, err)
}

// publishUpload sends the event of a completed upload.
func (t *transfer) publishUpload() {
	r := t.up.Result()
	e := t.drv.event(events.TypeUpload, t.name, r.Key)
	e.Size, e.SHA256 = r.Size, r.Digests[crypto.SHA256]
	t.drv.srv.events.Publish(e)
}
