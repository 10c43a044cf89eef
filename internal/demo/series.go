package demo

// series seeds recurring maintenance.
func (s *seeder) series() {}
