//! Host name canonicalization (`CanonicalizeHostname`, `CanonicalDomains`,
//! `CanonicalizeMaxDots`, `CanonicalizeFallbackLocal`,
//! `CanonicalizePermittedCNAMEs`), following OpenSSH's ssh.c: a short name
//! is tried with each domain appended, the first that resolves is the name
//! (its CNAME target instead, where a permitted rule says so), and the
//! configuration is then read again for it.

use std::net::IpAddr;

use super::pattern::{match_list, split_list};

/// `CanonicalizeHostname`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Mode {
    /// `no` (or `none`): names are left as they are.
    #[default]
    No,
    /// `yes`: for connections without `ProxyCommand` or `ProxyJump`.
    Yes,
    /// `always`: for proxied connections too.
    Always,
}

impl Mode {
    pub(super) fn parse(value: &str) -> Result<Mode, String> {
        match value.to_ascii_lowercase().as_str() {
            "no" | "false" | "none" => Ok(Mode::No),
            "yes" | "true" => Ok(Mode::Yes),
            "always" => Ok(Mode::Always),
            _ => Err(format!(
                "CanonicalizeHostname: expected yes, no or always, got '{value}'"
            )),
        }
    }
}

/// One `CanonicalizePermittedCNAMEs` rule: a name matching `source` may
/// become its CNAME target if that matches `target` (pattern lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PermittedCname {
    source: String,
    target: String,
}

/// Parse the arguments of `CanonicalizePermittedCNAMEs` (`*`, or
/// `source-list:target-list` each), lowercased as ssh does.
pub(super) fn permitted_cnames(args: &[String]) -> Result<Vec<PermittedCname>, String> {
    args.iter()
        .map(|arg| {
            if arg == "*" {
                return Ok(PermittedCname {
                    source: "*".into(),
                    target: "*".into(),
                });
            }
            let lowered = arg.to_ascii_lowercase();
            match lowered.split_once(':') {
                Some((source, target)) if !target.is_empty() => Ok(PermittedCname {
                    source: source.to_owned(),
                    target: target.to_owned(),
                }),
                _ => Err(format!(
                    "CanonicalizePermittedCNAMEs: '{arg}' is not source-domains:target-domains \
                     (or *)"
                )),
            }
        })
        .collect()
}

/// The rules read in the first pass.
#[derive(Debug, Clone, Default)]
pub(super) struct Rules {
    pub(super) mode: Mode,
    pub(super) domains: Vec<String>,
    /// `CanonicalizeMaxDots`, 1 by default.
    pub(super) max_dots: Option<usize>,
    /// `CanonicalizeFallbackLocal`, yes by default.
    pub(super) fallback_local: Option<bool>,
    pub(super) permitted: Vec<PermittedCname>,
}

/// Looks a name up: `None` if it does not resolve, else its canonical name
/// as the resolver gives it (a CNAME's target; empty if none is given).
pub(super) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The system resolver's answer (`getaddrinfo` with `AI_CANONNAME`, as ssh
/// asks it).
pub(super) fn system_lookup(name: &str) -> Option<String> {
    let hints = dns_lookup::AddrInfoHints {
        flags: nix::libc::AI_CANONNAME,
        address: 0,
        socktype: nix::libc::SOCK_STREAM,
        protocol: 0,
    };
    let mut answers = dns_lookup::getaddrinfo(Some(name), None, Some(hints)).ok()?;
    let first = answers.next()?.ok()?;
    Some(first.canonname.unwrap_or_default())
}

/// Why a name could not be canonicalized, by the rule that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// No domain made a name that resolves (`CanonicalizeFallbackLocal no`).
    Domains(String),
    /// The name does not resolve, and `CanonicalizePermittedCNAMEs` asks
    /// for its canonical name.
    Cname(String),
}

/// What the host name `host` (the first pass's, lowercased) becomes under
/// `rules`. `direct`: the connection uses neither `ProxyCommand` nor
/// `ProxyJump`. An error where ssh gives up: no domain made a name that
/// resolves and `CanonicalizeFallbackLocal` is off, or the name itself
/// does not resolve while `CanonicalizePermittedCNAMEs` asks for its CNAME.
pub(super) fn canonicalize(
    host: &str,
    rules: &Rules,
    direct: bool,
    lookup: Lookup<'_>,
) -> Result<String, Failure> {
    let applies = rules.mode == Mode::Always || (rules.mode == Mode::Yes && direct);
    let follow = |name: String, canonical: &str| -> String {
        if !applies || canonical.is_empty() || canonical == name {
            return name;
        }
        let permits = rules.permitted.iter().any(|rule| {
            match_list(split_list(&rule.source), &name).matched()
                && match_list(split_list(&rule.target), canonical).matched()
        });
        if permits { canonical.to_owned() } else { name }
    };
    let mut resolved = host.parse::<IpAddr>().is_ok();
    let mut name = host.to_owned();
    if applies && !resolved && !looks_like_address(host) {
        let candidates: Vec<String> = if let Some(anchored) = host.strip_suffix('.') {
            vec![anchored.to_owned()]
        } else if host.matches('.').count() > rules.max_dots.unwrap_or(1) {
            Vec::new()
        } else {
            rules
                .domains
                .iter()
                .take_while(|d| !d.eq_ignore_ascii_case("none"))
                .map(|d| format!("{host}.{d}"))
                .collect()
        };
        let found = candidates
            .into_iter()
            .find_map(|full| lookup(&format!("{full}.")).map(|canonical| (full, canonical)));
        let tried = host.ends_with('.') || host.matches('.').count() <= rules.max_dots.unwrap_or(1);
        match found {
            Some((full, canonical)) => {
                name = follow(full, &canonical);
                resolved = true;
            }
            None if tried && rules.fallback_local == Some(false) => {
                return Err(Failure::Domains(format!(
                    "cannot resolve host '{host}' with any of CanonicalDomains ({}), and \
                     CanonicalizeFallbackLocal is no",
                    rules.domains.join(" ")
                )));
            }
            None => {}
        }
    }
    if !resolved && !rules.permitted.is_empty() && (direct || rules.mode == Mode::Always) {
        match lookup(&name) {
            Some(canonical) => name = follow(name, &canonical),
            None if direct => {
                return Err(Failure::Cname(format!(
                    "cannot resolve host '{name}' (CanonicalizePermittedCNAMEs asks for its \
                     canonical name)"
                )));
            }
            None => {}
        }
    }
    Ok(name)
}

/// ssh's is_addr_fast: what may be an address is not canonicalized.
fn looks_like_address(name: &str) -> bool {
    name.contains(['%', ':']) || name.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(mode: Mode, domains: &[&str]) -> Rules {
        Rules {
            mode,
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            ..Rules::default()
        }
    }

    /// A resolver knowing `web.b.example` (canonical `real.c.example`) and
    /// `db.a.example`.
    fn lookup(name: &str) -> Option<String> {
        match name {
            "web.b.example." | "web.b.example" => Some("real.c.example".into()),
            "db.a.example." => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn each_domain_is_tried_in_turn() {
        let r = rules(Mode::Yes, &["a.example", "b.example"]);
        assert_eq!(
            canonicalize("web", &r, true, &lookup).unwrap(),
            "web.b.example"
        );
        assert_eq!(
            canonicalize("db", &r, true, &lookup).unwrap(),
            "db.a.example"
        );
        // Not found: the name as it is (CanonicalizeFallbackLocal yes)...
        assert_eq!(canonicalize("other", &r, true, &lookup).unwrap(), "other");
        // ...or an error.
        let strict = Rules {
            fallback_local: Some(false),
            ..r.clone()
        };
        let e = canonicalize("other", &strict, true, &lookup).unwrap_err();
        assert!(
            matches!(&e, Failure::Domains(m) if m.contains("FallbackLocal")),
            "{e:?}"
        );
        // Too many dots, an address, a proxied connection: left alone.
        assert_eq!(
            canonicalize("x.y.z", &strict, true, &lookup).unwrap(),
            "x.y.z"
        );
        assert_eq!(
            canonicalize("10.0.0.1", &strict, true, &lookup).unwrap(),
            "10.0.0.1"
        );
        assert_eq!(canonicalize("web", &r, false, &lookup).unwrap(), "web");
        let always = rules(Mode::Always, &["b.example"]);
        assert_eq!(
            canonicalize("web", &always, false, &lookup).unwrap(),
            "web.b.example"
        );
        // `none` ends the list.
        let none = rules(Mode::Yes, &["none", "b.example"]);
        assert_eq!(canonicalize("web", &none, true, &lookup).unwrap(), "web");
    }

    #[test]
    fn cnames_are_followed_only_where_permitted() {
        let mut r = rules(Mode::Yes, &["b.example"]);
        r.permitted = permitted_cnames(&["*.b.example:*.c.example".into()]).unwrap();
        assert_eq!(
            canonicalize("web", &r, true, &lookup).unwrap(),
            "real.c.example"
        );
        r.permitted = permitted_cnames(&["*.b.example:*.d.example".into()]).unwrap();
        assert_eq!(
            canonicalize("web", &r, true, &lookup).unwrap(),
            "web.b.example"
        );
        // Without canonicalization, nothing changes (but the name must resolve).
        r.mode = Mode::No;
        r.permitted = permitted_cnames(&["*".into()]).unwrap();
        assert_eq!(
            canonicalize("web.b.example", &r, true, &lookup).unwrap(),
            "web.b.example"
        );
        assert!(matches!(
            canonicalize("nowhere", &r, true, &lookup),
            Err(Failure::Cname(_))
        ));
        assert!(permitted_cnames(&["*.a.example".into()]).is_err());
    }

    #[test]
    fn modes_as_ssh_reads_them() {
        assert_eq!(Mode::parse("Always"), Ok(Mode::Always));
        assert_eq!(Mode::parse("true"), Ok(Mode::Yes));
        assert_eq!(Mode::parse("none"), Ok(Mode::No));
        assert!(Mode::parse("sometimes").is_err());
    }
}
