//! The Redis (or Valkey) side of `pool sync`: one blocking connection with
//! timeouts on connect, read and write, and the commands a pass needs.
//!
//! Entries go in with one Lua script per batch, atomic on the server: for
//! each entry it remembers the id with `SET <stream>:id:<id> 1 NX EX` and
//! `XADD`s the entry (`MAXLEN ~`) only when the id was new, so a batch sent
//! twice adds nothing twice. Messages carry two fields, `id` and `e` (the
//! entry's JSON line). Keep the server's `default` user enabled (with a
//! password): Redis 7.0 with it disabled dropped script-written entries when
//! it replayed its AOF after a crash.

use std::time::Duration;

use redis::Value;

use super::engine::{Message, Remote, StreamInfo};
use super::{StreamId, SyncConfig};
use crate::error::{Error, Result};

/// How long the server remembers an id it was given, in seconds: the longest
/// TTL plus a week, so a re-sent entry that is still live is never added twice.
pub const DEDUP_TTL: u64 = crate::store::log::MAX_TTL + 7 * 86_400;

const ADD_SCRIPT: &str = r"
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
      'id', ARGV[2 * i - 1], 'e', ARGV[2 * i])
    added = added + 1
  end
end
return added
";

/// A connection to the stream.
pub struct RedisRemote {
    con: redis::Connection,
    stream: String,
    maxlen: u64,
    timeout: Duration,
    shown: String,
    script: redis::Script,
}

impl RedisRemote {
    /// Connects and authenticates within the configured timeout. Fails with
    /// one line naming the server (never the password) when it refuses,
    /// does not answer in time, or rejects the credentials.
    pub fn connect(cfg: &SyncConfig, password: Option<String>) -> Result<RedisRemote> {
        let shown = cfg.shown_url();
        let fail = |what: &str, e: redis::RedisError| sync_error(&shown, what, cfg.timeout, &e);
        let client = redis::Client::open(cfg.url.as_str()).map_err(|e| {
            Error::Invalid(format!(
                "{shown} is not a redis:// or rediss:// URL: {}",
                e.kind_str()
            ))
        })?;
        let mut info = client.get_connection_info().clone();
        let mut settings = info.redis_settings().clone();
        if let Some(u) = &cfg.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = password {
            settings = settings.set_password(p);
        }
        info = info.set_redis_settings(settings.set_skip_set_lib_name());
        let client = redis::Client::open(info).map_err(|e| fail("cannot connect", e))?;
        let con = client
            .get_connection_with_timeout(cfg.timeout)
            .map_err(|e| fail("cannot connect", e))?;
        con.set_read_timeout(Some(cfg.timeout))
            .and_then(|_| con.set_write_timeout(Some(cfg.timeout)))
            .map_err(|e| fail("cannot connect", e))?;
        Ok(RedisRemote {
            con,
            stream: cfg.stream.clone(),
            maxlen: cfg.maxlen,
            timeout: cfg.timeout,
            shown,
            script: redis::Script::new(ADD_SCRIPT),
        })
    }

    fn fail(&self, what: &str, e: redis::RedisError) -> Error {
        sync_error(&self.shown, what, self.timeout, &e)
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

/// One line about a failed command: server, what failed and why.
fn sync_error(shown: &str, what: &str, timeout: Duration, e: &redis::RedisError) -> Error {
    let why = if e.is_timeout() {
        format!(
            "no answer within {}s (is the server hung?)",
            timeout.as_secs()
        )
    } else if e.is_connection_refusal() {
        "connection refused (is the server running?)".to_string()
    } else {
        e.to_string().replace(['\n', '\r'], " ")
    };
    Error::Invalid(format!("{what} {shown}: {why}"))
}

impl Remote for RedisRemote {
    fn add(&mut self, batch: &[(String, String)]) -> Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut inv = self.script.key(&self.stream);
        inv.arg(self.maxlen).arg(DEDUP_TTL);
        for (id, line) in batch {
            inv.key(format!("{}:id:{id}", self.stream));
            inv.arg(id).arg(line);
        }
        let added: i64 = inv
            .invoke(&mut self.con)
            .map_err(|e| self.fail("cannot push to", e))?;
        Ok(u64::try_from(added).unwrap_or(0))
    }

    fn read(
        &mut self,
        after: StreamId,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<Message>> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(count);
        if let Some(b) = block {
            cmd.arg("BLOCK")
                .arg(u64::try_from(b.as_millis()).unwrap_or(u64::MAX));
            self.con
                .set_read_timeout(Some(b + self.timeout))
                .map_err(|e| self.fail("cannot read from", e))?;
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(after.to_string());
        let reply: redis::RedisResult<Value> = cmd.query(&mut self.con);
        if block.is_some() {
            self.con
                .set_read_timeout(Some(self.timeout))
                .map_err(|e| self.fail("cannot read from", e))?;
        }
        let reply = reply.map_err(|e| self.fail("cannot read from", e))?;
        Ok(parse_xread(reply))
    }

    fn info(&mut self) -> Result<Option<StreamInfo>> {
        let reply: redis::RedisResult<Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&self.stream)
            .query(&mut self.con);
        match reply {
            Ok(v) => Ok(Some(parse_xinfo(v))),
            Err(e) if e.to_string().contains("no such key") => Ok(None),
            Err(e) => Err(self.fail("cannot read from", e)),
        }
    }
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn pairs(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len() / 2);
            let mut it = a.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        _ => Vec::new(),
    }
}

fn stream_id(v: &Value) -> Option<StreamId> {
    bytes(v)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(StreamId::parse)
}

/// `XREAD` reply: `[[stream, [[id, [field, value, …]], …]]]`, or nil.
fn parse_xread(v: Value) -> Vec<Message> {
    let streams = match v {
        Value::Array(a) => a.into_iter().flat_map(|s| match s {
            Value::Array(kv) => kv.into_iter().nth(1),
            _ => None,
        }),
        Value::Map(m) => {
            return m
                .into_iter()
                .flat_map(|(_, msgs)| parse_messages(msgs))
                .collect();
        }
        _ => return Vec::new(),
    };
    streams.flat_map(parse_messages).collect()
}

fn parse_messages(v: Value) -> Vec<Message> {
    let Value::Array(msgs) = v else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        let Value::Array(parts) = m else { continue };
        let mut it = parts.into_iter();
        let (Some(id), Some(fields)) = (it.next(), it.next()) else {
            continue;
        };
        let Some(sid) = stream_id(&id) else { continue };
        let payload = pairs(fields)
            .into_iter()
            .find(|(k, _)| bytes(k) == Some(b"e"))
            .and_then(|(_, v)| bytes(&v).map(<[u8]>::to_vec))
            .unwrap_or_default();
        out.push(Message { sid, payload });
    }
    out
}

fn parse_xinfo(v: Value) -> StreamInfo {
    let mut info = StreamInfo::default();
    for (k, v) in pairs(v) {
        let int = |v: &Value| match v {
            Value::Int(i) => u64::try_from(*i).ok(),
            other => bytes(other)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.parse().ok()),
        };
        match bytes(&k) {
            Some(b"length") => info.length = int(&v).unwrap_or(0),
            Some(b"entries-added") => info.entries_added = int(&v),
            Some(b"last-generated-id") => info.last_generated = stream_id(&v).unwrap_or_default(),
            Some(b"first-entry") => {
                if let Value::Array(e) = &v {
                    info.first = e.first().and_then(stream_id);
                }
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_replies() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("claude-pool"),
            Value::Array(vec![Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("id"), bulk("x"), bulk("e"), bulk("{}")]),
            ])]),
        ])]);
        assert_eq!(
            parse_xread(reply),
            vec![Message {
                sid: StreamId { ms: 5, seq: 1 },
                payload: b"{}".to_vec()
            }]
        );
        assert!(parse_xread(Value::Nil).is_empty());
        let info = parse_xinfo(Value::Array(vec![
            bulk("length"),
            Value::Int(2),
            bulk("last-generated-id"),
            bulk("9-0"),
            bulk("entries-added"),
            Value::Int(7),
            bulk("first-entry"),
            Value::Array(vec![bulk("8-0"), Value::Array(vec![])]),
        ]));
        assert_eq!(
            info,
            StreamInfo {
                length: 2,
                first: Some(StreamId { ms: 8, seq: 0 }),
                last_generated: StreamId { ms: 9, seq: 0 },
                entries_added: Some(7),
            }
        );
    }
}
