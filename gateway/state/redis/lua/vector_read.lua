-- Read shared semantic cache vectors (gateway/state/redis/vectors.py).
-- KEYS[1]: the stream of shared vectors. ARGV: the cursor (the id of the last entry read; "0-0"
-- before the first), the most entries to return.
-- Returns a flat list, oldest first: id, entry, id, entry, ... (A script, not XRANGE itself:
-- redis-py parses XRANGE's reply into its own shapes, and the backend reads raw replies from
-- either client.)
-- The id right after the cursor (an exclusive range "(" needs Redis 6.2).
local ms, seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
if ms == nil then return redis.error_reply('ERR bad cursor') end
local entries = redis.call('XRANGE', KEYS[1], ms .. '-' .. (tonumber(seq) + 1), '+', 'COUNT', ARGV[2])
local out = {}
for _, entry in ipairs(entries) do
  out[#out + 1] = entry[1]
  out[#out + 1] = entry[2][2]
end
return out
