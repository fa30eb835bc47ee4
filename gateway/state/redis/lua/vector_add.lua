-- Share one semantic cache vector (gateway/state/redis/vectors.py).
-- KEYS[1]: the stream of shared vectors. ARGV: the entry, the most entries kept, the entry's
-- time to live in ms (its cache entry's).
-- The stream keeps its newest ARGV[2] entries (about: MAXLEN ~ trims whole nodes), and lives
-- as long as its longest-lived entry's cache entry may: a stream no entry was added to for
-- that long holds only vectors of expired entries, and goes.
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
