-- May a request go to this deployment? (the rules of gateway/state/breaker.py try_probe)
-- KEYS[1]: the breaker hash (see breaker_record.lua). ARGV: now, probe_timeout_s.
-- Only writes to an existing hash, so the TTL set by breaker_record.lua stays.
-- Returns 1 when closed, or when half-open and no other probe is out; 0 otherwise.
local key = KEYS[1]
local now = tonumber(ARGV[1])
local fields = redis.call('HMGET', key, 'ou', 'pu')
local open_until = tonumber(fields[1] or '')
if open_until == nil then return 1 end
if now < open_until then return 0 end
local probe_until = tonumber(fields[2] or '')
if probe_until ~= nil and now < probe_until then return 0 end
redis.call('HSET', key, 'pu', string.format('%.17g', now + tonumber(ARGV[2])))
return 1
