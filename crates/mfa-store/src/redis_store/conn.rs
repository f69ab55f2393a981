//! One connection type over a single server and a cluster, and a `SCAN` that walks
//! every master of a cluster.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, RedisFuture, RedisResult, Value};

use super::RedisOptions;

/// A reconnecting connection to one server, or the cluster client (which follows
/// `MOVED`/`ASK` redirections and refreshes its slot map after a failover).
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where a URL points: one server, or the seed nodes of a cluster.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    Single(String),
    Cluster(Vec<String>),
}

/// Takes this store's own setting `replica_acks=N` out of a URL's query, leaving the
/// rest for the `redis` crate.
pub(super) fn replica_acks(url: &str) -> Result<(String, Option<u32>), &'static str> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut acks = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("replica_acks=") {
            Some(n) => acks = Some(n.parse().map_err(|_| "replica_acks= takes a number")?),
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, acks))
}

/// `redis://…` (one server) or `redis+cluster://host:port,host:port` (a cluster, any
/// reachable seed node is enough; the client discovers the rest).
pub(super) fn target(url: &str) -> Result<Target, &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("a Redis URL starts with redis:// or redis+cluster://");
    };
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "rediss" => Ok(Target::Single(url.to_owned())),
        "redis+cluster" => {
            let (auth_and_hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
            if !(path.is_empty() || path == "0") {
                return Err("a cluster has only database 0: redis+cluster://h:p,h:p takes no path");
            }
            let (auth, hosts) = match auth_and_hosts.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), auth_and_hosts),
            };
            let nodes: Vec<String> = hosts
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| format!("redis://{auth}{h}"))
                .collect();
            if nodes.is_empty() {
                return Err("redis+cluster:// needs at least one host:port");
            }
            Ok(Target::Cluster(nodes))
        }
        _ => Err("a Redis URL starts with redis:// or redis+cluster://"),
    }
}

impl Conn {
    pub(super) async fn open(target: Target, options: &RedisOptions) -> RedisResult<Self> {
        match target {
            Target::Single(url) => {
                let client = redis::Client::open(url)?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(options.response_timeout))
                    .set_connection_timeout(Some(options.response_timeout))
                    .set_number_of_retries(2);
                Ok(Self::Single(
                    ConnectionManager::new_with_config(client, config).await?,
                ))
            }
            Target::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes)
                    .response_timeout(options.response_timeout)
                    .connection_timeout(options.response_timeout)
                    .retries(options.cluster_retries)
                    .build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
        }
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// `WAIT replicas timeout` on the master that holds `key` (on a single server, on the
    /// connection the write went through): how many replicas acknowledged every write
    /// this client made there so far.
    pub(super) async fn wait(
        &mut self,
        key: &str,
        replicas: u32,
        timeout_ms: u64,
    ) -> RedisResult<u64> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(timeout_ms);
        let reply = match self {
            Self::Single(c) => cmd.query_async(c).await?,
            Self::Cluster(c) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let at = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                c.route_command(cmd, at).await?
            }
        };
        Ok(redis::from_redis_value(reply)?)
    }

    /// Every key matching `pattern`, from every master (with `SCAN`, so no server is
    /// blocked). During a slot migration a key may be seen twice or not at all; callers
    /// use this only for sweeping, which Redis' own TTLs back up.
    pub(super) async fn scan(&mut self, pattern: &str) -> RedisResult<Vec<String>> {
        let nodes = match self {
            Self::Single(_) => vec![None],
            Self::Cluster(c) => masters(c).await?.into_iter().map(Some).collect(),
        };
        let mut keys = Vec::new();
        for node in nodes {
            let mut cursor = String::from("0");
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(&cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000);
                let reply = match (&mut *self, &node) {
                    (Self::Cluster(c), Some((host, port))) => {
                        let at = SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        };
                        c.route_command(cmd, RoutingInfo::SingleNode(at)).await?
                    }
                    (conn, _) => cmd.query_async(conn).await?,
                };
                let (next, batch): (String, Vec<String>) = redis::from_redis_value(reply)?;
                keys.extend(batch);
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(keys)
    }
}

/// The masters that serve slots, from `CLUSTER NODES`.
async fn masters(c: &mut ClusterConnection) -> RedisResult<Vec<(String, u16)>> {
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("NODES");
    let reply = c
        .route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random))
        .await?;
    let text: String = redis::from_redis_value(reply)?;
    Ok(text.lines().filter_map(master_address).collect())
}

/// `host:port` of a `CLUSTER NODES` line naming a live master with slots.
fn master_address(line: &str) -> Option<(String, u16)> {
    let mut fields = line.split(' ');
    let _id = fields.next()?;
    let address = fields.next()?;
    let flags = fields.next()?;
    let flags: Vec<&str> = flags.split(',').collect();
    if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
        return None;
    }
    // id addr flags master ping pong epoch link slot...
    if fields.nth(4).is_none_or(|link| link != "connected") || fields.next().is_none() {
        return None;
    }
    let address = address.split('@').next()?;
    let (host, port) = address.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_one_server_or_a_cluster() {
        assert_eq!(
            target("redis://127.0.0.1:6379/2"),
            Ok(Target::Single("redis://127.0.0.1:6379/2".into()))
        );
        assert_eq!(
            target("redis+cluster://127.0.0.1:7000,127.0.0.1:7001"),
            Ok(Target::Cluster(vec![
                "redis://127.0.0.1:7000".into(),
                "redis://127.0.0.1:7001".into()
            ]))
        );
        assert_eq!(
            target("redis+cluster://:secret@a:7000,b:7000/"),
            Ok(Target::Cluster(vec![
                "redis://:secret@a:7000".into(),
                "redis://:secret@b:7000".into()
            ]))
        );
        assert!(target("redis+cluster://a:7000/3").is_err());
        assert!(target("redis+cluster://").is_err());
        assert!(target("memcache://a").is_err());
        assert!(target("no scheme").is_err());
    }

    #[test]
    fn replica_acks_come_from_the_query() {
        assert_eq!(
            replica_acks("redis+cluster://a:1,b:2/?replica_acks=1"),
            Ok(("redis+cluster://a:1,b:2/".into(), Some(1)))
        );
        assert_eq!(
            replica_acks("redis://a:1/0?protocol=resp3&replica_acks=2"),
            Ok(("redis://a:1/0?protocol=resp3".into(), Some(2)))
        );
        assert_eq!(
            replica_acks("redis://a:1"),
            Ok(("redis://a:1".into(), None))
        );
        assert!(replica_acks("redis://a:1?replica_acks=one").is_err());
    }

    #[test]
    fn cluster_nodes_lines_give_live_masters() {
        let live = "3cc2 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460";
        let replica = "3962 127.0.0.1:7003@17003 slave 3cc2 0 0 1 connected";
        let failed = "5d11 127.0.0.1:7002@17002 master,fail - 0 0 3 connected 10923-16383";
        let empty = "5d12 127.0.0.1:7006@17006 master - 0 0 3 connected";
        assert_eq!(master_address(live), Some(("127.0.0.1".into(), 7000)));
        assert_eq!(master_address(replica), None);
        assert_eq!(master_address(failed), None);
        assert_eq!(master_address(empty), None);
        assert_eq!(master_address(""), None);
    }
}
