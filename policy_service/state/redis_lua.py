"""The Redis store's observe script, written for one rule set's crisis conditions.

The conditions and the cool-down are compiled into the script's source, one
script per rule set: decoding them from JSON with every event cost the
server more than everything else the script does for a typical event.
"""

from __future__ import annotations

import math
from typing import Any

from policy_service.state import (
    ESCALATION_WINDOW_MS,
    PENDING_SECONDS,
    TRANSITIONS_KEPT,
    CrisisRules,
)
from policy_service.state.levels import PortableCondition
from policy_service.state.memory import HOUR_MS, MAX_PER_AUTHOR, MAX_PER_THREAD, MINUTE_MS

STATE_TTL_SECONDS = 30 * 86400  # the state hash, transitions: an account silent for a month is new
RECENT_TTL_SECONDS = 25 * 3600  # multipliers, authors, threads: nothing older than 24 h counts
# The state hash's TTL is refreshed (with the transitions' and multipliers') once it
# has run down by this much, not with every event: TTLs stay within this of their
# full length, and an active account costs one PEXPIRE per key and hour.
TTL_REFRESH_MS = 3_600_000
# Rate-limit and rails keys outlive their use a little (they are named by window or
# compared with the clock); the TTL only cleans up.
LIMIT_TTL_MARGIN_MS = 1000
# The rings: slots per ring and bucket width; the state hash keeps slot i of
# each as the field "m:i" or "h:i".
MINUTE_RING = (60, MINUTE_MS)
HOUR_RING = (24, HOUR_MS)

_CONSTANTS = f"""
local STATE_TTL, TTL_REFRESH = {STATE_TTL_SECONDS * 1000}, {TTL_REFRESH_MS}
local ESCALATION_WINDOW = {ESCALATION_WINDOW_MS}
local M_SIZE, M_WIDTH, H_SIZE, H_WIDTH = {MINUTE_RING[0]}, {MINUTE_RING[1]}, {HOUR_RING[0]}, \
{HOUR_RING[1]}
-- Arguments of commands, written out: a number given to redis.call is formatted
-- with %.17g, which costs the server more than many a command.
local STATE_TTL_ARG, RECENT_TTL_ARG = '{STATE_TTL_SECONDS * 1000}', '{RECENT_TTL_SECONDS * 1000}'
local PENDING_TTL_ARG = '{PENDING_SECONDS * 1000}'
local AUTHOR_LAST_ARG, THREAD_LAST_ARG = '{-(MAX_PER_AUTHOR + 1)}', '{-(MAX_PER_THREAD + 1)}'
local TRANSITIONS_LAST_ARG = '{TRANSITIONS_KEPT - 1}'
"""

_OBSERVE = """
-- Observe one event of one account: deduplicate, count, move the crisis level, snapshot.
-- The level machine and the derived fields mirror policy_service/state/levels.py.
-- KEYS[1] meta    hash: wm level since hold cstart (times in ms); totals: the watermark
--                 they are at, the 1 h window's six counters and the 24 h volume; mx:
--                 the newest time in mult; rl_end, rl_used: the rate-limit window and
--                 its count; "m:<slot>" and "h:<slot>": "bucket,volume,negative,hostile,
--                 positive,multiplier,non_customer" of the minute and hour rings
-- KEYS[2] mult    sorted set: multiplier author -> time of their last negative comment
-- KEYS[3] tr      list: "from to at_ms", newest first
-- KEYS[4] ev:<event_id>  string: the decision given, "" while pending
-- KEYS[5] an:<author>    sorted set: event id -> time, the author's negative comments
-- KEYS[6] tn:<thread>    sorted set: event id -> time (only when ARGV[7] is "1")
-- then, with rails (ARGV[8] "1"), the last two: esc, aa:<author>
-- ARGV[1] event time (ms)  ARGV[2] event id  ARGV[3] author id  ARGV[4] tone
-- ARGV[5] "1" when the author is a multiplier  ARGV[6] "1" when the author is not a customer
-- ARGV[7] "1" when the comment has a thread  ARGV[8] "1" to read the rails' state
-- ARGV[9] the service's clock (ms)  ARGV[10] new events allowed per rate-limit window
-- (0: no limit)  ARGV[11] the end of the clock's rate-limit window (ms)
-- Returns one string (one bulk reply is the cheapest for the client to read):
--   "new|seen level crisis_start volume negative hostile positive multiplier non_customer
--   volume_24h multipliers_1h author_negative_24h thread_negative_1h", the 1 h counters
--   first, then with rails "escalations_1h open_escalation|- author_answered_ms|-"; for a
--   seen event a newline and the decision it got ("" while pending) follow. A new event
--   the rate limit refuses gets "limited <ms until the window ends>" and is not counted.
local HOUR, DAY = 3600000, 86400000
local SLOT = '^(-?%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$'
local floor = math.floor
local st_key, mult, tr, ev, an = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local tn = ARGV[7] == '1' and KEYS[6] or nil
local with_rails = ARGV[8] == '1'
local at, clock = tonumber(ARGV[1]), tonumber(ARGV[9])

-- Times (ms) and counts are integers below 2^53, written out with %d: Lua's own
-- number to text (%.14g, as `..` and table.concat do it) and the %.17g of redis.call
-- were a quarter of the script's cost, for the same digits.
local fmt = string.format
local function int(x) return fmt('%d', x) end

local m_field = fmt('m:%d', floor(at / M_WIDTH) % M_SIZE)
local h_field = fmt('h:%d', floor(at / H_WIDTH) % H_SIZE)
local m = redis.call('HMGET', st_key, 'wm', 'level', 'since', 'hold', 'cstart', 'totals', 'mx',
                     'rl_end', 'rl_used', m_field, h_field)
local known = m[1]
-- as read (nil when missing), each parsed once: text to number is dear too
local wm0, since0, hold0, cstart0, mx0 = tonumber(m[1]), tonumber(m[3]), tonumber(m[4]),
                                         tonumber(m[5]), tonumber(m[7])
local wm = wm0 or 0
local lv, since, hold, cstart = m[2] or 'calm', since0 or 0, hold0 or 0, cstart0 or 0
local mx = mx0 or 0
-- t[1..6]: the 1 h counters; t[7]: the 24 h volume; tw: the watermark they are at (their
-- own: the version before this one kept the rings in keys of their own, and while both
-- run it moves wm without these totals)
local t, tw = {0, 0, 0, 0, 0, 0, 0}, 0
if m[6] then
  local w, a, b, c, d, e, f, g =
    string.match(m[6], '^(-?%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$')
  t = {tonumber(a), tonumber(b), tonumber(c), tonumber(d), tonumber(e), tonumber(f), tonumber(g)}
  tw = tonumber(w)
end

-- the counts of the sorted sets at the watermark
local function recent(counts)
  counts[8] = 0
  local hour_ago = fmt('(%d', wm - HOUR)
  if mx > wm - HOUR then counts[8] = redis.call('ZCOUNT', mult, hour_ago, '+inf') end
  counts[9] = redis.call('ZCOUNT', an, fmt('(%d', wm - DAY), '+inf')
  counts[10] = 0
  if tn then counts[10] = redis.call('ZCOUNT', tn, hour_ago, '+inf') end
  return counts
end

local function reply(status, counts)
  local r = fmt('%s %s %d %d %d %d %d %d %d %d %d %d %d', status, lv, cstart, counts[1],
                counts[2], counts[3], counts[4], counts[5], counts[6], counts[7], counts[8],
                counts[9], counts[10])
  if with_rails then
    -- escalations not folded within the hour before now (the record step keeps at most
    -- the cap of them), the newest of them, and when this author was last answered
    local in_hour = redis.call('ZREVRANGEBYSCORE', KEYS[#KEYS - 1], '+inf',
                               fmt('(%d', clock - ESCALATION_WINDOW))
    r = fmt('%s %d %s %s', r, #in_hour, in_hour[1] or '-', redis.call('GET', KEYS[#KEYS]) or '-')
  end
  return r
end

-- the pending mark, and what it replaced when the event was seen before: one command
local seen = redis.call('SET', ev, '', 'PX', PENDING_TTL_ARG, 'NX', 'GET')
if seen then
  return reply('seen', recent({t[1], t[2], t[3], t[4], t[5], t[6], t[7]})) .. '\\n' .. seen
end
local per_window, rl_end, rl_used = tonumber(ARGV[10]), ARGV[11], 0
if per_window > 0 then
  -- the account's rate limit: a refused event is not counted, not even in the limit,
  -- and not remembered
  if m[8] == rl_end then rl_used = tonumber(m[9]) end
  if rl_used >= per_window then
    redis.call('DEL', ev)
    return fmt('limited %d', tonumber(rl_end) - clock)
  end
end

-- The window totals follow the watermark: the buckets that leave a window as it
-- moves are subtracted, so that no observe reads a whole ring.
local new_wm = math.max(wm, at)
local fetched = {[m_field] = m[10], [h_field] = m[11]}
local function leave(size, width, prefix, first, last)
  local old, new = floor(tw / width), floor(new_wm / width)
  if new == old then return end
  if new - old >= size then
    for i = first, last do t[i] = 0 end
    return
  end
  local names, missing = {}, {}
  for b = old - size + 1, new - size do
    local name = fmt('%s%d', prefix, b % size)
    names[#names + 1] = name
    if fetched[name] == nil then missing[#missing + 1] = name end
  end
  if #missing > 0 then
    local got = redis.call('HMGET', st_key, unpack(missing))
    for i, name in ipairs(missing) do fetched[name] = got[i] end
  end
  for i, name in ipairs(names) do
    local slot = fetched[name]
    if slot then
      local b, v, n, h, p, mm, x = string.match(slot, SLOT)
      if tonumber(b) == old - size + i then
        if last == 7 then
          t[7] = t[7] - v
        else
          t[1], t[2], t[3], t[4], t[5], t[6] = t[1] - v, t[2] - n, t[3] - h, t[4] - p, t[5] - mm,
                                               t[6] - x
        end
      end
    end
  end
end
leave(M_SIZE, M_WIDTH, 'm:', 1, 6)
leave(H_SIZE, H_WIDTH, 'h:', 7, 7)
wm = new_wm

-- count the event in its bucket of each ring, while the window still covers it
local tone = ARGV[4]
local negative = tone == 'negative' or tone == 'hostile'
local function flag(b) if b then return 1 end return 0 end
local adds = {1, flag(negative), flag(tone == 'hostile'), flag(tone == 'positive'),
              flag(ARGV[5] == '1'), flag(ARGV[6] == '1')}
local writes = {}
-- returns whether the window still covers the event's bucket
local function count(field, width, size)
  local bucket = floor(at / width)
  if bucket <= floor(wm / width) - size then return false end
  local v, n, h, p, mm, x = 0, 0, 0, 0, 0, 0
  local slot = fetched[field]
  if slot then
    local b, v1, n1, h1, p1, m1, x1 = string.match(slot, SLOT)
    if tonumber(b) == bucket then v, n, h, p, mm, x = v1, n1, h1, p1, m1, x1 end
  end
  writes[#writes + 1] = field
  writes[#writes + 1] = fmt('%d,%d,%d,%d,%d,%d,%d', bucket, v + 1, n + adds[2], h + adds[3],
                            p + adds[4], mm + adds[5], x + adds[6])
  return true
end
if count(m_field, M_WIDTH, M_SIZE) then
  for i = 1, 6 do t[i] = t[i] + adds[i] end
end
if count(h_field, H_WIDTH, H_SIZE) then t[7] = t[7] + 1 end

if negative then
  if ARGV[5] == '1' then
    -- mult only grows here, so only here is it cleaned of authors older than a day
    redis.call('ZADD', mult, 'GT', ARGV[1], ARGV[3])
    redis.call('ZREMRANGEBYSCORE', mult, '-inf', int(wm - DAY))
    redis.call('PEXPIRE', mult, RECENT_TTL_ARG)
    if at > mx then mx = at end
  end
  redis.call('ZADD', an, ARGV[1], ARGV[2])
  redis.call('ZREMRANGEBYRANK', an, '0', AUTHOR_LAST_ARG)
  redis.call('PEXPIRE', an, RECENT_TTL_ARG)
  if tn then
    redis.call('ZADD', tn, ARGV[1], ARGV[2])
    redis.call('ZREMRANGEBYRANK', tn, '0', THREAD_LAST_ARG)
    redis.call('PEXPIRE', tn, RECENT_TTL_ARG)
  end
end
local counts = recent({t[1], t[2], t[3], t[4], t[5], t[6], t[7]})

-- the fields the conditions read, as levels.derive computes them
local function rounded(x) return floor(x * 1000 + 0.5) / 1000 end
local volume = counts[1]
local f = {volume_1h = volume, negative_1h = counts[2], hostile_1h = counts[3],
           positive_1h = counts[4], negative_share_1h = 0, non_customer_share_1h = 0,
           volume_24h = counts[7], multipliers_1h = counts[8], author_negative_24h = counts[9],
           thread_negative_1h = counts[10], crisis_level = lv}
if volume > 0 then
  f.negative_share_1h = rounded(counts[2] / volume)
  f.non_customer_share_1h = rounded(counts[6] / volume)
end
f.velocity = rounded(volume / math.max(math.max(counts[7] - volume, 0) / 23, 1))

-- move the level: levels.advance
local now = wm
local moves = {}
local function move(to, when)
  moves[#moves + 1] = fmt('%s %s %d', lv, to, when)
  lv, since, hold = to, when, when
  if to == 'crisis' then cstart = when end
end
local in_crisis, in_watch = crisis_holds(f), watch_holds(f)
if in_crisis then
  if lv ~= 'crisis' then move('crisis', now) end
  hold = now
elseif lv == 'calm' then
  if in_watch then move('watch', now) end
elseif (lv == 'watch' or lv == 'recovery') and in_watch then
  hold = now
else
  for _ = 1, 2 do
    local due = hold + COOL_DOWN
    if lv == 'calm' or due > now then break end
    if lv == 'crisis' then move('recovery', due) else move('calm', due) end
    if lv == 'recovery' and in_watch then
      hold = now
      break
    end
  end
end

if #moves > 0 then
  for _, mv in ipairs(moves) do redis.call('LPUSH', tr, mv) end
  redis.call('LTRIM', tr, '0', TRANSITIONS_LAST_ARG)
  redis.call('PEXPIRE', tr, STATE_TTL_ARG)
end
-- meta: the watermark and totals always, the rest when it changed
local fields = writes
local function add(name, value)
  local n = #fields
  fields[n + 1], fields[n + 2] = name, value
end
local function put(name, value, before)
  if value ~= before then add(name, type(value) == 'number' and int(value) or value) end
end
add('totals', fmt('%d,%d,%d,%d,%d,%d,%d,%d', wm, t[1], t[2], t[3], t[4], t[5], t[6], t[7]))
put('wm', wm, wm0)
put('hold', hold, hold0)
if #moves > 0 then
  put('level', lv, m[2])
  put('since', since, since0)
  put('cstart', cstart, cstart0)
end
put('mx', mx, mx0)
if per_window > 0 then
  put('rl_end', rl_end, m[8])
  add('rl_used', int(rl_used + 1))
end
redis.call('HSET', st_key, unpack(fields))
-- Every key keeps a TTL. The state hash gets one when it is created and is refreshed,
-- with the keys that live as long as it, once it has run down by TTL_REFRESH.
if not known or redis.call('PTTL', st_key) < STATE_TTL - TTL_REFRESH then
  redis.call('PEXPIRE', st_key, STATE_TTL_ARG)
  redis.call('PEXPIRE', tr, STATE_TTL_ARG)
  redis.call('PEXPIRE', mult, RECENT_TTL_ARG)
end
return reply('new', counts)
"""


def observe_script(rules: CrisisRules) -> str:
    """The observe script for a rule set: its conditions and cool-down compiled in."""
    return (
        _CONSTANTS
        + f"local COOL_DOWN = {_lua_value(rules.cool_down_seconds * 1000)}\n"
        + _PRELUDE
        + f"local function crisis_holds(f) return {lua_condition(rules.crisis)} end\n"
        + f"local function watch_holds(f) return {lua_condition(rules.watch)} end\n"
        + _OBSERVE
    )


_PRELUDE = """
local function unknown(op) error('unknown operator ' .. op) end
"""

_COMPARISONS = {"eq": "==", "ne": "~=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def lua_condition(condition: PortableCondition | None) -> str:
    """A portable condition as a Lua expression over the table `f`, as levels.compile_test reads it.

    A comparison on a field `f` lacks is false; None never holds.
    """
    if condition is None:
        return "false"
    kind = condition[0]
    if kind in ("all", "any"):
        parts = [lua_condition(c) for c in condition[1]]
        if not parts:
            return "true" if kind == "all" else "false"
        return "(" + f" {'and' if kind == 'all' else 'or'} ".join(parts) + ")"
    if kind == "not":
        return f"(not {lua_condition(condition[1])})"
    _, name, op, operand = condition
    v = f"f[{_lua_value(name)}]"
    if op in _COMPARISONS:
        test = f"{v} {_COMPARISONS[op]} {_lua_value(operand)}"
    elif op == "between":
        test = f"{_lua_value(operand[0])} <= {v} and {v} <= {_lua_value(operand[1])}"
    elif op in ("in", "not_in"):
        found = " or ".join(f"{v} == {_lua_value(x)}" for x in operand) or "false"
        test = f"({found}) == {'true' if op == 'in' else 'false'}"
    else:
        return f"unknown({_lua_value(str(op))})"
    return f"({v} ~= nil and ({test}))"


def _lua_value(value: Any) -> str:
    """A Lua literal for a condition's value (as cjson would have decoded it from JSON)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "(0/0)"
        if math.isinf(value):
            return "math.huge" if value > 0 else "(-math.huge)"
        return repr(value)
    if isinstance(value, str):
        if value.isascii() and value.replace("_", "").isalnum():
            return f'"{value}"'
        # every byte as a decimal escape: nothing in the text can end the literal
        return '"' + "".join(f"\\{byte}" for byte in value.encode()) + '"'
    raise ValueError(f"a crisis condition compares with {value!r}: numbers or text only")
