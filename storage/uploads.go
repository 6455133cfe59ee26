package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Multipart uploads left behind.
//
// S3 keeps the parts of a multipart upload until it is completed or aborted.
// A gateway killed mid-upload, or one whose AbortMultipartUpload failed
// because S3 was down, leaves one behind. S3 cannot tell which gateway
// started an upload: ListMultipartUploads returns only key, upload id,
// initiator and date, and object metadata given to CreateMultipartUpload is
// readable only once the upload is complete. So each gateway instance marks
// its uploads in a ledger of its own: every upload it starts is recorded
// (bucket, key, upload id) in a journal file (Settings.UploadJournal) before
// the first part is sent, and removed once completed or aborted. An upload
// whose abort fails stays in the ledger, marked left over; at start every
// journal entry is left over (nothing is in flight in a new process). Sweep
// aborts the left-over ones and keeps those S3 still refuses for the next
// sweep. The ledger holds at most maxLeftOver of them; beyond, an upload is
// logged and forgotten, and the bucket's AbortIncompleteMultipartUpload
// lifecycle rule (docs/operations.md) is the backstop, as it is for an
// instance whose journal is lost.

// maxLeftOver bounds the uploads kept for a later abort.
const maxLeftOver = 10000

// uploadRef names one multipart upload.
type uploadRef struct {
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
}

// ledger is an instance's record of its multipart uploads: in flight
// (true) or left over to abort (false), mirrored to a journal file.
type ledger struct {
	path string   // "" keeps the ledger in memory only
	lock *os.File // holds the journal's flock(2) lock while the ledger is open
	log  *slog.Logger

	mu      sync.Mutex
	uploads map[uploadRef]bool
}

// ErrJournalInUse is returned by NewService when another Service, in this or
// another process, has the same UploadJournal open: two gateways sharing one
// journal would abort each other's uploads in flight when they start.
var ErrJournalInUse = errors.New("upload journal is in use by another gateway")

// openLedger locks and reads the journal at path (a missing file is an
// empty one); every upload in it is left over.
func openLedger(path string, log *slog.Logger) (*ledger, error) {
	l := &ledger{path: path, log: log, uploads: map[uploadRef]bool{}}
	if path == "" {
		return l, nil
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrJournalInUse, path)
		}
		return nil, fmt.Errorf("upload journal: lock %s: %w", path, err)
	}
	l.lock = lock
	refs, err := readJournal(path)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	for _, r := range refs {
		l.uploads[r] = false
	}
	return l, nil
}

// readJournal returns the uploads recorded at path, none if it does not exist.
func readJournal(path string) ([]uploadRef, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	var refs []uploadRef
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, fmt.Errorf("upload journal %s: %w", path, err)
	}
	return refs, nil
}

// close releases the journal's lock; what it records stays for the next
// process.
func (l *ledger) close() error {
	if l.lock == nil {
		return nil
	}
	return l.lock.Close()
}

// started records an upload in flight.
func (l *ledger) started(r uploadRef) { l.set(r, true, true) }

// leftOver records an upload whose abort failed, for the next sweep.
func (l *ledger) leftOver(r uploadRef) { l.set(r, false, true) }

// done forgets an upload completed or aborted.
func (l *ledger) done(r uploadRef) { l.set(r, false, false) }

func (l *ledger) set(r uploadRef, inFlight, keep bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !keep {
		delete(l.uploads, r)
	} else if !inFlight && l.countLeftOver() >= maxLeftOver {
		delete(l.uploads, r)
		l.log.Error("too many multipart uploads left to abort: forgotten, the bucket lifecycle rule must remove it",
			"bucket", r.Bucket, "key", r.Key, "upload_id", r.UploadID)
	} else {
		l.uploads[r] = inFlight
	}
	l.save()
}

func (l *ledger) countLeftOver() int {
	n := 0
	for _, inFlight := range l.uploads {
		if !inFlight {
			n++
		}
	}
	return n
}

// leftOvers returns the uploads to abort.
func (l *ledger) leftOvers() []uploadRef {
	l.mu.Lock()
	defer l.mu.Unlock()
	var refs []uploadRef
	for r, inFlight := range l.uploads {
		if !inFlight {
			refs = append(refs, r)
		}
	}
	return refs
}

// save writes the journal (a new file renamed over the old one, so a crash
// leaves one or the other). A failure is logged: uploads still work, and the
// lifecycle rule covers what the journal missed. Called with l.mu held.
func (l *ledger) save() {
	if l.path == "" {
		return
	}
	refs := make([]uploadRef, 0, len(l.uploads))
	for r := range l.uploads {
		refs = append(refs, r)
	}
	b, err := json.Marshal(refs)
	if err == nil {
		err = writeFileAtomic(l.path, b)
	}
	if err != nil {
		l.log.Error("could not write the multipart upload journal", "path", l.path, "err", err)
	}
}

// writeFileAtomic replaces path with data, synced before the rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// abortUpload aborts r with its own deadline. An upload S3 no longer knows
// (already aborted or completed) counts as aborted.
func (s *Service) abortUpload(r uploadRef) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.set.RequestTimeout)
	defer cancel()
	_, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &r.Bucket, Key: &r.Key, UploadId: &r.UploadID,
	})
	if err = s3Error(err); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Sweep aborts the multipart uploads this instance left behind: those
// whose abort failed, and, after a restart, those in flight when the
// previous process ended. It returns how many it aborted; the ones S3 still
// refuses stay for the next Sweep, and the first such error is returned.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	var first error
	aborted := 0
	for _, r := range s.uploads.leftOvers() {
		if ctx.Err() != nil {
			return aborted, ctx.Err()
		}
		if err := s.abortUpload(r); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		s.uploads.done(r)
		aborted++
	}
	return aborted, first
}

// Close releases the Service's upload journal for another process. The
// uploads it records (those still in flight too) stay in it, for the next
// Service opening it to abort. The Service must not be used after Close.
func (s *Service) Close() error { return s.uploads.close() }

// RunSweeper calls Sweep now and then every Settings.SweepInterval until
// ctx is done, logging what it aborted and what failed, on log.
func (s *Service) RunSweeper(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(s.set.SweepInterval)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		if n > 0 {
			log.Info("aborted multipart uploads left behind", "count", n)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("could not abort multipart uploads left behind: retrying later", "left", len(s.uploads.leftOvers()), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
