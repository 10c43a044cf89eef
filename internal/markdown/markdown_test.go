package markdown

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

func TestFormattingWorks(t *testing.T) {
	r := New()
	cases := []struct{ in, want string }{
		{"**重要**", "<strong>重要</strong>"},
		{"*em*", "<em>em</em>"},
		{"- a\n- b", "<li>a</li>"},
		{"`code`", "<code>code</code>"},
		{"```\nx := 1\n```", "<pre><code>x := 1"},
		{"[詳細](https://example.com/a)", `href="https://example.com/a"`},
		{"[詳細](https://example.com/a)", `rel="nofollow noopener"`},
		{"https://example.com/auto", `href="https://example.com/auto"`},
		{"1 < 2 & 3", "1 &lt; 2 &amp; 3"},
		{"line1\nline2", "line1<br>"},
	}
	for _, c := range cases {
		if got := string(r.HTML(c.in)); !strings.Contains(got, c.want) {
			t.Errorf("%q rendered %q, want it to contain %q", c.in, got, c.want)
		}
	}
}

// TestHostileInputIsInert feeds markdown written to run script, frame other
// sites or hijack events; none of it may survive as live HTML.
func TestHostileInputIsInert(t *testing.T) {
	corpus := []string{
		`<script>alert(1)</script>`,
		`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="javascript:alert(1)">x</a>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		`[click](  javascript:alert(1))`,
		"[click](java\tscript:alert(1))",
		`[click](vbscript:msgbox(1))`,
		`[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
		`![x](javascript:alert(1))`,
		`![x](x" onerror="alert(1))`,
		`<iframe src="https://evil.example"></iframe>`,
		`<object data="x.swf"></object><embed src="x.swf">`,
		`<svg onload=alert(1)><circle r=10 /></svg>`,
		`<svg><script>alert(1)</script></svg>`,
		`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<div style="background:url(javascript:alert(1))">x</div>`,
		`<form action="https://evil.example"><input name=password></form>`,
		`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		`<base href="https://evil.example/">`,
		`<link rel=stylesheet href=https://evil.example/x.css>`,
		`<p onclick="alert(1)" onmouseover="alert(1)">x</p>`,
		"<scr<script>ipt>alert(1)</script>",
		`[x](https://example.com "title\" onmouseover=\"alert(1)")`,
		`<a href="https://ok.example" onclick="alert(1)">ok</a>`,
		"```html\n<script>alert(1)</script>\n```",
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	}
	r := New()
	for _, in := range corpus {
		out := string(r.HTML(in))
		if problem := liveMarkup(out); problem != "" {
			t.Errorf("input %q rendered %q: %s", in, out, problem)
		}
	}
}

// liveMarkup parses rendered HTML the way a browser would and names the
// first tag, attribute or URL that could run script or load a foreign frame.
// Escaped text such as "&lt;script" is harmless and passes.
func liveMarkup(out string) string {
	allowed := map[string]bool{"p": true, "a": true, "em": true, "strong": true, "code": true, "pre": true,
		"ul": true, "ol": true, "li": true, "br": true, "blockquote": true, "del": true, "img": true,
		"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "hr": true,
		"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "input": false}
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if !allowed[tok.Data] {
				return "tag <" + tok.Data + ">"
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") || key == "style" || key == "srcdoc" || key == "formaction" {
					return "attribute " + key
				}
				if key == "href" || key == "src" {
					// Browsers ignore tabs, line breaks and leading spaces in a
					// scheme ("java\tscript:"); so must the check.
					v := strings.Map(func(r rune) rune {
						if r < 0x21 || r == 0x7f {
							return -1
						}
						return r
					}, a.Val)
					u, err := url.Parse(v)
					if err != nil {
						return "unparsable url " + a.Val
					}
					if s := strings.ToLower(u.Scheme); s != "" && s != "http" && s != "https" && s != "mailto" {
						return "url " + a.Val
					}
				}
			}
		}
	}
}

func TestLiveMarkupCatchesScript(t *testing.T) {
	for _, in := range []string{`<script>x</script>`, `<a href="javascript:x">`, `<p onclick="x">`, `<iframe src="https://x">`} {
		if liveMarkup(in) == "" {
			t.Errorf("checker missed %q", in)
		}
	}
}

// FuzzHTML: whatever the input, rendering never panics and never yields
// live script, handlers or frames.
func FuzzHTML(f *testing.F) {
	for _, s := range []string{"**x**", "<script>alert(1)</script>", "[a](javascript:x)", "<img src=x onerror=y>",
		"```\n<iframe>\n```", "<svg onload=1>", "- [ ] <a href='vbscript:x'>"} {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, in string) {
		out := string(r.HTML(in))
		if problem := liveMarkup(out); problem != "" {
			t.Fatalf("input %q rendered %q: %s", in, out, problem)
		}
	})
}

// TestPlainText: what calendars and other text-only places get from the
// operators' markdown reads as the page does, without any markup.
func TestPlainText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"作業中は、**最大5分程度**、起動に時間がかかります。", "作業中は、最大5分程度、起動に時間がかかります。"},
		{"*em* and _em_ and ~~gone~~ and `code`", "em and em and gone and code"},
		{"[詳細](https://example.com/a)をご覧ください。", "詳細 (https://example.com/a)をご覧ください。"},
		{"[https://example.com/a](https://example.com/a)", "https://example.com/a"},
		{"See https://example.com/auto now", "See https://example.com/auto now"},
		{"<https://example.com/x>", "https://example.com/x"},
		{"[click](javascript:alert(1))", "click"},
		{"[home](/incidents/3)", "home"},
		{"[mail](mailto:support@example.com)", "mail (mailto:support@example.com)"},
		{"![ロゴ](https://example.com/logo.png)", "ロゴ"},
		{"## 影響\n\n- 管理画面\n- API\n\n1. 停止\n2. 更新", "影響\n\n- 管理画面\n- API\n\n1. 停止\n2. 更新"},
		{"- 外側\n  - 内側", "- 外側\n  - 内側"},
		{"- [x] 済み\n- [ ] 未", "- [x] 済み\n- [ ] 未"},
		{"line1\nline2", "line1\nline2"},
		{"```\nx := **1**\n```", "x := **1**"},
		{"> 引用です\n> 二行目", "> 引用です\n> 二行目"},
		{"1 < 2 &amp; 3 &#x41; \\*not em\\*", "1 < 2 & 3 A *not em*"},
		{"\\&amp; stays", "&amp; stays"},
		{"before <b>bold</b> after\n\n<div>block</div>\n\nend", "before bold after\n\nend"},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "a | b\n1 | 2"},
		{"---", "---"},
		{"", ""},
	}
	for _, c := range cases {
		if got := PlainText(c.in); got != c.want {
			t.Errorf("PlainText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzPlainText: any input renders, without a panic, to valid UTF-8 when
// it was (a calendar refuses anything else).
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"**a**", "[x](https://e.example)", "<script>x</script>", "- a\n  - b", "```\n<b>\n```", "&amp;\\*", "&#0;\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out := PlainText(s); utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("PlainText(%q) = %q, not UTF-8", s, out)
		}
	})
}
