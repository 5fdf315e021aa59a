//! Choosing hosts from a TARGET: `ENV`, `HOST`, `ENV/HOST`, or a comma list.

use super::{Environment, HostEntry, Inventory};

/// One selected host, with the environment it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    pub environment: &'a Environment,
    pub host: &'a HostEntry,
}

impl Inventory {
    /// The hosts named by `target`, in order, without duplicates.
    pub fn select(&self, target: &str) -> Result<Vec<Member<'_>>, String> {
        let mut selected: Vec<Member<'_>> = Vec::new();
        let parts: Vec<&str> = target.split(',').map(str::trim).collect();
        if parts.iter().all(|p| p.is_empty()) {
            return Err(self.unknown("", "an empty target"));
        }
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            for member in self.select_one(part)? {
                if !selected.iter().any(|m| same(m, &member)) {
                    selected.push(member);
                }
            }
        }
        Ok(selected)
    }

    /// Whether `part` (one item of a TARGET) names anything here: an
    /// environment, a host as listed, or `ENV/HOST` of a known environment.
    pub fn names(&self, part: &str) -> bool {
        if let Some((env_name, _)) = part.split_once('/') {
            return self.environment(env_name).is_some();
        }
        self.environment(part).is_some()
            || self
                .environments
                .iter()
                .flat_map(|e| &e.hosts)
                .any(|h| h.entry == part || h.host == part)
    }

    fn select_one(&self, part: &str) -> Result<Vec<Member<'_>>, String> {
        if let Some((env_name, host)) = part.split_once('/') {
            let env = self
                .environment(env_name)
                .ok_or_else(|| self.unknown(part, &format!("no environment '{env_name}'")))?;
            let found: Vec<Member<'_>> = env
                .hosts
                .iter()
                .filter(|h| h.entry == host || h.host == host)
                .map(|h| Member {
                    environment: env,
                    host: h,
                })
                .collect();
            if found.is_empty() {
                return Err(self.unknown(
                    part,
                    &format!("environment '{env_name}' has no host '{host}'"),
                ));
            }
            return Ok(found);
        }
        let env = self.environment(part);
        let hosts: Vec<Member<'_>> = self
            .environments
            .iter()
            .flat_map(|e| {
                e.hosts.iter().map(move |h| Member {
                    environment: e,
                    host: h,
                })
            })
            .filter(|m| m.host.entry == part || m.host.host == part)
            .collect();
        match (env, hosts.as_slice()) {
            (Some(env), []) => Ok(env
                .hosts
                .iter()
                .map(|h| Member {
                    environment: env,
                    host: h,
                })
                .collect()),
            (None, []) => Err(self.unknown(part, "no environment or host of that name")),
            (None, [_]) => Ok(hosts),
            // An environment named after its only host: both readings agree.
            (Some(env), _)
                if hosts.iter().all(|m| m.environment.name == env.name)
                    && hosts.len() == env.hosts.len() =>
            {
                Ok(hosts)
            }
            (Some(_) | None, _) => {
                let mut choices: Vec<String> = hosts
                    .iter()
                    .map(|m| format!("{}/{}", m.environment.name, m.host.entry))
                    .collect();
                if env.is_some() {
                    choices.insert(0, format!("the environment {part}"));
                }
                Err(format!(
                    "target '{part}' is ambiguous: it could be {}; name one as ENV/HOST",
                    choices.join(", ")
                ))
            }
        }
    }

    fn unknown(&self, part: &str, why: &str) -> String {
        let envs: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
        let hosts: Vec<String> = self
            .environments
            .iter()
            .flat_map(|e| {
                e.hosts
                    .iter()
                    .map(move |h| format!("{}/{}", e.name, h.entry))
            })
            .collect();
        let known = if envs.is_empty() {
            format!("{} defines no environments", self.path.display())
        } else {
            format!(
                "known environments: {}; known hosts: {}",
                envs.join(", "),
                hosts.join(", ")
            )
        };
        if part.is_empty() {
            format!("{why} ({known})")
        } else {
            format!("unknown target '{part}': {why} ({known})")
        }
    }
}

fn same(a: &Member<'_>, b: &Member<'_>) -> bool {
    a.environment.name == b.environment.name && a.host.entry == b.host.entry
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn inv() -> Inventory {
        Inventory::parse(
            "environments:\n  staging:\n    hosts: [web1, web2, shared]\n  qa:\n    hosts: ['qa1:2200', shared]\n  solo:\n    hosts: [solo]\n",
            Path::new("roadie.yaml"),
            Path::new("."),
        )
        .unwrap()
    }

    fn names(members: &[Member<'_>]) -> Vec<String> {
        members
            .iter()
            .map(|m| format!("{}/{}", m.environment.name, m.host.entry))
            .collect()
    }

    #[test]
    fn environments_hosts_and_lists() {
        let inv = inv();
        assert_eq!(
            names(&inv.select("staging").unwrap()),
            ["staging/web1", "staging/web2", "staging/shared"]
        );
        assert_eq!(names(&inv.select("web2").unwrap()), ["staging/web2"]);
        assert_eq!(names(&inv.select("qa1").unwrap()), ["qa/qa1:2200"]);
        assert_eq!(names(&inv.select("qa/shared").unwrap()), ["qa/shared"]);
        assert_eq!(
            names(&inv.select("web1,staging, qa1").unwrap()),
            [
                "staging/web1",
                "staging/web2",
                "staging/shared",
                "qa/qa1:2200"
            ]
        );
    }

    #[test]
    fn unknown_and_ambiguous_targets_explain() {
        let inv = inv();
        let e = inv.select("nope").unwrap_err();
        assert!(
            e.contains("unknown target 'nope'")
                && e.contains("staging")
                && e.contains("qa/qa1:2200"),
            "{e}"
        );
        let e = inv.select("shared").unwrap_err();
        assert!(e.contains("ambiguous") && e.contains("qa/shared"), "{e}");
        assert_eq!(names(&inv.select("solo").unwrap()), ["solo/solo"]);
        assert!(
            inv.select("staging/nope")
                .unwrap_err()
                .contains("has no host 'nope'")
        );
        assert!(inv.select(",").is_err());
    }
}
