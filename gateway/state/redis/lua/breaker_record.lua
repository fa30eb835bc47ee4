-- Record one call outcome on a circuit breaker (the rules of gateway/state/breaker.py).
-- KEYS[1]: the breaker hash: f = latest failure times (space separated, at most threshold),
--          w = window_s they were counted in, ou = open until, pu = probe out until.
-- ARGV: ok (1/0), now, failure_threshold, window_s, cooldown_s, key_ttl_s.
-- Returns the fields {f, w, ou, pu} after the update ("" for none).
local key = KEYS[1]
local ok = ARGV[1] == '1'
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local cooldown = tonumber(ARGV[5])

local function fmt(x) return string.format('%.17g', x) end

local fields = redis.call('HMGET', key, 'f', 'w', 'ou', 'pu')
local open_until = tonumber(fields[3] or '')
local probe_until = fields[4] or ''
local phase = 'closed'
if open_until ~= nil then
  if now < open_until then phase = 'open' else phase = 'half_open' end
end

if ok then
  if phase == 'open' then
    -- A late success from a request sent before the breaker opened proves nothing.
    return {fields[1] or '', fields[2] or '', fields[3] or '', probe_until}
  end
  redis.call('DEL', key)
  return {'', '', '', ''}
end

local recent = {}
for at in string.gmatch(fields[1] or '', '%S+') do
  if tonumber(at) > now - window then recent[#recent + 1] = at end
end
recent[#recent + 1] = fmt(now)
local keep = math.max(threshold, 1)
while #recent > keep do table.remove(recent, 1) end

local opened = fields[3] or ''
if phase == 'half_open' or (phase == 'closed' and #recent >= threshold) then
  opened = fmt(now + cooldown)
  probe_until = ''
end
local failures = table.concat(recent, ' ')
redis.call('HSET', key, 'f', failures, 'w', ARGV[4], 'ou', opened, 'pu', probe_until)
redis.call('EXPIRE', key, ARGV[6])
return {failures, ARGV[4], opened, probe_until}
