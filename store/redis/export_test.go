package redis

// CodeKey exposes a phone's code key to the external tests, which watch
// Redis expire it; GateKey and LockKey likewise.
func (s *Store) CodeKey(phone string) string { return s.codeKey(phone) }
func (s *Store) GateKey(phone string) string { return s.gateKey(phone) }
func (s *Store) LockKey(phone string) string { return s.lockKey(phone) }

// StreamKey exposes the revocation stream's key, so a test can append to
// it without publishing, as if the message had been lost.
func (r *Revocations) StreamKey() string { return r.stream() }
