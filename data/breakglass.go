package data

import (
	"context"
	"fmt"
)

// AlertBreakGlass is the operators' alert that a break-glass admin signed
// in with a password, where everyone else signs in through the identity
// provider: it should happen only when the provider is down, and everyone
// is to know when it does.
const AlertBreakGlass = "break_glass"

// AlertBreakGlassSignIn tells every active operator, by email and on the
// operators' channels, that email signed in with the break-glass password
// from that browser and address.
func (s *Store) AlertBreakGlassSignIn(ctx context.Context, email, browser, ip string) error {
	return s.alertEveryOperator(ctx, fmt.Sprintf("%s-%d", AlertBreakGlass, s.now().UnixNano()), NoticeContent{Kind: AlertBreakGlass,
		TitleJA: email + " が緊急用アカウントでログインしました", TitleEN: email + " signed in with a break-glass account",
		BodyJA: "シングルサインオンを通さずにログインしました（" + browser + "、IPアドレス " + ip + "）。" +
			"IDプロバイダーの障害など、想定された使い方かどうかをご確認ください。心当たりがない場合は、オペレーター画面からこのブラウザーをログアウトさせ、パスワードを変更してください。",
		BodyEN: "They signed in here, not through single sign-on (" + browser + ", address " + ip + "). " +
			"Check that this was expected, such as while the identity provider is down. If not, sign that browser out on the Operators page and change the password.",
		Path: "/admin/audit?action=login"})
}
