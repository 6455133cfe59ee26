package gateway

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/time/rate"

	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
)

// transfer wraps a file handle for the duration of one RETR or STOR: it counts
// bytes, passes ftpserverlib's TransferError on to the handle (so an
// interrupted upload is aborted), converts errors into safe replies and logs
// one line when the transfer ends.
type transfer struct {
	ftpserver.FileTransfer
	drv       *clientDriver
	name      string
	upload    bool
	offset    int64
	start     time.Time
	limit     *rate.Limiter // nil: unlimited
	bytes     atomic.Int64
	interrupt error
}

var _ ftpserver.FileTransferError = (*transfer)(nil)

// newTransfer starts accounting for a transfer of h.
func newTransfer(d *clientDriver, h ftpserver.FileTransfer, name string, upload bool, offset int64) *transfer {
	d.sess.transfers.Add(1)
	return &transfer{
		FileTransfer: h, drv: d, name: name, upload: upload, offset: offset, start: time.Now(),
		limit: d.srv.bw.limiter(d.sess.user, upload),
	}
}

// uploadResult is implemented by the storage's upload handles: what was
// stored, for the upload event.
type uploadResult interface {
	UploadResult() (key string, size int64, sha256 string)
}

// Read reads from a download.
func (t *transfer) Read(p []byte) (int, error) {
	if t.limit != nil && len(p) > bandwidthBurst {
		p = p[:bandwidthBurst]
	}
	n, err := t.FileTransfer.Read(p)
	t.bytes.Add(int64(n))
	if werr := wait(t.drv.sess.ctx, t.limit, n); werr != nil && err == nil {
		err = werr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, t.drv.reply("download", t.name, err)
	}
	return n, err
}

// Write writes to an upload.
func (t *transfer) Write(p []byte) (int, error) {
	if werr := wait(t.drv.sess.ctx, t.limit, len(p)); werr != nil {
		return 0, t.drv.reply("upload", t.name, werr)
	}
	n, err := t.FileTransfer.Write(p)
	t.bytes.Add(int64(n))
	if err != nil {
		return n, t.drv.reply("upload", t.name, err)
	}
	return n, nil
}

// Seek passes ftpserverlib's REST seek on.
func (t *transfer) Seek(offset int64, whence int) (int64, error) {
	pos, err := t.FileTransfer.Seek(offset, whence)
	return pos, t.drv.reply("seek", t.name, err)
}

// TransferError records the interruption and tells the handle, which then
// discards the upload on Close.
func (t *transfer) TransferError(err error) {
	t.interrupt = err
	if te, ok := t.FileTransfer.(ftpserver.FileTransferError); ok {
		te.TransferError(err)
	}
}

// Close ends the transfer. For an upload, its error is the upload's: the
// client is told 226 only if the object was stored.
func (t *transfer) Close() error {
	defer t.drv.sess.transfers.Add(-1)
	err := t.FileTransfer.Close()
	op := "download"
	if t.upload {
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
	case err != nil && t.upload:
		log.Warn("transfer", "err", err)
	default:
		log.Info("transfer")
	}
	t.drv.srv.observe.TransferDone(op, result, t.bytes.Load(), time.Since(t.start))
	t.drv.srv.recordTransfer(t, op, result, err)
	if result == "ok" && t.upload {
		t.publishUpload()
	}
	if err != nil && !t.upload {
		return nil // a download's close error changes nothing the client has
	}
	return t.drv.reply(op, t.name, err)
}

// publishUpload sends the event of a completed upload.
func (t *transfer) publishUpload() {
	r, ok := t.FileTransfer.(uploadResult)
	if !ok {
		return
	}
	key, size, sum := r.UploadResult()
	e := t.drv.event(events.TypeUpload, t.name, key)
	e.Size, e.SHA256 = size, sum
	t.drv.srv.events.Publish(e)
}
