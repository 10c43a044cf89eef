package server

import "testing"

func TestPagerURLKeepsTheSearch(t *testing.T) {
	for _, tc := range []struct {
		base string
		n    int
		want string
	}{
		{"/admin/incidents", 2, "/admin/incidents?page=2"},
		{"/admin/contracts?q=%E6%A0%AA%E5%BC%8F&state=active", 3, "/admin/contracts?page=3&q=%E6%A0%AA%E5%BC%8F&state=active"},
		{"/admin/audit?action=login&operator=0&page=9", 1, "/admin/audit?action=login&operator=0&page=1"},
		{"/admin/contracts?q=a%26page%3D5", 2, "/admin/contracts?page=2&q=a%26page%3D5"},
	} {
		if got := (pagerView{Base: tc.base}).URL(tc.n); got != tc.want {
			t.Errorf("URL(%q, %d) = %q, want %q", tc.base, tc.n, got, tc.want)
		}
	}
}
