//! The algorithm lists of ssh_config (`Ciphers`, `KexAlgorithms`,
//! `HostKeyAlgorithms`, `MACs`, `PubkeyAcceptedAlgorithms`), read as
//! OpenSSH 9.2 reads them, and what roadie offers of each.
//!
//! A value is a list, or `+list` (appended to OpenSSH's default), `-list`
//! (removed from it; wildcards and `!` allowed) or `^list` (put first).
//! Host-key and public-key lists may hold wildcards everywhere (`ssh-ed25519*`),
//! each expanding to the names it matches in OpenSSH's order; the others only
//! in `-` lists. A name OpenSSH does not know is an error, as it is for ssh.

use russh::keys::Algorithm;

use super::pattern::{match_list, wildcard_match};

/// Which list a keyword sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `Ciphers`.
    Cipher,
    /// `KexAlgorithms`.
    Kex,
    /// `HostKeyAlgorithms`.
    HostKey,
    /// `MACs`.
    Mac,
    /// `PubkeyAcceptedAlgorithms` (or `PubkeyAcceptedKeyTypes`).
    PubkeyAccepted,
}

/// OpenSSH's default ciphers (9.2).
const DEFAULT_CIPHERS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
];

/// Every cipher OpenSSH 9.2 knows (`ssh -Q cipher`).
const CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];

/// OpenSSH's default key exchange (9.2).
const DEFAULT_KEX: &[&str] = &[
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
];

/// Every key exchange OpenSSH 9.2 knows (`ssh -Q kex`), and
/// `mlkem768x25519-sha256`, which 9.9 added, so that a config written for a
/// newer ssh still reads.
const KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "mlkem768x25519-sha256",
];

/// OpenSSH's default MACs (9.2).
const DEFAULT_MACS: &[&str] = &[
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
];

/// Every MAC OpenSSH 9.2 knows (`ssh -Q mac`).
const MACS: &[&str] = &[
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
];

/// OpenSSH's default host-key and public-key algorithms (9.2).
const DEFAULT_KEYS: &[&str] = &[
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// Every key algorithm OpenSSH 9.2 knows, in its order (what a wildcard
/// expands to; `HostKeyAlgorithms *` in `ssh -G`).
const KEYS: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];

/// The suffix of an OpenSSH certificate algorithm's name.
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

impl Kind {
    /// The keyword, as ssh_config(5) spells it.
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Kind::Cipher => "Ciphers",
            Kind::Kex => "KexAlgorithms",
            Kind::HostKey => "HostKeyAlgorithms",
            Kind::Mac => "MACs",
            Kind::PubkeyAccepted => "PubkeyAcceptedAlgorithms",
        }
    }

    /// OpenSSH's default, and every name it knows.
    fn tables(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Kind::Cipher => (DEFAULT_CIPHERS, CIPHERS),
            Kind::Kex => (DEFAULT_KEX, KEX),
            Kind::HostKey | Kind::PubkeyAccepted => (DEFAULT_KEYS, KEYS),
            Kind::Mac => (DEFAULT_MACS, MACS),
        }
    }

    /// Whether a list may hold wildcards outside `-` lists.
    fn takes_patterns(self) -> bool {
        matches!(self, Kind::HostKey | Kind::PubkeyAccepted)
    }

    /// What one of these is called in messages.
    fn noun(self) -> &'static str {
        match self {
            Kind::Cipher => "cipher",
            Kind::Mac => "MAC",
            _ => "algorithm",
        }
    }

    /// What `ssh -Q` lists these under.
    fn query(self) -> &'static str {
        match self {
            Kind::Cipher => "cipher",
            Kind::Kex => "kex",
            Kind::HostKey | Kind::PubkeyAccepted => "key-sig",
            Kind::Mac => "mac",
        }
    }

    /// The names OpenSSH knows that roadie implements.
    pub(super) fn known_implemented(self) -> Vec<&'static str> {
        let (_, known) = self.tables();
        known
            .iter()
            .copied()
            .filter(|n| self.implemented(n))
            .collect()
    }

    /// Whether roadie (russh) implements `name`.
    pub(super) fn implemented(self, name: &str) -> bool {
        match self {
            Kind::Cipher => {
                name != "none"
                    && russh::cipher::ALL_CIPHERS
                        .iter()
                        .any(|c| c.as_ref() == name)
            }
            Kind::Kex => name != "none" && russh::kex::Name::try_from(name).is_ok(),
            Kind::Mac => name != "none" && russh::mac::Name::try_from(name).is_ok(),
            // A certificate's type is implemented where its key's is.
            Kind::HostKey | Kind::PubkeyAccepted => {
                key_algorithm(name.strip_suffix(CERT_SUFFIX).unwrap_or(name)).is_some()
            }
        }
    }
}

/// The key algorithm roadie implements under `name` (a plain name:
/// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`, `ssh-rsa`).
pub(crate) fn key_algorithm(name: &str) -> Option<Algorithm> {
    match Algorithm::new(name).ok()? {
        a @ (Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. }) => Some(a),
        _ => None,
    }
}

/// The public-key algorithms roadie allows when `PubkeyAcceptedAlgorithms`
/// is unset: those of OpenSSH's default it implements.
pub(crate) fn default_pubkey_algorithms() -> Vec<&'static str> {
    DEFAULT_KEYS
        .iter()
        .copied()
        .filter(|n| Kind::PubkeyAccepted.implemented(n))
        .collect()
}

/// One keyword's value, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    /// What OpenSSH makes of it (what `ssh -G` prints).
    pub(super) openssh: Vec<String>,
    /// Names of `openssh` the value itself asks for (not OpenSSH's
    /// defaults it keeps) that roadie does not implement.
    pub(super) unimplemented: Vec<String>,
}

/// Read `spec` as OpenSSH reads `kind`'s keyword.
pub(super) fn resolve(kind: Kind, spec: &str) -> Result<Resolved, String> {
    let keyword = kind.keyword();
    let (defaults, known) = kind.tables();
    let (prefix, body) = match spec.chars().next() {
        Some(c @ ('+' | '-' | '^')) => (Some(c), &spec[1..]),
        _ => (None, spec),
    };
    let names: Vec<&str> = body.split(',').filter(|n| !n.is_empty()).collect();
    let mut list: Vec<String> = Vec::new();
    let mut asked: Vec<&str> = Vec::new();
    if prefix == Some('-') {
        list.extend(
            defaults
                .iter()
                .filter(|d| !match_list(names.iter().copied(), d).matched())
                .map(|d| (*d).to_owned()),
        );
    } else {
        for name in &names {
            if let Some(unwanted) = name.strip_prefix('!') {
                return Err(format!(
                    "{keyword}: '{name}': a name can only be left out with a '-' list \
                     ({keyword} -{unwanted})"
                ));
            }
            let pattern = kind.takes_patterns() && name.contains(['*', '?']);
            let matched: Vec<&str> = if pattern {
                known
                    .iter()
                    .copied()
                    .filter(|k| wildcard_match(name, k))
                    .collect()
            } else {
                known.iter().copied().filter(|k| k == name).collect()
            };
            if matched.is_empty() {
                return Err(format!(
                    "{keyword}: unknown {} '{name}' (`ssh -Q {}` lists the names OpenSSH \
                     knows)",
                    kind.noun(),
                    kind.query()
                ));
            }
            asked.extend(matched);
        }
        let mut add = |name: &str| {
            if !list.iter().any(|l| l == name) {
                list.push(name.to_owned());
            }
        };
        let (before, after): (&[&str], &[&str]) = match prefix {
            Some('+') => (defaults, &[]),
            Some('^') => (&[], defaults),
            _ => (&[], &[]),
        };
        for name in before.iter().chain(&asked).chain(after) {
            add(name);
        }
    }
    if list.is_empty() {
        return Err(format!("{keyword} {spec} leaves no algorithm"));
    }
    let unimplemented = list
        .iter()
        .filter(|n| asked.contains(&n.as_str()) && !kind.implemented(n))
        .cloned()
        .collect();
    Ok(Resolved {
        openssh: list,
        unimplemented,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssh(kind: Kind, spec: &str) -> Vec<String> {
        resolve(kind, spec).unwrap().openssh
    }

    #[test]
    fn plus_minus_caret_and_wildcards_as_openssh_reads_them() {
        let plus = openssh(Kind::HostKey, "+ssh-rsa");
        assert_eq!(plus.len(), DEFAULT_KEYS.len() + 1);
        assert_eq!(plus.last().unwrap(), "ssh-rsa");
        assert_eq!(
            openssh(Kind::Kex, "^diffie-hellman-group14-sha1")[0],
            "diffie-hellman-group14-sha1"
        );
        assert_eq!(
            openssh(Kind::HostKey, "ssh-ed25519*"),
            ["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"]
        );
        assert_eq!(
            openssh(Kind::Mac, "-umac*,*sha1*"),
            [
                "hmac-sha2-256-etm@openssh.com",
                "hmac-sha2-512-etm@openssh.com",
                "hmac-sha2-256",
                "hmac-sha2-512"
            ]
        );
        assert_eq!(
            openssh(Kind::Kex, ",curve25519-sha256,curve25519-sha256"),
            ["curve25519-sha256"]
        );
    }

    #[test]
    fn mistakes_ssh_refuses_are_refused() {
        for (kind, spec, wanted) in [
            (
                Kind::Kex,
                "curve25519-sha256,bogus",
                "unknown algorithm 'bogus'",
            ),
            (Kind::Kex, "curve25519*", "unknown algorithm 'curve25519*'"),
            (Kind::HostKey, "nosuch*", "unknown algorithm 'nosuch*'"),
            (Kind::HostKey, "Ssh-ed25519", "unknown algorithm"),
            (Kind::PubkeyAccepted, "ssh-rsa*,!ssh-rsa-cert*", "'-' list"),
            (Kind::Mac, "-*", "leaves no algorithm"),
        ] {
            let e = resolve(kind, spec).unwrap_err();
            assert!(e.contains(wanted), "{spec}: {e}");
        }
    }

    #[test]
    fn only_names_the_value_asks_for_are_reported_unimplemented() {
        // sntrup761 is OpenSSH's default: kept by `+`, never reported.
        let r = resolve(Kind::Kex, "+diffie-hellman-group14-sha1").unwrap();
        assert!(r.unimplemented.is_empty(), "{r:?}");
        let r = resolve(Kind::Kex, "sntrup761x25519-sha512,curve25519-sha256").unwrap();
        assert_eq!(r.unimplemented, ["sntrup761x25519-sha512"]);
        let r = resolve(Kind::Mac, "umac-64@openssh.com,hmac-sha1").unwrap();
        assert_eq!(r.unimplemented, ["umac-64@openssh.com"]);
        let r = resolve(Kind::HostKey, "ssh-dss,sk-ssh-ed25519@openssh.com,ssh-rsa").unwrap();
        assert_eq!(r.unimplemented, ["ssh-dss", "sk-ssh-ed25519@openssh.com"]);
        assert!(Kind::HostKey.implemented("rsa-sha2-512"));
        assert!(Kind::HostKey.implemented("rsa-sha2-512-cert-v01@openssh.com"));
        assert!(!Kind::HostKey.implemented("sk-ssh-ed25519-cert-v01@openssh.com"));
        assert!(!Kind::Cipher.implemented("none"));
    }
}
