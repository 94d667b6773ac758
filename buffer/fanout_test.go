package buffer_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// Readers joining one post at once all subscribe, whatever the moment the
// confirmation from Redis arrives among them, and each comment reaches the
// handler once.
func TestFanoutConcurrentSubscribe(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2})
	var got atomic.Int64
	f := b.NewFanout()
	f.RegisterHandler(handlerFuncs{comment: func(postID, id string, _ []byte) {
		if postID == "hot" && id != "" {
			got.Add(1)
		}
	}})
	defer f.Close()

	// Spread over some milliseconds, so that some join before the
	// confirmation, some around it and some after.
	const readers = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Microsecond)
			errs <- f.Subscribe(ctx, "hot")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.NoError(t, b.Append(context.Background(), mk(t, "hot", "once")))
	require.Eventually(t, func() bool { return got.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a second delivery would show now
	require.EqualValues(t, 1, got.Load())
}

// handlerFuncs is a buffer.Handler of functions; nil ones ignore their
// events.
type handlerFuncs struct {
	comment   func(postID, id string, payload []byte)
	change    func(postID string, ch comment.Change)
	persisted func(postID string, ids []string)
}

func (h handlerFuncs) HandleComment(postID, id string, payload []byte) {
	if h.comment != nil {
		h.comment(postID, id, payload)
	}
}

func (h handlerFuncs) HandleChange(postID string, ch comment.Change, _ []byte) {
	if h.change != nil {
		h.change(postID, ch)
	}
}

func (h handlerFuncs) HandlePersisted(postID string, ids []string) {
	if h.persisted != nil {
		h.persisted(postID, ids)
	}
}
