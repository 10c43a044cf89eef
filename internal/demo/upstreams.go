package demo

// upstreams seeds components that follow an upstream status source (kintone, the cloud provider).
func (s *seeder) upstreams() {}
