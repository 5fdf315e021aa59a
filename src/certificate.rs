//! OpenSSH certificates in words: what a certificate says (key ID,
//! principals, validity window) and what is visibly wrong with it, for a
//! login user or a host name, at a given time. Pure: the caller says when.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::Algorithm;
use russh::keys::ssh_key::Certificate;
use russh::keys::ssh_key::certificate::CertType;

/// Seconds since 1970, now (certificates count time so).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A certificate time as `ssh-keygen -L` would mean it, in UTC.
fn time(seconds: u64) -> String {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .map_or_else(
            || "forever".to_owned(),
            |at| humantime::format_rfc3339_seconds(at).to_string(),
        )
}

/// The validity window: `from 2026-01-01T00:00:00Z to 2026-01-02T00:00:00Z`,
/// `always` for a certificate valid from the beginning of time forever.
fn window(cert: &Certificate) -> String {
    match (cert.valid_after(), cert.valid_before()) {
        (0, u64::MAX) => "always".to_owned(),
        (0, before) => format!("until {}", time(before)),
        (after, u64::MAX) => format!("from {} forever", time(after)),
        (after, before) => format!("from {} to {}", time(after), time(before)),
    }
}

/// What a certificate says: `key ID 'deploy', principals root, alice, valid
/// from ... to ...`.
pub(crate) fn describe(cert: &Certificate) -> String {
    let principals = if cert.valid_principals().is_empty() {
        "no principals".to_owned()
    } else {
        format!("principals {}", cert.valid_principals().join(", "))
    };
    format!(
        "key ID '{}', {principals}, valid {}",
        cert.key_id(),
        window(cert)
    )
}

/// Whether a key of this type lives on a FIDO security key (`sk-`), which
/// roadie cannot sign with.
pub(crate) fn is_fido(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256
    )
}

/// What is visibly wrong with `cert` presented as a certificate of `kind`
/// for `name` (the login user, or the host name) at `now`: the wrong kind,
/// not yet valid, expired, `name` not among its principals. Empty when
/// nothing is. A host certificate without principals serves any host (as in
/// ssh); a user certificate without principals serves no one (sshd refuses
/// it).
pub(crate) fn problems(cert: &Certificate, kind: CertType, name: &str, now: u64) -> Vec<String> {
    let mut problems = Vec::new();
    if cert.cert_type() != kind {
        problems.push(match kind {
            CertType::User => "it is a host certificate, not a user certificate".to_owned(),
            CertType::Host => "it is a user certificate, not a host certificate".to_owned(),
        });
    }
    if now < cert.valid_after() {
        problems.push(format!(
            "not valid yet (until {})",
            time(cert.valid_after())
        ));
    } else if now >= cert.valid_before() {
        problems.push(format!("expired at {}", time(cert.valid_before())));
    }
    let principals = cert.valid_principals();
    if principals.is_empty() {
        if kind == CertType::User {
            problems.push("it names no principals, so sshd accepts it for no user".to_owned());
        }
    } else if !principals.iter().any(|p| p == name) {
        let what = match kind {
            CertType::User => "the login user",
            CertType::Host => "the host",
        };
        problems.push(format!(
            "{what} '{name}' is not among its principals ({})",
            principals.join(", ")
        ));
    }
    problems
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use russh::keys::ssh_key::PrivateKey;
    use russh::keys::ssh_key::certificate::Builder;

    /// A certificate of `kind` for a new key, signed by `ca`.
    pub(crate) fn signed(
        ca: &PrivateKey,
        kind: CertType,
        principals: &[&str],
        (after, before): (u64, u64),
    ) -> Certificate {
        let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
        let mut builder =
            Builder::new_with_random_nonce(&mut rand::rng(), key.public_key(), after, before)
                .unwrap();
        builder.cert_type(kind).unwrap().key_id("test-id").unwrap();
        if principals.is_empty() {
            builder.all_principals_valid().unwrap();
        }
        for p in principals {
            builder.valid_principal(*p).unwrap();
        }
        builder.sign(ca).unwrap()
    }

    pub(crate) fn ca() -> PrivateKey {
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap()
    }

    const DAY: u64 = 86_400;
    const T: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    #[test]
    fn a_certificate_is_described_by_key_id_principals_and_window() {
        let cert = signed(&ca(), CertType::User, &["root", "alice"], (T, T + DAY));
        assert_eq!(
            describe(&cert),
            "key ID 'test-id', principals root, alice, valid from 2027-01-15T08:00:00Z to 2027-01-16T08:00:00Z"
        );
        let forever = signed(&ca(), CertType::Host, &[], (0, u64::MAX));
        assert_eq!(
            describe(&forever),
            "key ID 'test-id', no principals, valid always"
        );
    }

    #[test]
    fn what_is_wrong_with_a_user_certificate_is_named() {
        let cert = signed(&ca(), CertType::User, &["root"], (T, T + DAY));
        assert!(problems(&cert, CertType::User, "root", T + 1).is_empty());
        assert_eq!(
            problems(&cert, CertType::User, "root", T - 1),
            ["not valid yet (until 2027-01-15T08:00:00Z)"]
        );
        assert_eq!(
            problems(&cert, CertType::User, "bob", T + DAY),
            [
                "expired at 2027-01-16T08:00:00Z",
                "the login user 'bob' is not among its principals (root)"
            ]
        );
        assert_eq!(
            problems(&cert, CertType::Host, "root", T + 1),
            ["it is a user certificate, not a host certificate"]
        );
    }

    #[test]
    fn a_host_certificate_without_principals_serves_any_host_but_a_user_one_no_user() {
        let host = signed(&ca(), CertType::Host, &[], (0, u64::MAX));
        assert!(problems(&host, CertType::Host, "web1", T).is_empty());
        let user = signed(&ca(), CertType::User, &[], (0, u64::MAX));
        assert_eq!(
            problems(&user, CertType::User, "root", T),
            ["it names no principals, so sshd accepts it for no user"]
        );
    }

    #[test]
    fn fido_keys_are_recognised() {
        assert!(is_fido(&Algorithm::SkEd25519));
        assert!(is_fido(&Algorithm::SkEcdsaSha2NistP256));
        assert!(!is_fido(&Algorithm::Ed25519));
    }
}
