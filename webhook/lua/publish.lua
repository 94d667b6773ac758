#!lua flags=allow-oom
-- Appends a stored batch's events to the stream, once: KEYS[1] the stream,
-- KEYS[2] the batch's seen key; ARGV[1] the stream's cap (MAXLEN ~),
-- ARGV[2] the seen key's TTL (ms), then 4 per event: id, type, full JSON,
-- public JSON ("" = moderation endpoints only). Returns how many it added
-- (0 when the batch was published before: the flusher retried it).
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
local n = 0
for a = 3, #ARGV, 4 do
  if ARGV[a + 3] == '' then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'id', ARGV[a], 't', ARGV[a + 1], 'e', ARGV[a + 2])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'id', ARGV[a], 't', ARGV[a + 1], 'e', ARGV[a + 2], 'p', ARGV[a + 3])
  end
  n = n + 1
end
return n
