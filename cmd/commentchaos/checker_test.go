package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A clean history: a retried comment stored once, an indeterminate one
// stored, one not stored, one order on every client.
func cleanHistory() (history, []stored) {
	h := history{
		ops: []op{
			{Token: "t1", Post: "p", Attempts: 1, Confirmed: true, ID: "a"},
			{Token: "t2", Post: "p", Attempts: 3, Confirmed: true, ID: "b"},
			{Token: "t3", Post: "p", Attempts: 2},
			{Token: "t4", Post: "p", Attempts: 1},
		},
		added: []map[string][]string{
			{"p": {"a", "b", "c"}},
			{"p": {"b", "c"}},
			{"p": {"a", "a", "c"}},
		},
		persisted: [][]string{{"a", "b"}},
	}
	docs := []stored{{ID: "a", PostID: "p", Content: "t1"}, {ID: "b", PostID: "p", Content: "t2"}, {ID: "c", PostID: "p", Content: "t3"}}
	return h, docs
}

func TestCheckerCleanHistory(t *testing.T) {
	h, docs := cleanHistory()
	v := check(h, docs)
	require.True(t, v.OK(), v.String())
	require.Equal(t, 4, v.Sent)
	require.Equal(t, 2, v.Confirmed)
	require.Equal(t, 2, v.Indeterminate)
	require.Equal(t, 1, v.IndeterminateStored)
	require.Equal(t, 2, v.Retried)
	require.Equal(t, 1, v.RepeatedDeliveries)
}

// Each violation is caught and counted.
func TestCheckerCatchesEachViolation(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(*history, *[]stored)
		field  func(Verdict) int
	}{
		{"lost", func(h *history, d *[]stored) { *d = (*d)[1:] }, func(v Verdict) int { return v.Lost }},
		{"duplicated", func(h *history, d *[]stored) { *d = append(*d, stored{ID: "a2", PostID: "p", Content: "t1"}) },
			func(v Verdict) int { return v.Duplicated }},
		{"never sent", func(h *history, d *[]stored) { *d = append(*d, stored{ID: "z", PostID: "p", Content: "zz"}) },
			func(v Verdict) int { return v.Unexpected }},
		{"stored under another id", func(h *history, d *[]stored) { (*d)[0].ID = "other" },
			func(v Verdict) int { return v.Unexpected }},
		{"stored on another post", func(h *history, d *[]stored) { (*d)[0].PostID = "q" },
			func(v Verdict) int { return v.Unexpected }},
		{"rejected but stored", func(h *history, d *[]stored) {
			h.ops[3].Code = "EMPTY_CONTENT"
			*d = append(*d, stored{ID: "d", PostID: "p", Content: "t4"})
		},
			func(v Verdict) int { return v.Unexpected }},
		{"phantom", func(h *history, d *[]stored) { h.added[1]["p"] = append(h.added[1]["p"], "ghost") },
			func(v Verdict) int { return v.Phantoms }},
		{"persisted not stored", func(h *history, d *[]stored) { h.persisted[0] = append(h.persisted[0], "ghost") },
			func(v Verdict) int { return v.EarlyPersisted }},
		{"order", func(h *history, d *[]stored) { h.added[1]["p"] = []string{"c", "b"} },
			func(v Verdict) int { return v.OrderViolations }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, docs := cleanHistory()
			tc.break_(&h, &docs)
			v := check(h, docs)
			require.False(t, v.OK(), v.String())
			require.Positive(t, tc.field(v), v.String())
			require.NotEmpty(t, v.Examples)
		})
	}
}

func TestOrderViolations(t *testing.T) {
	require.Zero(t, orderViolations([][]string{{"a", "b", "c"}, {"a", "c"}, {"x", "b", "c"}}))
	require.Equal(t, 1, orderViolations([][]string{{"a", "b"}, {"b", "a"}}))
	require.Equal(t, 2, orderViolations([][]string{{"a", "b"}, {"b", "a"}, {"a", "b"}}))
}
