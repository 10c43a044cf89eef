package jobs

import (
	"context"
	"fmt"
	"net/smtp"
	"testing"

	"github.com/oshirase/oshirase/data"
)

const benchRecipients = 10000

// benchFixture is one active contract with 10,000 primary contacts.
func benchFixture(b *testing.B) *fixture {
	f := newFixture(b, 0)
	ctx := context.Background()
	ps, _ := f.store.Products(ctx)
	ic := data.ImportContract{Code: "BIG", Name: "大口顧客", Active: true, ProductIDs: []int64{ps[0].ID}}
	for i := 0; i < benchRecipients; i++ {
		ic.Contacts = append(ic.Contacts, data.ContactInput{Email: fmt.Sprintf("r%05d@example.com", i), Lang: "ja", Role: data.RolePrimary})
	}
	if _, err := f.store.ApplyImport(ctx, []data.ImportContract{ic}); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkNotice10k sends a 10,000-recipient notice through the whole
// pipeline (claim, compose, send, record) against the in-process SMTP
// server, beside a bare loop that writes the same messages over one plain
// SMTP connection with nothing else to do. Compare the msgs/s figures of
// the same run.
func BenchmarkNotice10k(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("dispatcher-%dconn", workers), func(b *testing.B) {
			f := benchFixture(b)
			d := f.dispatcher(b, DispatchOptions{Workers: workers, Batch: 200})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f.declare(b, false)
				b.StartTimer()
				st, err := d.Sweep(context.Background())
				if err != nil || st.Sent != benchRecipients {
					b.Fatalf("%v %v", st, err)
				}
			}
			b.ReportMetric(float64(b.N*benchRecipients)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
	b.Run("bare-loop-1conn", func(b *testing.B) {
		f := benchFixture(b)
		f.declare(b, false)
		d := f.dispatcher(b, DispatchOptions{})
		// The same messages, composed beforehand: only the SMTP writes are
		// timed.
		claims, err := f.store.ClaimDeliveries(context.Background(), "bench", benchRecipients, 3600e9)
		if err != nil || len(claims) != benchRecipients {
			b.Fatalf("%d %v", len(claims), err)
		}
		msgs := make([][]byte, len(claims))
		tos := make([]string, len(claims))
		for i, c := range claims {
			m, err := d.composer.Compose(c.Delivery, c.Notification)
			if err != nil {
				b.Fatal(err)
			}
			msgs[i], tos[i] = m.Bytes, m.To
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c, err := smtp.Dial(f.smtp.Addr)
			if err != nil {
				b.Fatal(err)
			}
			for j := range msgs {
				if err := c.Mail("status@example.com"); err != nil {
					b.Fatal(err)
				}
				if err := c.Rcpt(tos[j]); err != nil {
					b.Fatal(err)
				}
				w, err := c.Data()
				if err != nil {
					b.Fatal(err)
				}
				w.Write(msgs[j])
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			c.Quit()
		}
		b.ReportMetric(float64(b.N*benchRecipients)/b.Elapsed().Seconds(), "msgs/s")
	})
}
