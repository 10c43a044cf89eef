package server

// Branding, alert channels, integrations, the audit log and usage through
// the operator API.

func (s *Server) settingsOps() []apiOp {
	return []apiOp{}
}
