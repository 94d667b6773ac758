#!lua flags=allow-oom
-- Ends a batch: dead letters are kept, the in-flight list goes.
--   KEYS[1] inflight, KEYS[2] lease, KEYS[3] dead, KEYS[4] acks; ARGV[1]
--   token, ARGV[2..] dead letters. acks counts batches ended (CountPosts).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE lease lost')
end
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[4])
return 1
