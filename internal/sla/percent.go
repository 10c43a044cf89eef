package sla

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// PPM is a share in parts per million: 999500 is 99.95 %. Commitments,
// tier thresholds and credits are read into it exactly, so no decision
// depends on a float.
type PPM int64

// Whole is 100 %.
const Whole PPM = 1_000_000

// ErrBadPercent is wrapped by every error ParsePercent returns.
var ErrBadPercent = errors.New("not a percentage")

// ParsePercent reads a decimal percentage such as "99.9", "99.95" or "100"
// exactly: digits, at most one point, at most four decimals (a
// millionth), greater than 0 and at most 100. Spaces around it are
// ignored.
func ParsePercent(s string) (PPM, error) {
	t := strings.TrimSpace(s)
	intPart, frac, dot := strings.Cut(t, ".")
	switch {
	case t == "":
		return 0, fmt.Errorf("sla: %q: %w: empty", s, ErrBadPercent)
	case intPart == "" || (dot && frac == ""):
		return 0, fmt.Errorf("sla: %q: %w: write digits on both sides of the point", s, ErrBadPercent)
	case !digits(intPart) || !digits(frac):
		return 0, fmt.Errorf("sla: %q: %w: only digits and one decimal point", s, ErrBadPercent)
	case len(frac) > 4:
		return 0, fmt.Errorf("sla: %q: %w: at most 4 decimals", s, ErrBadPercent)
	case len(intPart) > 3:
		return 0, fmt.Errorf("sla: %q: %w: more than 100", s, ErrBadPercent)
	}
	n, _ := strconv.ParseInt(intPart+frac+strings.Repeat("0", 4-len(frac)), 10, 64)
	p := PPM(n)
	switch {
	case p <= 0:
		return 0, fmt.Errorf("sla: %q: %w: must be more than 0", s, ErrBadPercent)
	case p > Whole:
		return 0, fmt.Errorf("sla: %q: %w: more than 100", s, ErrBadPercent)
	}
	return p, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String writes the share as a percentage with no trailing zeros: "99.95",
// "100", "12.5".
func (p PPM) String() string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	s := fmt.Sprintf("%s%d.%04d", sign, p/10000, p%10000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Rat is the share as an exact percentage.
func (p PPM) Rat() *big.Rat { return big.NewRat(int64(p), 10000) }

// Tier is one step of a credit table: availability below Below earns
// Credit (a share of the month's fee).
type Tier struct {
	Below  PPM
	Credit PPM
}

// Tiers is a credit table, highest threshold first.
type Tiers []Tier

// TierError says what is wrong with a credit table. Key is a message key
// for forms ("bad_format", "bad_threshold", "bad_credit",
// "duplicate_threshold", "credit_order"); Entry is the 1-based entry.
type TierError struct {
	Entry int
	Text  string
	Key   string
	Msg   string
}

func (e *TierError) Error() string {
	if e.Entry == 0 {
		return "sla: credit tiers: " + e.Msg
	}
	return fmt.Sprintf("sla: credit tiers: entry %d (%q): %s", e.Entry, e.Text, e.Msg)
}

// ParseTiers reads a credit table such as "99.9:10,99.0:25,95.0:50":
// below 99.9 % availability, 10 % credit; below 99.0 %, 25 %; below 95 %,
// 50 %. Entries may come in any order and are returned highest threshold
// first; thresholds must differ, and a lower threshold must not earn a
// smaller credit. "" is no table (no credit ever).
func ParseTiers(s string) (Tiers, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ts Tiers
	for i, entry := range strings.Split(s, ",") {
		e := strings.TrimSpace(entry)
		below, credit, ok := strings.Cut(e, ":")
		if !ok {
			return nil, &TierError{Entry: i + 1, Text: e, Key: "bad_format", Msg: `write "threshold:credit", such as "99.9:10"`}
		}
		b, err := ParsePercent(below)
		if err != nil {
			return nil, &TierError{Entry: i + 1, Text: e, Key: "bad_threshold", Msg: "threshold " + strings.TrimPrefix(err.Error(), "sla: ")}
		}
		c, err := ParsePercent(credit)
		if err != nil {
			return nil, &TierError{Entry: i + 1, Text: e, Key: "bad_credit", Msg: "credit " + strings.TrimPrefix(err.Error(), "sla: ")}
		}
		for _, t := range ts {
			if t.Below == b {
				return nil, &TierError{Entry: i + 1, Text: e, Key: "duplicate_threshold", Msg: "threshold " + b.String() + " is given twice"}
			}
		}
		ts = append(ts, Tier{Below: b, Credit: c})
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Below > ts[j].Below })
	for i := 1; i < len(ts); i++ {
		if ts[i].Credit < ts[i-1].Credit {
			return nil, &TierError{Key: "credit_order", Msg: fmt.Sprintf("below %s the credit (%s) is smaller than below %s (%s): a lower availability must not earn less",
				ts[i].Below, ts[i].Credit, ts[i-1].Below, ts[i-1].Credit)}
		}
	}
	return ts, nil
}

// String writes the table back in the form ParseTiers reads.
func (ts Tiers) String() string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Below.String() + ":" + t.Credit.String()
	}
	return strings.Join(parts, ",")
}

// Credit returns the credit an exact availability (a percentage) earns:
// that of the lowest threshold it is below, 0 when it is below none.
func (ts Tiers) Credit(availability *big.Rat) PPM {
	var c PPM
	for _, t := range ts {
		if availability.Cmp(t.Below.Rat()) < 0 {
			c = max(c, t.Credit)
		}
	}
	return c
}
