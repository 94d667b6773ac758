package comment

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// memBans is a ban list in memory: the Bans seam of the Service.
type memBans map[string]Ban

func (m memBans) Banned(user string, now time.Time) (Ban, bool) {
	b, ok := m[user]
	return b, ok && b.ActiveAt(now)
}
func (m memBans) Put(_ context.Context, b Ban) error { m[b.UserID] = b; return nil }
func (m memBans) Lift(_ context.Context, user, _ string, _ time.Time) (Ban, bool, error) {
	b, ok := m[user]
	delete(m, user)
	return b, ok, nil
}
func (m memBans) List(context.Context, time.Time) ([]Ban, error) { return nil, nil }

// Only moderators ban; a banned user's comments and edits are refused
// BANNED with the end of the ban in the message, deletes are not; a ban
// ends on time.
func TestBanRules(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	clock := now
	bans := memBans{}
	s := NewService(coldBuffer{}, nil, nil, ServiceConfig{Bans: bans, Now: func() time.Time { return clock }})
	ctx := context.Background()
	mod := Actor{UserID: "mia", Moderator: true}

	_, err := s.BanUser(ctx, Actor{UserID: "bob"}, BanRequest{UserID: "eve"})
	requireCode(t, err, CodeForbidden)
	_, err = s.BanUser(ctx, mod, BanRequest{UserID: "eve", Duration: -time.Second})
	requireCode(t, err, CodeInvalidPayload)
	b, err := s.BanUser(ctx, mod, BanRequest{UserID: "eve", Duration: time.Minute, Reason: " spam "})
	if err != nil {
		t.Fatal(err)
	}
	want := Ban{UserID: "eve", Reason: "spam", By: "mia", At: now.Truncate(time.Millisecond), Until: now.Truncate(time.Millisecond).Add(time.Minute)}
	if b != want {
		t.Fatalf("ban %+v, want %+v", b, want)
	}

	var got error
	s.PostAsync(ctx, Input{PostID: "p", UserID: "eve", Content: "hi"}, func(_ Comment, err error) { got = err })
	requireCode(t, got, CodeBanned)
	if e := got.(*Error); e.Message != "you are banned from commenting until 2025-01-02T03:05:05.006Z" {
		t.Fatalf("message %q", e.Message)
	}
	_, err = s.Change(ctx, Actor{UserID: "eve"}, ChangeRequest{Op: OpEdit, PostID: "p", CommentID: NewID(now), Content: "x"})
	requireCode(t, err, CodeBanned)
	_, err = s.Change(ctx, Actor{UserID: "eve"}, ChangeRequest{Op: OpDelete, PostID: "p", CommentID: NewID(now)})
	requireCode(t, err, CodeNotFound) // decided as anyone's delete: the comment is not there

	clock = now.Add(time.Minute)
	if _, ok := bans.Banned("eve", clock); ok {
		t.Fatal("the ban holds at its end")
	}
	_, err = s.UnbanUser(ctx, mod, "eve")
	requireCode(t, err, CodeNotFound)
}

func requireCode(t *testing.T, err error, code Code) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok || e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// A ban's wire form: times RFC 3339 UTC with milliseconds, until null for
// a ban until lifted; it decodes to the same ban.
func TestBanJSON(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, b := range []Ban{
		{UserID: "u", Reason: "r", By: "m", At: at},
		{UserID: "u", By: "m", At: at, Until: at.Add(time.Hour)},
	} {
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var back Ban
		if err := json.Unmarshal(raw, &back); err != nil || back != b {
			t.Fatalf("%s decodes to %+v (%v), want %+v", raw, back, err, b)
		}
	}
	raw, _ := json.Marshal(Ban{UserID: "u", By: "m", At: at})
	if string(raw) != `{"userId":"u","reason":"","by":"m","at":"2025-01-02T03:04:05.006Z","until":null}` {
		t.Fatalf("wire form %s", raw)
	}
}
