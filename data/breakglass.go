package data

import (
	"context"
	"fmt"

	"gorm.io/gorm"
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
	return s.tx(ctx, func(tx *gorm.DB) error {
		recips, err := operatorAudience(tx)
		if err != nil {
			return err
		}
		if len(recips) == 0 {
			return nil
		}
		now := s.now()
		content := NoticeContent{Kind: AlertBreakGlass, Status: "alert",
			TitleJA: email + " が緊急用アカウントでログインしました", TitleEN: email + " signed in with the break-glass account",
			BodyJA: "シングルサインオンを通さず、パスワードでログインしました（" + browser + "、IPアドレス " + ip + "）。" +
				"ID プロバイダーの障害など、想定された使い方かどうかをご確認ください。心当たりがない場合は、オペレーター画面からこのブラウザーをログアウトさせ、パスワードを変更してください。",
			BodyEN: "They signed in with a password, not through single sign-on (" + browser + ", address " + ip + "). " +
				"Check that this was expected, such as while the identity provider is down. If not, sign that browser out on the Operators page and change the password.",
			UpdatedAt: &now, Path: "/admin/audit?action=login"}
		n := Notification{Kind: AlertBreakGlass, Thread: fmt.Sprintf("%s-%d", AlertBreakGlass, now.UnixNano())}
		return s.writeNotification(tx, n, content, recips, false)
	})
}
