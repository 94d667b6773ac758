package comment

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// stateBuffer holds one comment and records the changes applied.
type stateBuffer struct {
	coldBuffer
	c       Comment
	applied []Change
}

func (b *stateBuffer) State(context.Context, string, string) (Comment, bool, error) {
	return b.c, true, nil
}
func (b *stateBuffer) Apply(_ context.Context, ch Change, _ int, _ bool) error {
	b.applied = append(b.applied, ch)
	b.c = ch.State
	return nil
}

// A moderator's moderate ops and delete of another's comment carry an
// audit entry (who, what, when, which comment and author, why); an
// author's own changes, and a moderator deleting their own comment, do
// not. A reason over the limit is refused.
func TestChangeAudit(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 8e6, time.UTC)
	mod := Actor{UserID: "mia", Moderator: true}
	for _, tc := range []struct {
		name    string
		author  string
		actor   Actor
		op      Op
		status  string
		audited bool
	}{
		{"hide", "bob", mod, OpHide, "", true},
		{"restore", "bob", mod, OpRestore, StatusHidden, true},
		{"pin", "bob", mod, OpPin, "", true},
		{"unpin", "bob", mod, OpUnpin, "", true},
		{"approve", "bob", mod, OpApprove, StatusPending, true},
		{"reject", "bob", mod, OpReject, StatusPending, true},
		{"moderator deletes another's", "bob", mod, OpDelete, "", true},
		{"moderator deletes their own", "mia", mod, OpDelete, "", false},
		{"author deletes", "bob", Actor{UserID: "bob"}, OpDelete, "", false},
		{"author edits", "bob", Actor{UserID: "bob"}, OpEdit, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Comment{ID: NewID(now), PostID: "p", UserID: tc.author, Content: "x", CreatedAt: now, Status: tc.status}
			buf := &stateBuffer{c: c}
			s := NewService(buf, nil, nil, ServiceConfig{Now: func() time.Time { return now }})
			ch, err := s.Change(context.Background(), tc.actor, ChangeRequest{Op: tc.op, PostID: "p", CommentID: c.ID,
				Content: "y", Reason: "  because  "})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.audited {
				if ch.Audit != nil {
					t.Fatalf("audited: %+v", ch.Audit)
				}
				return
			}
			want := Audit{At: now.Truncate(time.Millisecond), By: "mia", Action: string(tc.op), PostID: "p", CommentID: c.ID,
				UserID: tc.author, Reason: "because"}
			if ch.Audit == nil || *ch.Audit != want {
				t.Fatalf("audit %+v, want %+v", ch.Audit, want)
			}
			if buf.applied[0].Audit == nil {
				t.Fatal("the buffer was not given the entry")
			}
		})
	}
	c := Comment{ID: NewID(now), PostID: "p", UserID: "bob", Content: "x", CreatedAt: now}
	s := NewService(&stateBuffer{c: c}, nil, nil, ServiceConfig{Now: func() time.Time { return now }})
	_, err := s.Change(context.Background(), mod, ChangeRequest{Op: OpHide, PostID: "p", CommentID: c.ID,
		Reason: strings.Repeat("é", MaxReasonRunes+1)})
	requireCode(t, err, CodeInvalidPayload)
	_, err = s.LockPost(context.Background(), mod, "p", true, strings.Repeat("x", MaxReasonRunes+1))
	requireCode(t, err, CodeInvalidPayload)
}

// memAudit is an audit log in memory.
type memAudit []Audit

func (m memAudit) AuditLog(_ context.Context, _ string, limit int) ([]Audit, bool, error) {
	return m[:min(limit, len(m))], len(m) > limit, nil
}

// Only moderators read the audit log; limit is bounded; next is the last
// entry's id while more remain.
func TestAuditLogRules(t *testing.T) {
	log := memAudit{{ID: "3-0-0", Action: "hide"}, {ID: "2-0-b", Action: "ban"}, {ID: "1-0-1", Action: "lock"}}
	s := NewService(coldBuffer{}, nil, nil, ServiceConfig{Audit: log})
	ctx := context.Background()
	_, err := s.AuditLog(ctx, Actor{UserID: "bob"}, "", 10)
	requireCode(t, err, CodeForbidden)
	mod := Actor{UserID: "mia", Moderator: true}
	for _, bad := range []int{0, -1, MaxAuditLimit + 1} {
		_, err = s.AuditLog(ctx, mod, "", bad)
		requireCode(t, err, CodeInvalidPayload)
	}
	p, err := s.AuditLog(ctx, mod, "", 2)
	if err != nil || len(p.Entries) != 2 || p.Next != "2-0-b" {
		t.Fatalf("page %+v, %v", p, err)
	}
	p, err = s.AuditLog(ctx, mod, "", 3)
	if err != nil || p.Next != "" {
		t.Fatalf("last page %+v, %v", p, err)
	}
}

// An entry's wire form: at in RFC 3339 UTC with milliseconds, empty
// fields left out.
func TestAuditJSON(t *testing.T) {
	a := Audit{ID: "1-0-b", At: time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC), By: "mia", Action: AuditBan, UserID: "bob"}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"1-0-b","at":"2025-01-02T03:04:05.006Z","by":"mia","action":"ban","userId":"bob"}` {
		t.Fatalf("%s", b)
	}
	var back Audit
	if err := json.Unmarshal(b, &back); err != nil || back != a {
		t.Fatalf("%+v %v", back, err)
	}
}
