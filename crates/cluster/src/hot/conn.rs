//! Where Redis is and how seckill talks to it: one standalone server (`redis://host:port`) or
//! a Redis Cluster (`redis+cluster://h1:p1,h2:p2,…`), behind one clonable, multiplexed,
//! auto-reconnecting handle ([`RedisConn`]) that every command and script goes through.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use seckill_store::StoreError;

/// How long one command may take before the caller gets `Unavailable`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The configured Redis: one server or the seed nodes of a cluster.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// `redis://[user:password@]host:port[/db]`.
    Standalone(String),
    /// Seed nodes of a Redis Cluster, each as `redis://host:port`.
    Cluster(Vec<String>),
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may carry a password: only the shape and the number of nodes are shown.
        match self {
            RedisTarget::Standalone(_) => f.write_str("RedisTarget::Standalone(..)"),
            RedisTarget::Cluster(nodes) => write!(f, "RedisTarget::Cluster({} nodes)", nodes.len()),
        }
    }
}

impl RedisTarget {
    /// Parses `redis://…` or `redis+cluster://h1:p1,h2:p2,…` (a password, if any, is given once
    /// before the first node: `redis+cluster://:secret@h1:p1,h2:p2`). The error never echoes the
    /// URL (it may hold a password).
    pub fn parse(url: &str) -> Result<RedisTarget, String> {
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let hosts = hosts.trim_end_matches('/');
            let nodes: Vec<String> = hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| format!("redis://{auth}{h}/"))
                .collect();
            if nodes.is_empty() {
                return Err("redis+cluster:// needs at least one host:port".into());
            }
            for n in &nodes {
                redis::Client::open(n.as_str()).map_err(|_| "a cluster node is not host:port".to_owned())?;
            }
            Ok(RedisTarget::Cluster(nodes))
        } else if url.starts_with("redis://") {
            redis::Client::open(url).map_err(|_| "not a valid redis:// URL".to_owned())?;
            Ok(RedisTarget::Standalone(url.to_owned()))
        } else {
            Err("expected redis://host:port or redis+cluster://host:port,host:port,…".into())
        }
    }

    /// A clonable, multiplexed handle for commands and scripts (reconnects by itself).
    pub async fn connect(&self) -> Result<RedisConn, StoreError> {
        match self {
            RedisTarget::Standalone(url) => {
                let client = redis::Client::open(url.as_str()).map_err(unavailable)?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_number_of_retries(2);
                let manager = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
                Ok(RedisConn::Standalone(manager))
            }
            RedisTarget::Cluster(nodes) => Ok(RedisConn::Cluster(self.cluster(nodes, RESPONSE_TIMEOUT).await?)),
        }
    }

    /// A connection of its own for blocking reads (`XREADGROUP … BLOCK`), which would hold up
    /// every other command on a shared multiplexed connection.
    pub async fn connect_dedicated(&self, block: Duration) -> Result<RedisConn, StoreError> {
        let timeout = RESPONSE_TIMEOUT + block;
        match self {
            RedisTarget::Standalone(url) => {
                let client = redis::Client::open(url.as_str()).map_err(unavailable)?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(timeout))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT));
                let conn: MultiplexedConnection =
                    client.get_multiplexed_async_connection_with_config(&config).await.map_err(unavailable)?;
                Ok(RedisConn::Dedicated(conn))
            }
            RedisTarget::Cluster(nodes) => Ok(RedisConn::Cluster(self.cluster(nodes, timeout).await?)),
        }
    }

    async fn cluster(&self, nodes: &[String], timeout: Duration) -> Result<ClusterConnection, StoreError> {
        ClusterClientBuilder::new(nodes.iter().map(String::as_str))
            .response_timeout(timeout)
            .connection_timeout(CONNECT_TIMEOUT)
            .retries(3)
            .build()
            .map_err(unavailable)?
            .get_async_connection()
            .await
            .map_err(unavailable)
    }

    /// The URLs of single servers to subscribe on: the server, or every seed node of a
    /// cluster (a cluster delivers a `PUBLISH` to subscribers on every node, so any one will do).
    pub fn subscribe_urls(&self) -> Vec<String> {
        match self {
            RedisTarget::Standalone(url) => vec![url.clone()],
            RedisTarget::Cluster(nodes) => nodes.clone(),
        }
    }
}

/// One handle for a standalone server or a cluster; cheap to clone (multiplexed).
#[derive(Clone)]
pub enum RedisConn {
    Standalone(ConnectionManager),
    Dedicated(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedisConn::Standalone(_) => "RedisConn::Standalone",
            RedisConn::Dedicated(_) => "RedisConn::Dedicated",
            RedisConn::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Standalone(c) => c.req_packed_command(cmd),
            RedisConn::Dedicated(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Dedicated(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Standalone(c) => c.get_db(),
            RedisConn::Dedicated(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}

/// A Redis failure as the store reports it: the hot state is unavailable for now.
pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_both_shapes_parse_and_errors_never_echo_them() {
        assert_eq!(
            RedisTarget::parse("redis://127.0.0.1:6379/"),
            Ok(RedisTarget::Standalone("redis://127.0.0.1:6379/".into()))
        );
        assert_eq!(
            RedisTarget::parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001/"),
            Ok(RedisTarget::Cluster(vec!["redis://:pw@10.0.0.1:7000/".into(), "redis://:pw@10.0.0.2:7001/".into()]))
        );
        for bad in ["memcached://secret@x", "redis+cluster://", "redis+cluster://,,"] {
            let e = RedisTarget::parse(bad).unwrap_err();
            assert!(!e.contains("secret") && !e.is_empty(), "{bad}: {e}");
        }
        assert_eq!(
            format!("{:?}", RedisTarget::parse("redis://:hunter2@h:1/").unwrap()),
            "RedisTarget::Standalone(..)"
        );
    }
}
