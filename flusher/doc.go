// Package flusher moves buffered comments into the database in batches.
//
// A Flusher takes the lease of every shard it can get from its Source, and
// runs one loop per shard it holds: when the shard holds BatchSize comments,
// or Interval has passed since its last flush, it claims a batch, inserts it
// into its Sink with one call and acks it. While the Sink fails the loop
// backs off (exponential, with jitter) and retries the same batch; the
// buffer keeps growing meanwhile. A comment the Sink keeps rejecting for
// its own reasons goes to the dead-letter list after MaxAttempts.
//
// Retrying a batch is safe because the Sink's insert is idempotent by id: a
// holder that dies between insert and ack leaves the batch in flight, and
// the next holder inserts it again, which stores nothing twice.
//
// Batch size and interval may change while running (SetBatchSize,
// SetInterval). Run stops on cancel after draining the shards it holds
// within DrainTimeout, then releases their leases.
package flusher
