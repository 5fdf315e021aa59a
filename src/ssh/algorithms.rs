//! The algorithms roadie offers a host: russh's defaults, or the lists its
//! ssh_config sets (`KexAlgorithms`, `HostKeyAlgorithms`, `MACs`,
//! `PubkeyAcceptedAlgorithms`, see [`crate::host::Algorithms`]), so that what
//! a user configured is what roadie offers.

use std::borrow::Cow;

use russh::keys::{Algorithm, HashAlg, PublicKey};
use russh::{kex, mac};

pub(crate) use crate::event::Offered;
use crate::host::Host;
use crate::known_hosts;
use crate::ssh_config::{default_pubkey_algorithms, key_algorithm};

/// Key-exchange names that are not algorithms but announce extensions
/// (`server-sig-algs`, strict key exchange): always offered with a
/// configured `KexAlgorithms`, as ssh does.
const KEX_EXTENSIONS: &[kex::Name] = &[
    kex::EXTENSION_SUPPORT_AS_CLIENT,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

/// Put `host`'s configured lists into `preferred` (what is unset keeps its
/// value). Host keys: the configured plain algorithms, those whose key type
/// known_hosts records for the host (`recorded`) first, so that the server
/// presents a key roadie can check; certificate algorithms in `preferred`
/// stay only where the list names them.
pub(super) fn configure(preferred: &mut russh::Preferred, host: &Host, recorded: &[Algorithm]) {
    let lists = &host.algorithms;
    if let Some(names) = &lists.kex {
        let mut chosen: Vec<kex::Name> = names
            .iter()
            .filter_map(|n| kex::Name::try_from(n.as_str()).ok())
            .collect();
        chosen.extend_from_slice(KEX_EXTENSIONS);
        preferred.kex = Cow::Owned(chosen);
    }
    if let Some(names) = &lists.macs {
        preferred.mac = Cow::Owned(
            names
                .iter()
                .filter_map(|n| mac::Name::try_from(n.as_str()).ok())
                .collect(),
        );
    }
    if let Some(names) = &lists.host_keys {
        let plain = names.iter().filter_map(|n| key_algorithm(n)).collect();
        preferred.key = Cow::Owned(recorded_first(plain, recorded));
        preferred
            .host_key_certificates
            .to_mut()
            .retain(|a| names.contains(&a.to_certificate_type()));
    }
}

/// What roadie offers `host` (see [`Offered`]).
pub(crate) fn offered(host: &Host) -> Offered {
    let defaults = russh::Preferred::DEFAULT;
    let names = |configured: &Option<Vec<String>>, default: Vec<String>| {
        configured.clone().unwrap_or(default)
    };
    let lists = &host.algorithms;
    Offered {
        ciphers: names(
            &host.ciphers,
            defaults
                .cipher
                .iter()
                .map(|c| c.as_ref().to_owned())
                .collect(),
        ),
        kex_algorithms: names(
            &lists.kex,
            defaults
                .kex
                .iter()
                .filter(|k| !KEX_EXTENSIONS.contains(k))
                .map(|k| k.as_ref().to_owned())
                .collect(),
        ),
        host_key_algorithms: names(
            &lists.host_keys,
            defaults
                .key
                .iter()
                .filter(|a| known_hosts::is_acceptable(a))
                .map(|a| a.as_str().to_owned())
                .collect(),
        ),
        macs: names(
            &lists.macs,
            defaults.mac.iter().map(|m| m.as_ref().to_owned()).collect(),
        ),
        pubkey_accepted_algorithms: names(
            &lists.pubkey,
            default_pubkey_algorithms()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        ),
    }
}

/// `offered` with the algorithms of a key type in `recorded` first, each
/// part in its own order.
fn recorded_first(offered: Vec<Algorithm>, recorded: &[Algorithm]) -> Vec<Algorithm> {
    let rsa = |a: &Algorithm| matches!(a, Algorithm::Rsa { .. });
    let same_type = |a: &Algorithm, b: &Algorithm| a == b || (rsa(a) && rsa(b));
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = offered
        .into_iter()
        .partition(|a| recorded.iter().any(|r| same_type(a, r)));
    first.extend(rest);
    first
}

/// How `key` signs a login to `host`, as ssh chooses: the key's algorithm
/// must be one `PubkeyAcceptedAlgorithms` allows (by default all but
/// `ssh-rsa`), and an RSA key signs with the first RSA algorithm it lists
/// that the server takes (`server_rsa`: the best hash
/// [`russh::client::Handle::best_supported_rsa_hash`] found in the server's
/// `server-sig-algs`; `None` when that names no SHA-2 one, or is not sent,
/// where only `ssh-rsa`, SHA-1, can do). The hash for RSA, or why the key is
/// not offered.
pub(super) fn signature_hash(
    host: &Host,
    key: &PublicKey,
    server_rsa: Option<HashAlg>,
) -> Result<Option<HashAlg>, String> {
    let accepted = host.algorithms.pubkey.as_ref();
    let allows = |name: &str| {
        accepted.map_or_else(
            || default_pubkey_algorithms().contains(&name),
            |list| list.iter().any(|n| n == name),
        )
    };
    let algorithm = key.algorithm();
    if !matches!(algorithm, Algorithm::Rsa { .. }) {
        return if allows(algorithm.as_str()) {
            Ok(None)
        } else {
            Err(format!(
                "not offered: PubkeyAcceptedAlgorithms does not list {}",
                algorithm.as_str()
            ))
        };
    }
    // Best first, as russh ranks them; those above what the server said
    // it takes are out.
    let ranked = [Some(HashAlg::Sha512), Some(HashAlg::Sha256), None];
    let usable = &ranked[ranked.iter().position(|h| *h == server_rsa).unwrap_or(2)..];
    let name = |hash: Option<HashAlg>| Algorithm::Rsa { hash }.as_str().to_owned();
    let wanted: Vec<Option<HashAlg>> = match accepted {
        Some(list) => list
            .iter()
            .filter_map(|n| ranked.iter().copied().find(|h| name(*h) == *n))
            .collect(),
        None => ranked[..2].to_vec(),
    };
    if let Some(hash) = wanted.iter().copied().find(|h| usable.contains(h)) {
        return Ok(hash);
    }
    if wanted.is_empty() {
        return Err(
            "not offered: PubkeyAcceptedAlgorithms lists no RSA algorithm (rsa-sha2-512, \
             rsa-sha2-256 or ssh-rsa)"
                .to_owned(),
        );
    }
    let allowed = wanted
        .iter()
        .map(|h| name(*h))
        .collect::<Vec<_>>()
        .join(", ");
    Err(if usable == [None] {
        format!(
            "not offered: the server takes only ssh-rsa (SHA-1) signatures from RSA keys \
             (or does not say which it takes), and PubkeyAcceptedAlgorithms allows {allowed}; \
             `PubkeyAcceptedAlgorithms +ssh-rsa` for this host in ssh_config allows it"
        )
    } else {
        format!(
            "not offered: none of the RSA signatures PubkeyAcceptedAlgorithms allows \
             ({allowed}) is one the server takes"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Algorithms;

    fn host(pubkey: Option<&[&str]>, host_keys: Option<&[&str]>) -> Host {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Host {
            algorithms: Algorithms {
                pubkey: pubkey.map(list),
                host_keys: host_keys.map(list),
                ..Algorithms::default()
            },
            ..Host::for_tests("h")
        }
    }

    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDa3WIrcMrJeOretJAIb1WTuejdVPabYWkWSEbtG9/3qrqVT/VfoI0J3Bl/JR0+mFADdoiokThGE45PSazl1uc8JrSqg5KNuGtAhbBdtih8SFEfsPxSujIW5uwKPRu4DDhomytK6h/9IXcuHVjRSvUuuSW1ApTeMhKEPfT0NwJ9hQ==";

    #[test]
    fn rsa_signs_with_what_the_list_and_the_server_allow() {
        let rsa = PublicKey::from_openssh(RSA).unwrap();
        let sha512 = Some(HashAlg::Sha512);
        let default = host(None, None);
        assert_eq!(
            signature_hash(&default, &rsa, sha512),
            Ok(Some(HashAlg::Sha512))
        );
        // Never SHA-1 unless the list says so...
        let e = signature_hash(&default, &rsa, None).unwrap_err();
        assert!(e.contains("+ssh-rsa"), "{e}");
        let old = host(Some(&["rsa-sha2-512", "ssh-rsa"]), None);
        assert_eq!(signature_hash(&old, &rsa, None), Ok(None));
        assert_eq!(
            signature_hash(&old, &rsa, sha512),
            Ok(Some(HashAlg::Sha512))
        );
        // ...and in the list's order.
        let sha256 = host(Some(&["rsa-sha2-256", "rsa-sha2-512"]), None);
        assert_eq!(
            signature_hash(&sha256, &rsa, sha512),
            Ok(Some(HashAlg::Sha256))
        );
        let e = signature_hash(&host(Some(&["ssh-ed25519"]), None), &rsa, sha512).unwrap_err();
        assert!(e.contains("lists no RSA algorithm"), "{e}");
    }

    #[test]
    fn other_keys_need_their_algorithm_listed() {
        let ed = russh::keys::PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone();
        assert_eq!(signature_hash(&host(None, None), &ed, None), Ok(None));
        let only_rsa = host(Some(&["rsa-sha2-512"]), None);
        let e = signature_hash(&only_rsa, &ed, None).unwrap_err();
        assert!(e.contains("does not list ssh-ed25519"), "{e}");
    }

    #[test]
    fn host_key_list_is_ordered_by_what_known_hosts_records() {
        let host = host(
            None,
            Some(&[
                "ssh-ed25519",
                "rsa-sha2-512",
                "ssh-rsa",
                "ssh-ed25519-cert-v01@openssh.com",
            ]),
        );
        let mut preferred = russh::Preferred {
            host_key_certificates: Cow::Owned(vec![
                Algorithm::Ed25519,
                Algorithm::Ecdsa {
                    curve: russh::keys::EcdsaCurve::NistP256,
                },
            ]),
            ..russh::Preferred::default()
        };
        let rsa_recorded = [Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        }];
        configure(&mut preferred, &host, &rsa_recorded);
        assert_eq!(
            preferred.key.as_ref(),
            [
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512)
                },
                Algorithm::Rsa { hash: None },
                Algorithm::Ed25519
            ]
        );
        assert_eq!(
            preferred.host_key_certificates.as_ref(),
            [Algorithm::Ed25519]
        );
        // Unset lists keep russh's defaults.
        assert_eq!(preferred.kex, russh::Preferred::DEFAULT.kex);
    }
}
