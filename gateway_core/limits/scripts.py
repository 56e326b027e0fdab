"""The Lua scripts of the Redis limits backend (see ``backend.py`` for what they mean).

Each counter is two keys: ``<name>:z``, a sorted set of ``token|amount`` members (scored by time
for windows, by lease expiry for pools), and ``<name>:t``, the window's running total (a string)
or the pool's ``held``/``used``/``alerted`` fields (a hash). Every key a script touches is passed
in ``KEYS`` and carries the same hash tag, so the scripts run unchanged on Redis Cluster.

Time is the server's (``TIME``), so instances with skewed clocks still agree; tests may pass a
time in ``ARGV[2]`` instead.
"""

from __future__ import annotations

_COMMON = """
local function now_ms()
  if ARGV[2] ~= '' then return tonumber(ARGV[2]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function amount_of(m)
  return tonumber(string.match(m, '|(%-?%d+)$'))
end

-- Integers as Redis and the members spell them: never "1e+15", never "-0".
local function int(x)
  return string.format('%d', x)
end

-- Remove the members scored at or below `cutoff`; return the sum of their amounts.
local function drop(z, cutoff)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff)
  if #gone == 0 then return 0 end
  local sum = 0
  for _, m in ipairs(gone) do sum = sum + amount_of(m) end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', cutoff)
  return sum
end

local function touch(z, t, ttl)
  if ttl > 0 then
    redis.call('PEXPIRE', z, int(ttl))
    redis.call('PEXPIRE', t, int(ttl))
  end
end
"""

# KEYS: z, t per check. ARGV: token, now|'', then per check: kind, limit, amount, span, ttl.
# Returns {1, remaining, reset_ms, ...} or {0, refused index (1-based), used, retry_ms}.
ADMIT = (
    _COMMON
    + """
local token = ARGV[1]
local now = now_ms()
local n = #KEYS / 2
local current = {}
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local kind, limit, amount, span = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
    tonumber(ARGV[a + 3])
  local z, t = KEYS[2 * i - 1], KEYS[2 * i]
  local value
  if kind == 'w' then
    value = tonumber(redis.call('GET', t) or '0')
    local gone = drop(z, now - span)
    if gone ~= 0 then
      value = value - gone
      redis.call('SET', t, int(value), 'KEEPTTL')
    end
  else
    local fields = redis.call('HMGET', t, 'held', 'used')
    local held = tonumber(fields[1] or '0')
    local gone = drop(z, now)
    if gone ~= 0 then
      held = held - gone
      redis.call('HSET', t, 'held', int(held))
    end
    value = held + tonumber(fields[2] or '0')
  end
  if value + amount > limit then
    local retry = -1
    if kind == 'w' and amount <= limit then
      local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
      local freed = 0
      retry = 0
      for j = 1, #entries, 2 do
        freed = freed + amount_of(entries[j])
        if value - freed + amount <= limit then
          retry = math.max(tonumber(entries[j + 1]) + span - now, 0)
          break
        end
      end
    end
    return {0, i, value, retry}
  end
  current[i] = value
end
local out = {1}
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local kind, limit, amount, span, ttl = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
    tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local z, t = KEYS[2 * i - 1], KEYS[2 * i]
  local m = token .. '|' .. int(amount)
  if kind == 'w' then
    redis.call('ZADD', z, now, m)
    redis.call('INCRBY', t, int(amount))
    local oldest = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
    out[#out + 1] = limit - current[i] - amount
    out[#out + 1] = tonumber(oldest[2]) + span - now
  else
    redis.call('ZADD', z, now + span, m)
    redis.call('HINCRBY', t, 'held', int(amount))
    out[#out + 1] = limit - current[i] - amount
    out[#out + 1] = 0
  end
  touch(z, t, ttl)
end
return out
"""
)

# KEYS: z, t per settlement. ARGV: token, now|'', then per settlement: kind, reserved, final,
# span, ttl, soft. Returns {index (1-based), used, ...} for each soft threshold crossed.
SETTLE = (
    _COMMON
    + """
local token = ARGV[1]
local now = now_ms()
local crossed = {}
for i = 1, #KEYS / 2 do
  local a = 3 + (i - 1) * 6
  local kind, reserved, final, span, ttl, soft = ARGV[a], tonumber(ARGV[a + 1]),
    tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local z, t = KEYS[2 * i - 1], KEYS[2 * i]
  local m = token .. '|' .. int(reserved)
  if kind == 'w' then
    local score = redis.call('ZSCORE', z, m)
    if score and tonumber(score) > now - span then
      redis.call('ZREM', z, m)
      if final > 0 then redis.call('ZADD', z, score, token .. '|' .. int(final)) end
      redis.call('INCRBY', t, int(final - reserved))
    else
      if score then  -- in the set but out of the window: it no longer counts
        redis.call('ZREM', z, m)
        redis.call('INCRBY', t, int(0 - reserved))
      end
      if final > reserved then  -- usage above the reservation counts from now
        redis.call('ZADD', z, now, token .. '|' .. int(final - reserved))
        redis.call('INCRBY', t, int(final - reserved))
      end
    end
  else
    if redis.call('ZREM', z, m) == 1 then
      redis.call('HINCRBY', t, 'held', int(0 - reserved))
    end
    if final > 0 then
      local used = redis.call('HINCRBY', t, 'used', int(final))
      if soft > 0 and used >= soft and redis.call('HSETNX', t, 'alerted', 1) == 1 then
        crossed[#crossed + 1] = i
        crossed[#crossed + 1] = used
      end
    end
  end
  touch(z, t, ttl)
end
return crossed
"""
)

# KEYS: the pools' z keys. ARGV: lease_ms, now|'', then one member per key.
# Only leases that still exist are extended: an expired one was already given back.
RENEW = """
local now
if ARGV[2] ~= '' then now = tonumber(ARGV[2]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local expiry = now + tonumber(ARGV[1])
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[2 + i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[2 + i])
  end
end
return #KEYS
"""
