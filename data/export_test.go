package data

// LowerChallengeLimit lets a test reach the cap on sign-ins in flight
// without making twenty thousand of them; the returned func restores it.
func LowerChallengeLimit(n int64) (restore func()) {
	old := maxLiveChallenges
	maxLiveChallenges = n
	return func() { maxLiveChallenges = old }
}
