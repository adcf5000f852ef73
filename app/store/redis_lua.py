"""Server-side scripts of the Redis backend, each run on one shard.

Layout of a namespace (see ``redis_layout`` for the shard tags; the read
scripts are in ``redis_lua_reads``):

- ``paradup:{ns}:layout:v2``  HASH: scheme, shards, bucket_bits, filter (read
  on open; ``paradup:{ns}:layout``, without filter, in namespaces made
  before the blocked filter, see redis_filter)

and under each shard's prefix ``paradup:{<tag>}:`` (one slot per shard):

- ``meta``          HASH: scheme, bucket_bits, shards, documents, paragraphs, seq,
                    filter (its format), fgen (moves with every filter change)
- ``ids``           HASH: document id -> its number in the shard (seq)
- ``names``         ZSET: every document id, score 0, so that ids sort and
                    a prefix is a range (ZRANGEBYLEX) instead of a scan
- ``d<seq>``        LIST: id, digest, metadata JSON, paragraph texts...
- ``b<bucket>``     STRING: 7-byte records, suffix (3 bytes) + local ref (4 bytes)
- ``f``             STRING: the shard's filter, a bitmap (shards created with
                    meta's ``filter``, its format, set)

A shard's filter (redis_filter: format "10", one bit a key, or the blocked
"<bits>x<hashes>", several bits of one 32-bit word a key) is set by the
script that adds a record. A check tests every key with one BITFIELD_RO per
shard, in C (and a mask per key), and reads and searches only the buckets
of the keys that pass: a key of an article is in at most a few shards, and
each shard was reading a bucket for every key. The bits are a superset:
records removed leave theirs set (only costing a bucket read) until the
shard is empty, when the filter is deleted. Shards made before the filter
have no ``filter`` in meta and read every bucket as before.

A band key's top bits pick its bucket (2**bucket_bits / shards buckets per
shard) and the next 24 bits are its suffix inside it. Buckets are plain
strings rather than hashes or sets: a record costs its 7 bytes and nothing
more, whatever the server's encoding thresholds are. A local ref is
``seq << 12 | paragraph index``: the shard is where the record lives.

KEYS[1] is the shard's meta; the scripts build the other names from the
prefix (they share its slot). On a cluster, the scripts that write (APPLY,
CREATE) and PARAGRAPHS also declare, after meta, every other key they touch
(the store sends them): while a slot migration splits those keys between two
nodes, Redis refuses the call before it runs (TRYAGAIN, or ASK to the node
importing the slot), so a write is never stopped half-way by a key that left
and never creates, on the importing node, a key not moved yet (which would
make the migration fail with BUSYKEY). The other reads cannot know all their
keys in advance (a check's buckets are most of a shard's; STATE finds a
document's number in ``ids``): they are not sent with ASKING, so they run only
on the slot's owner, where a key already gone stops them ("non local key":
nothing was written, the store sends them again once the slot has moved).

Every script is sent with the namespace's scheme as its last argument and
starts with ``GUARD``: when the shard's ``meta`` is gone (Redis restarted
empty, the keys deleted) or holds another scheme, it fails before touching
anything, so no read answers from a vanished index and no write re-creates
a namespace without its scheme. Only ``CREATE`` makes a shard.
"""

from __future__ import annotations

# Takes the scheme off the end of ARGV and checks it against meta's.
GUARD = """
local expected_scheme = ARGV[#ARGV]
ARGV[#ARGV] = nil
local stored_scheme = redis.call('HGET', KEYS[1], 'scheme')
if stored_scheme ~= expected_scheme then
  return redis.error_reply('PARADUP_NAMESPACE ' .. tostring(stored_scheme))
end
"""

# KEYS: the namespace's root key, the root key of a namespace made before
# the blocked filter, the one-slot layout's meta key. ARGV: scheme, shards,
# bucket bits, filter format. Records the layout unless either root exists;
# refuses a namespace of the one-slot layout. Returns scheme, shards, bits,
# filter format (false: an older root, whose format is "10").
CREATE_ROOT = """
local fields = {'scheme', 'shards', 'bucket_bits', 'filter'}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HMGET', KEYS[1], unpack(fields)) end
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.call('HMGET', KEYS[2], unpack(fields)) end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('PARADUP_ONE_SLOT')
end
redis.call('HSET', KEYS[1], 'scheme', ARGV[1], 'shards', ARGV[2], 'bucket_bits', ARGV[3], 'filter', ARGV[4])
return redis.call('HMGET', KEYS[1], unpack(fields))
"""

# ARGV: prefix, scheme, bucket bits, shards, filter format, the filter's
# first generation (random: a namespace deleted and made again must not
# take up the numbers a client's copy of the old filter was at). Creates the
# shard's meta unless it exists; refuses when documents are left without it
# (a namespace partly deleted). Returns the stored scheme.
CREATE = """
local meta, prefix = KEYS[1], ARGV[1]
if redis.call('EXISTS', meta) == 0 then
  if redis.call('EXISTS', prefix .. 'ids') == 1 then
    return redis.error_reply('PARADUP_DAMAGED')
  end
  redis.call('HSET', meta, 'scheme', ARGV[2], 'bucket_bits', ARGV[3], 'shards', ARGV[4], 'filter', ARGV[5],
             'fgen', ARGV[6])
end
return redis.call('HGET', meta, 'scheme')
"""

# Returns the shard's document and paragraph counters (also the readiness
# probe: it runs on the very node that serves the shard).
STATS = (
    GUARD
    + """
return redis.call('HMGET', KEYS[1], 'documents', 'paragraphs')
"""
)

# ARGV: prefix, reserve ('1': give each absent document a fresh number),
# then (id, digest) pairs. Returns, per id: when absent, false or (with
# reserve) the new number; {seq, digest} when the digest is the same;
# {seq, full list} otherwise. Numbers lost to a failed write are never
# reused: gaps are harmless.
STATE = (
    GUARD
    + """
local prefix = ARGV[1]
local reserve = ARGV[2] == '1'
local out = {}
for i = 3, #ARGV, 2 do
  local seq = redis.call('HGET', prefix .. 'ids', ARGV[i])
  if not seq then
    if reserve then
      out[#out + 1] = redis.call('HINCRBY', KEYS[1], 'seq', 1)
    else
      out[#out + 1] = false
    end
  else
    local key = prefix .. 'd' .. seq
    local digest = redis.call('LINDEX', key, 1)
    if digest == ARGV[i + 1] then
      out[#out + 1] = {seq, digest}
    else
      out[#out + 1] = {seq, redis.call('LRANGE', key, 0, -1)}
    end
  end
end
return out
"""
)

# KEYS[1]: meta. ARGV: prefix, document count, then per document
#   op ('p' put, 'd' delete, 'c' check only), id, expected seq ('' = absent),
#   expected digest, seq, digest, metadata, paragraph count, texts...
# then the bucket changes, document delta, paragraph delta, the filter
# change (redis_layout.Layout.filter_change: mode, bits), the filter's new
# generation if it changes. Bucket changes
# are grouped by bucket on the client, because Lua pays about a microsecond
# per string it makes: per touched bucket, bucket (3 bytes), removed and
# added record counts (4 bytes each), the removed records, the added ones.
# A new document's number, reserved by STATE, is checked free and recorded
# in meta's counter here too: a write sent again after a failover may reach
# a promoted replica that never saw the reservation (a later STATE would
# hand the same number out again, and two documents would share a list).
# Everything is verified before anything is written, so the script either
# returns 0 having changed nothing (a concurrent writer got there first: the
# caller re-reads and retries) or applies the whole batch.
APPLY = (
    GUARD
    + """
local prefix, meta = ARGV[1], KEYS[1]
local ids = prefix .. 'ids'
local docs, i = {}, 3
for d = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[i + 7])
  docs[d] = {op = ARGV[i], id = ARGV[i + 1], old_seq = ARGV[i + 2], old_digest = ARGV[i + 3],
             seq = ARGV[i + 4], digest = ARGV[i + 5], meta = ARGV[i + 6], first = i + 8, n = n}
  i = i + 8 + n
end
for _, doc in ipairs(docs) do
  local seq = redis.call('HGET', ids, doc.id)
  if (seq or '') ~= doc.old_seq then return 0 end
  if seq and redis.call('LINDEX', prefix .. 'd' .. seq, 1) ~= doc.old_digest then return 0 end
  -- A new document's number must be free: after a failover, the promoted
  -- replica may not have the reservation (STATE) of a write sent again.
  if doc.op == 'p' and doc.old_seq == '' and redis.call('EXISTS', prefix .. 'd' .. doc.seq) == 1 then
    return 0
  end
end
for _, doc in ipairs(docs) do
  if doc.op ~= 'c' then
    if doc.old_seq ~= '' then redis.call('DEL', prefix .. 'd' .. doc.old_seq) end
    if doc.op == 'd' then
      redis.call('HDEL', ids, doc.id)
      redis.call('ZREM', prefix .. 'names', doc.id)
    else
      local key = prefix .. 'd' .. doc.seq
      redis.call('RPUSH', key, doc.id, doc.digest, doc.meta)
      local j, last = doc.first, doc.first + doc.n - 1
      while j <= last do
        local k = math.min(j + 999, last)
        redis.call('RPUSH', key, unpack(ARGV, j, k))
        j = k + 1
      end
      redis.call('HSET', ids, doc.id, doc.seq)
      redis.call('ZADD', prefix .. 'names', 0, doc.id)
      -- ... and is never reserved again, whichever master reserved it.
      if tonumber(redis.call('HGET', meta, 'seq') or '0') < tonumber(doc.seq) then
        redis.call('HSET', meta, 'seq', doc.seq)
      end
    end
  end
end
local blob, pos, scratch = ARGV[i], 1, prefix .. 'bt'
while pos <= #blob do
  local key = prefix .. 'b' .. string.sub(blob, pos, pos + 2)
  local nrem, nadd = struct.unpack('>I4>I4', blob, pos + 3)
  pos = pos + 11
  if nrem == 0 and nadd > 0 then
    -- Records added only: appended where they are, without reading the
    -- bucket into Lua and writing it back (~7 us a bucket, and a batch
    -- touches most of them), then copied once so that the string keeps no
    -- room APPEND reserved (it doubles an sds it grows): COPY allocates
    -- the exact length, RENAME puts it back.
    redis.call('APPEND', key, string.sub(blob, pos, pos + nadd * 7 - 1))
    pos = pos + nadd * 7
    redis.call('COPY', key, scratch)
    redis.call('RENAME', scratch, key)
  else
    local s = redis.call('GET', key) or ''
    for r = 1, nrem do
      local rec, at, from = string.sub(blob, pos, pos + 6), nil, 1
      pos = pos + 7
      while true do
        at = string.find(s, rec, from, true)
        if not at then break end
        if (at - 1) % 7 == 0 then
          s = string.sub(s, 1, at - 1) .. string.sub(s, at + 7)
          break
        end
        from = at + 1
      end
    end
    if nadd > 0 then
      s = s .. string.sub(blob, pos, pos + nadd * 7 - 1)
      pos = pos + nadd * 7
    end
    if #s == 0 then redis.call('DEL', key) else redis.call('SET', key, s) end
  end
end
local documents = redis.call('HINCRBY', meta, 'documents', ARGV[i + 1])
redis.call('HINCRBY', meta, 'paragraphs', ARGV[i + 2])
-- An empty shard holds no records: its filter's stale bits go too.
local mode, bits = ARGV[i + 3], ARGV[i + 4]
if documents == 0 or mode ~= '' then
  -- Clients' copies of the filter are no longer this one (redis_filter_cache).
  -- A random generation, not a counter: a replica promoted without the last
  -- writes would count the same numbers again for other bits.
  redis.call('HSET', meta, 'fgen', ARGV[i + 5])
end
if documents == 0 then redis.call('DEL', prefix .. 'f') end
if mode ~= '' and redis.call('HEXISTS', meta, 'filter') == 1 then
  local filter = prefix .. 'f'
  if mode == 'b' then
    -- A large batch: OR in, in C, a bitmap of the whole filter.
    local scratch = prefix .. 'fd'
    redis.call('SET', scratch, bits)
    redis.call('BITOP', 'OR', filter, filter, scratch)
    redis.call('DEL', scratch)
  else
    for p = 1, #bits, 4 do
      redis.call('SETBIT', filter, struct.unpack('>I4', string.sub(bits, p, p + 3)), 1)
    end
  end
end
return 1
"""
)
