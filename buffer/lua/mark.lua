#!lua flags=allow-oom
-- Marks posts stored (stored.go): a few bytes, so that the flusher can
-- claim, mark and drain a Redis that is full.
--   KEYS[1] stored (of the posts' shard); ARGV posts
return redis.call('SADD', KEYS[1], unpack(ARGV))
