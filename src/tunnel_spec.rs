//! What a tunnel is, as written: a forward spec (`[LOCAL:]PORT`,
//! `[LOCAL:]HOST:PORT`, a name from roadie.yaml) and the database settings
//! of a `.env` pointed at a forward's local end. Plain parsing; the tunnels
//! themselves are in [`crate::tunnel`].

use std::net::SocketAddr;

/// Where a forward goes, as seen from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A forward asked for on the command line: `[LOCAL:]PORT`,
/// `[LOCAL:]HOST:PORT` (as the server sees it), or a name from roadie.yaml's
/// `tunnels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    /// 0: any free port.
    pub local_port: u16,
    pub remote: Remote,
    pub name: Option<String>,
}

fn port(text: &str, spec: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("tunnel '{spec}': '{text}' is not a port"))
}

impl Spec {
    /// Parse `text`; `named` are roadie.yaml's `tunnels` (name -> spec).
    pub(crate) fn parse(
        text: &str,
        named: &std::collections::BTreeMap<String, String>,
    ) -> Result<Spec, String> {
        if let Some(target) = named.get(text) {
            let mut spec = Spec::parse(target, &std::collections::BTreeMap::new())?;
            spec.name = Some(text.to_owned());
            return Ok(spec);
        }
        let local_default = "127.0.0.1".to_owned();
        let parts: Vec<&str> = text.split(':').collect();
        let (local_port, host, remote_port) = match parts.as_slice() {
            [remote] => (0, local_default, port(remote, text)?),
            [a, b] if a.chars().all(|c| c.is_ascii_digit()) => {
                (port(a, text)?, local_default, port(b, text)?)
            }
            [host, remote] => (0, (*host).to_owned(), port(remote, text)?),
            [local, host, remote] => (port(local, text)?, (*host).to_owned(), port(remote, text)?),
            _ => {
                return Err(format!(
                    "tunnel '{text}': expected [LOCAL:]PORT, [LOCAL:]HOST:PORT or a name from roadie.yaml"
                ));
            }
        };
        if host.is_empty() {
            return Err(format!("tunnel '{text}': empty host"));
        }
        Ok(Spec {
            local_port,
            remote: Remote {
                host,
                port: remote_port,
            },
            name: None,
        })
    }
}

fn is_database_key(key: &str) -> bool {
    ["DATABASE_", "DB_", "POSTGRES_", "PG", "MYSQL_"]
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// `scheme://[user@]host[:port][/rest]` with host and port replaced.
fn rewrite_url(url: &str, local: SocketAddr) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .is_empty()
    {
        return None; // no host to point elsewhere (sqlite:///file)
    }
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    Some(format!(
        "{scheme}://{user}{}:{}{path}",
        local.ip(),
        local.port()
    ))
}

/// The database settings of a server's `.env`, pointed at the local end of a
/// tunnel: URLs (`DATABASE_URL`) and host/port variables rewritten, the rest
/// (name, user, password) passed as they are.
pub(crate) fn database_env(
    dotenv: &crate::dotenv::DotEnv,
    local: SocketAddr,
) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for (key, value) in dotenv.entries() {
        let upper = key.to_ascii_uppercase();
        let rewritten = if upper.ends_with("DATABASE_URL") || upper == "DB_URL" {
            rewrite_url(value, local).unwrap_or_else(|| value.to_owned())
        } else if !is_database_key(&upper) {
            continue;
        } else if upper.ends_with("HOST") {
            local.ip().to_string()
        } else if upper.ends_with("PORT") {
            local.port().to_string()
        } else {
            value.to_owned()
        };
        vars.push((key.to_owned(), rewritten));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn specs() {
        let none = BTreeMap::new();
        let s = Spec::parse("5432", &none).unwrap();
        assert_eq!(
            (s.local_port, s.remote.to_string()),
            (0, "127.0.0.1:5432".into())
        );
        let s = Spec::parse("15432:5432", &none).unwrap();
        assert_eq!((s.local_port, s.remote.port), (15432, 5432));
        let s = Spec::parse("db.internal:5432", &none).unwrap();
        assert_eq!(
            (s.local_port, s.remote.to_string()),
            (0, "db.internal:5432".into())
        );
        let s = Spec::parse("9000:db.internal:5432", &none).unwrap();
        assert_eq!(
            (s.local_port, s.remote.host.as_str()),
            (9000, "db.internal")
        );
        let named = BTreeMap::from([("db".to_owned(), "5432".to_owned())]);
        let s = Spec::parse("db", &named).unwrap();
        assert_eq!((s.remote.port, s.name.as_deref()), (5432, Some("db")));
        assert!(Spec::parse("nope", &named).is_err());
        assert!(Spec::parse("1:2:3:4", &none).is_err());
    }

    #[test]
    fn database_settings_point_at_the_tunnel() {
        let env = crate::dotenv::DotEnv::parse(
            "DATABASE_URL=postgres://app:pw@db.internal:5432/app?sslmode=disable\nDB_HOST=db.internal\nDB_PORT=5432\nDB_NAME=app\nPGPASSWORD=pw\nSECRET_KEY=x\n",
        );
        let local: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        let vars: BTreeMap<String, String> = database_env(&env, local).into_iter().collect();
        assert_eq!(
            vars["DATABASE_URL"],
            "postgres://app:pw@127.0.0.1:54321/app?sslmode=disable"
        );
        assert_eq!(vars["DB_HOST"], "127.0.0.1");
        assert_eq!(vars["DB_PORT"], "54321");
        assert_eq!(vars["DB_NAME"], "app");
        assert_eq!(vars["PGPASSWORD"], "pw");
        assert!(!vars.contains_key("SECRET_KEY"));
        assert_eq!(rewrite_url("sqlite:///x.db", local), None);
    }
}
