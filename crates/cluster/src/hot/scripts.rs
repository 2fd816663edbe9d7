//! The Lua scripts of the hot state and the keys they touch.
//!
//! Every key of one activity shares the hash tag `{a:<id>}`, so one script can touch all of them
//! atomically — on one standalone server as on one Redis Cluster node. (A tag per activity SKU
//! would spread the SKUs of one activity over the cluster, but then `total_limit`, which caps a
//! user's units across all SKUs of the activity, could no longer be checked in the same atomic
//! step as the stock: correctness decides the tag.)
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{a:A}:meta` | hash | `v` → records version loaded, `total:S` → stock figure of SKU S |
//! | `{a:A}:left` | hash | SKU → units left (may dip below 0 after an operator lowers stock) |
//! | `{a:A}:bought` | hash | user → units in live orders and orders being written |
//! | `{a:A}:held` | hash | ticket → units it holds (its stock goes back at most once) |
//! | `{a:A}:idem` | hash | `user:key` → ticket, and `t:ticket` → `user:key` |
//! | `{a:A}:reserved` | set | users who reserved |
//! | `{a:A}:orders` | stream | one entry per won hold: the order draft (field `d`) |
//! | `{a:A}:acks` | hash | instance → `epoch:expires_ms:sold_out` (see [`ACK`]) |
//!
//! **Sold-out answers from memory, keys included.** `meta.epoch` moves whenever units can come
//! back on sale (a give-back, a reload). Every instance acknowledges the epoch every 100 ms
//! ([`ACK`]): atomically it reads the epoch, the units left and — once everything is gone — the
//! keys that won, and leaves `epoch:expires:1` in `acks` (a lease of one second, in Redis time).
//! While its lease runs (it stops using it 200 ms early) the instance answers `SOLD_OUT` from
//! memory to any key not among those that won. That is safe because no key can win meanwhile:
//! a win needs units back, which moves the epoch, and [`RESERVE`] refuses a win (answer `{5}`:
//! retry in a moment) while any unexpired sold-out lease is at an older epoch — until that
//! instance acknowledges the new epoch (within 100 ms) or its lease runs out.
//!
//! **A local view that never goes back.** Instances keep the units left of each SKU in memory
//! and learn new values from several places at once — replies of [`RESERVE`] and [`RELEASE`],
//! the acknowledgements, a periodic [`VIEW`], other instances' events — which may arrive out of
//! order. Every value comes with the epoch it was read in, and within one epoch units left only
//! go down (anything that raises them — a give-back, a reload, a stock change, a repair by
//! `seckill reconcile` — moves the epoch in the same atomic step). So a value is newer than
//! another if its epoch is higher, or its epoch is the same and it is lower; an instance applies
//! only newer values.
//!
//! Scripts are sent by SHA (`EVALSHA`) and loaded again when a server answers `NOSCRIPT` (after
//! a restart or a failover), by `redis::Script`.

use std::sync::LazyLock;

use redis::Script;
use seckill_domain::ids::ActivityId;

/// The consumer group every instance's stream consumers join.
pub const GROUP: &str = "writers";
/// The set of activity ids whose order streams may hold entries (consumers follow it, so a
/// stream is written out even after its activity ended).
pub const STREAMS: &str = "seckill:streams";
/// The channel instances tell each other about changes on.
pub const EVENTS: &str = "seckill:events";

/// The keys of one activity.
#[derive(Debug, Clone)]
pub struct Keys {
    pub meta: String,
    pub left: String,
    pub bought: String,
    pub held: String,
    pub idem: String,
    pub reserved: String,
    pub orders: String,
    pub acks: String,
}

impl Keys {
    pub fn of(activity: ActivityId) -> Keys {
        let tag = format!("{{a:{}}}", activity.get());
        Keys {
            meta: format!("{tag}:meta"),
            left: format!("{tag}:left"),
            bought: format!("{tag}:bought"),
            held: format!("{tag}:held"),
            idem: format!("{tag}:idem"),
            reserved: format!("{tag}:reserved"),
            orders: format!("{tag}:orders"),
            acks: format!("{tag}:acks"),
        }
    }

    /// Every key, for `EXPIRE` when the activity ends.
    pub fn all(&self) -> [&str; 8] {
        [&self.meta, &self.left, &self.bought, &self.held, &self.idem, &self.reserved, &self.orders, &self.acks]
    }
}

/// `seckill:{<ticket>}:tk` → user id: the ticket was handed out (its order is queued or
/// settled). The two keys of a ticket share a slot, so one pipeline reads both.
pub fn ticket_key(ticket: &seckill_domain::ids::Ticket) -> String {
    format!("seckill:{{{ticket}}}:tk")
}

/// `seckill:{<ticket>}:tr` → rejection code: the ticket's order was not written, and why.
pub fn rejected_key(ticket: &seckill_domain::ids::Ticket) -> String {
    format!("seckill:{{{ticket}}}:tr")
}

/// Loads an activity, or reloads it after a change.
///
/// KEYS: meta, left, bought, held, idem, reserved, orders. `ARGV[1]`: the records' view as JSON
/// `{"v":version,"skus":[[sku,stock,sold]…],"holdings":[[ticket,sku,user,qty,key|""]…],
/// "keys":[[ticket,user,key]…],"reserved":[user…]}`.
///
/// Not loaded yet (no `meta`): everything is built from the records, and the consumer group is
/// created. Loaded at an older version: stock follows the records by the change of each SKU's
/// stock figure (units taken — including orders still in the stream — are kept), SKUs no longer
/// in the activity go, reservations are merged. Loaded at this version or newer: reservations
/// are merged, nothing else changes — so every instance may run it, in any order.
/// Returns 1 (built), 2 (reloaded) or 0 (already current).
pub static LOAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local h = cjson.decode(ARGV[1])
local version = tonumber(h.v)
for _, u in ipairs(h.reserved) do redis.call('SADD', KEYS[6], u) end
local current = redis.call('HGET', KEYS[1], 'v')
if not current then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  for _, s in ipairs(h.skus) do
    redis.call('HSET', KEYS[2], s[1], s[2] - s[3])
    redis.call('HSET', KEYS[1], 'total:' .. s[1], s[2])
  end
  for _, x in ipairs(h.holdings) do
    redis.call('HINCRBY', KEYS[3], x[3], x[4])
    redis.call('HSET', KEYS[4], x[1], x[4])
    if x[5] ~= '' then
      local f = x[3] .. ':' .. x[5]
      redis.call('HSET', KEYS[5], f, x[1], 't:' .. x[1], f)
    end
  end
  for _, k in ipairs(h.keys) do
    local f = k[2] .. ':' .. k[3]
    redis.call('HSET', KEYS[5], f, k[1], 't:' .. k[1], f)
  end
  redis.call('HSET', KEYS[1], 'v', version)
  -- A fresh epoch above any an earlier life of these keys had (Redis time in ms): leases left
  -- from before are behind it.
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'epoch', string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000)))
  local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[7], 'writers', '0', 'MKSTREAM')
  if not ok and not string.find(tostring(err), 'BUSYGROUP') then return redis.error_reply(tostring(err)) end
  return 1
end
if tonumber(current) >= version then return 0 end
local keep = {}
for _, s in ipairs(h.skus) do
  local sku = tostring(s[1])
  keep[sku] = true
  local old = redis.call('HGET', KEYS[1], 'total:' .. sku)
  if old then
    redis.call('HINCRBY', KEYS[2], sku, s[2] - tonumber(old))
  else
    redis.call('HSET', KEYS[2], sku, s[2] - s[3])
  end
  redis.call('HSET', KEYS[1], 'total:' .. sku, s[2])
end
for _, sku in ipairs(redis.call('HKEYS', KEYS[2])) do
  if not keep[sku] then
    redis.call('HDEL', KEYS[2], sku)
    redis.call('HDEL', KEYS[1], 'total:' .. sku)
  end
end
redis.call('HSET', KEYS[1], 'v', version)
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[7], 'writers', '0', 'MKSTREAM')
if not ok and not string.find(tostring(err), 'BUSYGROUP') then return redis.error_reply(tostring(err)) end
return 2
"#,
    )
});

/// The one atomic step of a purchase.
///
/// KEYS: meta, left, bought, held, idem, orders, acks. ARGV: sku, user, quantity, total_limit,
/// idempotency key (or ""), ticket, the order draft (JSON).
///
/// Replays a known key; else checks the user's units against the limit, then the stock; then
/// takes both, remembers the ticket (and key) and appends the draft to the stream — no hold
/// without its order message. Returns `{1, left, epoch}` new hold, `{2, ticket}` replay,
/// `{3, left, epoch}` over the limit, `{4, left, epoch}` sold out, `{5, left, epoch}` a win held
/// back for a moment (an instance's sold-out lease is behind the epoch), `{-1}` unknown SKU,
/// `{-2}` activity not loaded.
pub static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-2} end
local field = ''
if ARGV[5] ~= '' then
  field = ARGV[2] .. ':' .. ARGV[5]
  local t = redis.call('HGET', KEYS[5], field)
  if t then return {2, t} end
end
local left = redis.call('HGET', KEYS[2], ARGV[1])
if not left then return {-1} end
left = tonumber(left)
local qty = tonumber(ARGV[3])
local bought = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if bought + qty > tonumber(ARGV[4]) then return {3, left, epoch} end
if left < qty then return {4, left, epoch} end
local acks = redis.call('HGETALL', KEYS[7])
if #acks > 0 then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  for i = 2, #acks, 2 do
    local e, exp, out = string.match(acks[i], '^(%d+):(%d+):(%d)$')
    if e and out == '1' and tonumber(exp) > now and tonumber(e) < epoch then return {5, left, epoch} end
  end
end
left = redis.call('HINCRBY', KEYS[2], ARGV[1], -qty)
redis.call('HINCRBY', KEYS[3], ARGV[2], qty)
redis.call('HSET', KEYS[4], ARGV[6], qty)
if field ~= '' then redis.call('HSET', KEYS[5], field, ARGV[6], 't:' .. ARGV[6], field) end
redis.call('XADD', KEYS[6], '*', 'd', ARGV[7])
return {1, left, epoch}
"#,
    )
});

/// Gives a hold back, at most once per ticket.
///
/// KEYS: meta, left, bought, held, idem. ARGV: sku, user, ticket, reason (`cancelled`: the key
/// keeps answering with the order; `unwritten`: no order exists, the key is forgotten).
///
/// Returns `{1, left, epoch}` when this call gave the units back (the epoch it moved to), `{0}`
/// when the ticket holds nothing
/// (given back already, never held, or the activity is not loaded — then the records are the
/// whole truth).
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local qty = redis.call('HGET', KEYS[4], ARGV[3])
if not qty then return {0} end
qty = tonumber(qty)
redis.call('HDEL', KEYS[4], ARGV[3])
local left = redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
if redis.call('HINCRBY', KEYS[3], ARGV[2], -qty) <= 0 then redis.call('HDEL', KEYS[3], ARGV[2]) end
if ARGV[4] == 'unwritten' then
  local field = redis.call('HGET', KEYS[5], 't:' .. ARGV[3])
  if field then redis.call('HDEL', KEYS[5], field, 't:' .. ARGV[3]) end
end
return {1, left, epoch}
"#,
    )
});

/// An instance's periodic look at an activity: the epoch and the units left read in one atomic
/// step (see "A local view that never goes back" above), and how many users reserved.
///
/// KEYS: meta, left, reserved. Returns `{-1}` if the activity is not loaded, else
/// `{epoch, {sku, left, …}, reserved}`.
pub static VIEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local epoch = redis.call('HGET', KEYS[1], 'epoch') or '0'
return {epoch, redis.call('HGETALL', KEYS[2]), redis.call('SCARD', KEYS[3])}
"#,
    )
});

/// An instance acknowledges the epoch and renews its lease (see the module docs).
///
/// KEYS: meta, left, idem, acks. ARGV: instance, lease in ms, the epoch whose winning keys the
/// instance already holds (or ""). Returns `{-1}` if the activity is not loaded, else
/// `{epoch, {sku, left, …}, sold_out, {user:key, …}}` — the winning keys only when everything
/// is sold out and the instance does not hold them for this epoch yet. Acks of instances gone
/// for a minute are removed.
pub static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local left = redis.call('HGETALL', KEYS[2])
local out = #left > 0
for i = 2, #left, 2 do
  if tonumber(left[i]) > 0 then out = false end
end
local flag = 0
if out then flag = 1 end
redis.call('HSET', KEYS[4], ARGV[1], string.format('%d:%d:%d', epoch, now + tonumber(ARGV[2]), flag))
local acks = redis.call('HGETALL', KEYS[4])
for i = 2, #acks, 2 do
  local exp = tonumber(string.match(acks[i], '^%d+:(%d+):') or '0')
  if exp + 60000 < now then redis.call('HDEL', KEYS[4], acks[i - 1]) end
end
local won = {}
if out and ARGV[3] ~= string.format('%d', epoch) then
  for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
    if string.sub(f, 1, 2) ~= 't:' then won[#won + 1] = f end
  end
end
return {string.format('%d', epoch), left, flag, won}
"#,
    )
});
