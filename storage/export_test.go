package storage

// SetCopyLimits lowers the single-copy limit and the multipart copy part size
// so tests can exercise multipart copies with small objects.
func SetCopyLimits(s *Service, limit, partSize int64) {
	s.copyLimit = limit
	s.copyPartSize = partSize
}
