package storage

// SetCopyLimits lowers the single-copy limit and the multipart copy part size
// so tests can exercise multipart copies with small objects.
func SetCopyLimits(s *Service, limit, partSize int64) {
	s.copyLimit = limit
	s.copyPartSize = partSize
}

// DownloadBuffers returns the bytes of buffers a download made (0 for one
// streamed from a single GET).
func DownloadBuffers(d *Download) int64 {
	if d.chunks == nil {
		return 0
	}
	return d.chunks.allocated
}

// WithPayloadHash is withPayloadHash, for tests of what requests carry.
var WithPayloadHash = withPayloadHash

// UploadMemoryInUse returns the bytes of upload buffers handed out and not
// given back.
func UploadMemoryInUse(s *Service) int64 { return s.buffers.inUse() }
