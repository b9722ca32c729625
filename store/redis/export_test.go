package redis

// CodeKey exposes a phone's code key to the external tests, which watch
// Redis expire it.
func (s *Store) CodeKey(phone string) string { return s.codeKey(phone) }
