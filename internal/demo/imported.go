package demo

// imported seeds what was moved in from the vendor's former Statuspage page.
func (s *seeder) imported() {}
