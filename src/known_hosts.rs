//! OpenSSH `known_hosts` files: plain, wildcard and negated patterns,
//! `[host]:port`, hashed (`|1|salt|hash`) entries, several keys per host,
//! the `@revoked` marker and `@cert-authority` lines (host certificates).
//! See sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT".

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::{Algorithm, Certificate, HashAlg, PublicKey};
use sha1::Sha1;

use crate::certificate;
use crate::ssh_config::{match_host_list, split_list};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    Patterns(String),
}

impl Hosts {
    fn matches(&self, name: &str) -> bool {
        match self {
            Hosts::Hashed { salt, hash } => hmac_sha1(salt, name).as_slice() == hash.as_slice(),
            Hosts::Patterns(list) => match_host_list(split_list(list), name).matched(),
        }
    }
}

fn hmac_sha1(salt: &[u8], name: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).expect("HMAC takes any key length");
    mac.update(name.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// One key line of a known_hosts file.
#[derive(Debug, Clone)]
struct Entry {
    file: PathBuf,
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key: PublicKey,
}

impl Entry {
    fn place(&self) -> Place {
        Place {
            file: self.file.clone(),
            line: self.line,
        }
    }
}

/// Where a known_hosts line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The known_hosts file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What the known_hosts files say about a key a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The key is recorded for this host.
    Known(Place),
    /// The key is marked `@revoked`.
    Revoked(Place),
    /// A different key of the same type is recorded: possible attack.
    Changed {
        /// Where the other key is recorded.
        place: Place,
        /// The key recorded there, described.
        recorded: String,
    },
    /// Only keys of other types are recorded for this host.
    OtherTypes {
        /// Where the other types are recorded.
        place: Place,
        /// The key types recorded.
        recorded: String,
    },
    /// Nothing is recorded for this host.
    Unknown,
}

/// What the known_hosts files say about a host certificate a server
/// presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertVerdict {
    /// Signed by the CA of the `@cert-authority` line there, and valid.
    Trusted(Place),
    /// The CA key or the certificate's key is marked `@revoked`: why, in words.
    Revoked(String),
    /// Not trusted as a certificate (no matching CA, or invalid): why, in
    /// words. The certificate's key may still be recorded as a plain key.
    Untrusted(String),
}

/// The keys a set of known_hosts files records for one host.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
    warnings: Vec<String>,
}

/// The name a host is recorded under: `host`, or `[host]:port` off port 22.
pub(crate) fn host_entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `host` for a name recorded as `[host]:port`.
fn without_port(name: &str) -> Option<&str> {
    let (host, port) = name.strip_prefix('[')?.split_once("]:")?;
    port.parse::<u16>().ok().map(|_| host)
}

/// `SHA256:...`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The key type and fingerprint, for messages: `ED25519 SHA256:...`.
pub fn describe(key: &PublicKey) -> String {
    format!("{} {}", key_type(&key.algorithm()), fingerprint(key))
}

fn key_type(algorithm: &Algorithm) -> String {
    match algorithm {
        Algorithm::Ed25519 => "ED25519".into(),
        Algorithm::Rsa { .. } => "RSA".into(),
        Algorithm::Ecdsa { .. } => "ECDSA".into(),
        other => other.as_str().to_owned(),
    }
}

impl KnownHosts {
    /// Read what the given files record for the host recorded as `name`
    /// (and, off port 22, for its name without the port: see
    /// [`KnownHosts::check`]), a line at a time: a large file is never held
    /// whole, and only the matching keys are kept. Missing files are
    /// skipped, and so are lines that do not parse (as ssh does); a line
    /// that is not UTF-8 text is skipped with a warning ([`KnownHosts::warnings`]).
    pub(crate) fn load(files: &[PathBuf], name: &str) -> std::io::Result<KnownHosts> {
        let names: Vec<&str> = std::iter::once(name).chain(without_port(name)).collect();
        let mut known = KnownHosts::default();
        for file in files {
            let cannot = |e: std::io::Error| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", file.display()))
            };
            let opened = match std::fs::File::open(file) {
                Ok(opened) => opened,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(cannot(e)),
            };
            known
                .read(std::io::BufReader::new(opened), file, &names)
                .map_err(cannot)?;
        }
        Ok(known)
    }

    fn read(
        &mut self,
        mut reader: impl BufRead,
        file: &Path,
        names: &[&str],
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        let mut number = 0;
        loop {
            bytes.clear();
            if reader.read_until(b'\n', &mut bytes)? == 0 {
                return Ok(());
            }
            number += 1;
            match std::str::from_utf8(&bytes) {
                Ok(line) => self.entries.extend(parse_line(line, file, number, names)),
                Err(e) => self.warnings.push(format!(
                    "{}:{number}: skipped a line that is not UTF-8 text (byte 0x{:02x} at column {})",
                    file.display(),
                    bytes[e.valid_up_to()],
                    e.valid_up_to() + 1
                )),
            }
        }
    }

    /// Lines skipped while reading, for the user.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Check `key` presented by the host recorded as `name`. Off port 22
    /// (`[host]:port`), a key recorded for the bare `host` is accepted when
    /// nothing is recorded with the port, as ssh does; any other verdict
    /// for the bare name counts as nothing recorded.
    pub(crate) fn check(&self, name: &str, key: &PublicKey) -> Verdict {
        match (self.check_name(name, key), without_port(name)) {
            (Verdict::Unknown, Some(host)) => match self.check_name(host, key) {
                verdict @ (Verdict::Known(_) | Verdict::Revoked(_)) => verdict,
                _ => Verdict::Unknown,
            },
            (verdict, _) => verdict,
        }
    }

    fn check_name(&self, name: &str, key: &PublicKey) -> Verdict {
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.hosts.matches(name))
            .collect();
        let place = Entry::place;
        if let Some(e) = matching
            .iter()
            .find(|e| e.marker == Marker::Revoked && e.key.key_data() == key.key_data())
        {
            return Verdict::Revoked(place(e));
        }
        let plain: Vec<&&Entry> = matching
            .iter()
            .filter(|e| e.marker == Marker::None)
            .collect();
        if let Some(e) = plain.iter().find(|e| e.key.key_data() == key.key_data()) {
            return Verdict::Known(place(e));
        }
        if let Some(e) = plain.iter().find(|e| same_type(&e.key, key)) {
            return Verdict::Changed {
                place: place(e),
                recorded: describe(&e.key),
            };
        }
        if let Some(e) = plain.first() {
            return Verdict::OtherTypes {
                place: place(e),
                recorded: describe(&e.key),
            };
        }
        Verdict::Unknown
    }

    /// The entries with `marker` for the host recorded as `name` (or, off
    /// port 22, for its name without the port, as for plain keys).
    fn marked<'a>(&'a self, name: &'a str, marker: Marker) -> impl Iterator<Item = &'a Entry> {
        let bare = without_port(name);
        self.entries.iter().filter(move |e| {
            e.marker == marker
                && (e.hosts.matches(name) || bare.is_some_and(|host| e.hosts.matches(host)))
        })
    }

    /// Whether an `@cert-authority` line covers the host recorded as `name`,
    /// so that host certificates are worth asking for.
    pub(crate) fn has_authority(&self, name: &str) -> bool {
        self.marked(name, Marker::CertAuthority).next().is_some()
    }

    /// Check the host certificate `cert` presented by the host recorded as
    /// `name` at `now` (seconds since 1970): neither its CA key nor its own
    /// key `@revoked`, signed by the key of an `@cert-authority` line
    /// matching the host, a host certificate, within its validity window,
    /// naming the host (without port) among its principals, with no
    /// critical options (host certificates have none defined), and the CA's
    /// signature verified.
    pub(crate) fn check_certificate(
        &self,
        name: &str,
        cert: &Certificate,
        now: u64,
    ) -> CertVerdict {
        let ca = PublicKey::from(cert.signature_key().clone());
        let key = PublicKey::from(cert.public_key().clone());
        for (what, revoked) in [("the CA key", &ca), ("the certificate's key", &key)] {
            if let Some(e) = self
                .marked(name, Marker::Revoked)
                .find(|e| e.key.key_data() == revoked.key_data())
            {
                return CertVerdict::Revoked(format!(
                    "{what} {} is marked @revoked at {}",
                    describe(revoked),
                    e.place()
                ));
            }
        }
        let Some(authority) = self
            .marked(name, Marker::CertAuthority)
            .find(|e| e.key.key_data() == ca.key_data())
        else {
            return CertVerdict::Untrusted(format!(
                "it is signed by the CA key {}, which no @cert-authority line for {name} names",
                describe(&ca)
            ));
        };
        let host = without_port(name).unwrap_or(name);
        let mut problems = certificate::problems(cert, CertType::Host, host, now);
        if !cert.critical_options().is_empty() {
            let options: Vec<&str> = cert.critical_options().keys().map(String::as_str).collect();
            problems.push(format!(
                "it has critical options ({}), which host certificates do not use",
                options.join(", ")
            ));
        }
        if problems.is_empty()
            && cert
                .validate_at(now, [&ca.fingerprint(HashAlg::Sha256)])
                .is_err()
        {
            problems.push("the CA's signature on it does not verify".to_owned());
        }
        if problems.is_empty() {
            return CertVerdict::Trusted(authority.place());
        }
        CertVerdict::Untrusted(format!(
            "{}; the certificate: {}; its CA is trusted at {}",
            problems.join("; "),
            certificate::describe(cert),
            authority.place()
        ))
    }

    /// Host-key algorithms for the keys recorded for `name`, so that key
    /// exchange can ask the server for a type we can verify (as ssh orders
    /// HostKeyAlgorithms). An RSA key is asked for with SHA-2 signatures
    /// only: see [`signature_algorithms`].
    pub(crate) fn algorithms_for(&self, name: &str) -> Vec<Algorithm> {
        let recorded = |name: &str| {
            self.entries
                .iter()
                .any(|e| e.marker == Marker::None && e.hosts.matches(name))
        };
        let name = match without_port(name) {
            Some(host) if !recorded(name) => host,
            _ => name,
        };
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for e in &self.entries {
            if e.marker == Marker::None && e.hosts.matches(name) {
                for algorithm in signature_algorithms(&e.key.algorithm()) {
                    if !algorithms.contains(&algorithm) {
                        algorithms.push(algorithm);
                    }
                }
            }
        }
        algorithms
    }
}

/// The host-key algorithms that verify a key of type `key`, best first.
/// A key reports RSA as `ssh-rsa`, which as an algorithm means SHA-1
/// signatures; OpenSSH stopped offering those in 8.8, and so does roadie:
/// an RSA key is verified with `rsa-sha2-512` or `rsa-sha2-256` only.
pub(crate) fn signature_algorithms(key: &Algorithm) -> Vec<Algorithm> {
    match key {
        Algorithm::Rsa { .. } => vec![
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            },
        ],
        other => vec![other.clone()],
    }
}

/// Whether `algorithm` may be offered at all: everything but `ssh-rsa`
/// (RSA with SHA-1 signatures).
pub(crate) fn is_acceptable(algorithm: &Algorithm) -> bool {
    !matches!(algorithm, Algorithm::Rsa { hash: None })
}

fn same_type(a: &PublicKey, b: &PublicKey) -> bool {
    a.algorithm() == b.algorithm()
}

/// The entry on `line` if it records one of `names` (its key is parsed only
/// then).
fn parse_line(line: &str, file: &Path, number: usize, names: &[&str]) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    }
    let hosts = if let Some(hashed) = first.strip_prefix("|1|") {
        let (salt, hash) = hashed.split_once('|')?;
        Hosts::Hashed {
            salt: data_encoding::BASE64.decode(salt.as_bytes()).ok()?,
            hash: data_encoding::BASE64.decode(hash.as_bytes()).ok()?,
        }
    } else {
        Hosts::Patterns(first.to_owned())
    };
    if !names.iter().any(|name| hosts.matches(name)) {
        return None;
    }
    let key_text: Vec<&str> = fields.take(2).collect();
    let key = PublicKey::from_openssh(&key_text.join(" ")).ok()?;
    Some(Entry {
        file: file.to_path_buf(),
        line: number,
        marker,
        hosts,
        key,
    })
}

/// Append `key` for `name` to `file` (creating it and its directory), hashed
/// when `hash` is set, the way `ssh` records a new host.
pub(crate) fn append(file: &Path, name: &str, key: &PublicKey, hash: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let recorded_name = if hash {
        let salt: [u8; 20] = rand::random();
        format!(
            "|1|{}|{}",
            data_encoding::BASE64.encode(&salt),
            data_encoding::BASE64.encode(&hmac_sha1(&salt, name))
        )
    } else {
        name.to_owned()
    };
    let mut key = key.clone();
    key.set_comment("");
    let key_text = key
        .to_openssh()
        .map_err(|e| std::io::Error::other(format!("cannot encode host key: {e}")))?;
    let needs_newline =
        std::fs::read(file).is_ok_and(|bytes| bytes.last().is_some_and(|b| *b != b'\n'));
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    let line = format!(
        "{}{recorded_name} {}\n",
        if needs_newline { "\n" } else { "" },
        key_text.trim_end()
    );
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::ssh_key::PrivateKey;

    fn key() -> PublicKey {
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone()
    }

    fn line_for(name: &str, k: &PublicKey) -> String {
        format!("{name} {}\n", k.to_openssh().unwrap())
    }

    /// What `path` records for a name.
    fn reader(path: &Path) -> impl Fn(&str) -> KnownHosts + use<> {
        let path = path.to_path_buf();
        move |name| KnownHosts::load(std::slice::from_ref(&path), name).unwrap()
    }

    fn load(
        text: &[u8],
    ) -> (
        tempfile::TempDir,
        impl Fn(&str) -> KnownHosts + use<>,
        PathBuf,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        (dir, reader(&path), path)
    }

    #[test]
    fn plain_port_and_wildcards() {
        let (a, b) = (key(), key());
        let text = format!(
            "# comment\n{}{}{}",
            line_for("web1,10.0.0.1", &a),
            line_for("[db]:2222", &b),
            line_for("*.example.org,!bad.example.org", &a)
        );
        let (_d, kh, path) = load(text.as_bytes());
        let known = |line| {
            Verdict::Known(Place {
                file: path.clone(),
                line,
            })
        };
        assert_eq!(kh("web1").check("web1", &a), known(2));
        assert_eq!(kh("10.0.0.1").check("10.0.0.1", &a), known(2));
        assert_eq!(kh("[db]:2222").check("[db]:2222", &b), known(3));
        assert_eq!(kh("db").check("db", &b), Verdict::Unknown);
        assert_eq!(kh("x.example.org").check("x.example.org", &a), known(4));
        assert_eq!(
            kh("bad.example.org").check("bad.example.org", &a),
            Verdict::Unknown
        );
        assert!(
            matches!(kh("web1").check("web1", &b), Verdict::Changed { place, .. } if place.line == 2)
        );
    }

    #[test]
    fn hashed_revoked_and_other_types() {
        let (a, b) = (key(), key());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        append(&path, "[h]:2200", &a, true).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("|1|"), "{text}");
        assert!(!text.contains("[h]"));
        let kh = reader(&path);
        assert!(matches!(
            kh("[h]:2200").check("[h]:2200", &a),
            Verdict::Known(_)
        ));
        assert_eq!(kh("[h]:2201").check("[h]:2201", &a), Verdict::Unknown);

        let revoked = format!("@revoked * {}", b.to_openssh().unwrap());
        let (_d, kh, _) = load(format!("{}{revoked}\n", line_for("h", &b)).as_bytes());
        assert!(matches!(kh("h").check("h", &b), Verdict::Revoked(p) if p.line == 2));

        let rsa = PrivateKey::random(
            &mut rand::rng(),
            Algorithm::Ecdsa {
                curve: russh::keys::EcdsaCurve::NistP256,
            },
        )
        .unwrap()
        .public_key()
        .clone();
        let (_d, kh, _) = load(line_for("h", &rsa).as_bytes());
        assert!(matches!(kh("h").check("h", &a), Verdict::OtherTypes { .. }));
        assert_eq!(kh("h").algorithms_for("h"), vec![rsa.algorithm()]);
    }

    /// An RSA public key (the private half was thrown away).
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDJbVaJRhcbEtN6g3/h0G/NTQb7TgEznDUAkcgUIOOM+WplkkCmOQg4XJFr8iSNkJlNPz85SG2SG2paAqmD0tpIriDmgb/CEDND3l9AhCVkAUM24x1dcch6gLBzfDoE2De/B8BdLzXaA772LaENZSyZLdHkfRHiZIgJvjj5leklkqgyOO6mIWEesS2Xgtfs6E80FkmTuus/42kx4lv4D59anc8Ks8tTGisC672DtZx3o6Viwvfm19glFJ6ljMfADCWSVovW45stdSIHnXWLKyjdtIkqroui3jmopWHM/ws/fiNtUVqEufqCgoFtgRCZ262+culf6JgTEcY3SWwafHkp";

    #[test]
    fn rsa_is_asked_for_with_sha2_signatures_only() {
        let (_d, kh, _) = load(format!("h {RSA}\nh {RSA}\n").as_bytes());
        let sha2 = |hash| Algorithm::Rsa { hash: Some(hash) };
        assert_eq!(
            kh("h").algorithms_for("h"),
            [sha2(HashAlg::Sha512), sha2(HashAlg::Sha256)]
        );
        assert!(!is_acceptable(&Algorithm::Rsa { hash: None }));
        assert!(is_acceptable(&sha2(HashAlg::Sha256)));
        assert!(is_acceptable(&Algorithm::Ed25519));
    }

    #[test]
    fn a_key_recorded_without_port_serves_other_ports_as_in_ssh() {
        let (a, b) = (key(), key());
        let (_d, kh, _) = load(line_for("h", &a).as_bytes());
        assert!(matches!(kh("[h]:2222").check("[h]:2222", &a), Verdict::Known(p) if p.line == 1));
        assert_eq!(kh("[h]:2222").algorithms_for("[h]:2222"), [a.algorithm()]);
        // Another key under the bare name is not "changed": nothing is known.
        assert_eq!(kh("[h]:2222").check("[h]:2222", &b), Verdict::Unknown);
        // An entry with the port decides, whatever the bare name records.
        let (_d, kh, _) =
            load(format!("{}{}", line_for("[h]:2222", &b), line_for("h", &a)).as_bytes());
        assert!(matches!(
            kh("[h]:2222").check("[h]:2222", &a),
            Verdict::Changed { .. }
        ));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_skipped_with_a_warning() {
        let a = key();
        let mut text = b"caf\xe9 ssh-ed25519 AAAA\n".to_vec();
        text.extend_from_slice(line_for("h", &a).as_bytes());
        let (_d, kh, path) = load(&text);
        let known = kh("h");
        assert!(matches!(known.check("h", &a), Verdict::Known(p) if p.line == 2));
        assert_eq!(
            known.warnings(),
            [format!(
                "{}:1: skipped a line that is not UTF-8 text (byte 0xe9 at column 4)",
                path.display()
            )]
        );
    }

    #[test]
    fn host_certificates_are_checked_against_the_cert_authority_lines_of_the_host() {
        use crate::certificate::tests::{ca, signed};
        let (trusted, other) = (ca(), ca());
        let now = certificate::now();
        let valid = (now - 60, now + 3600);
        let authority = |pattern: &str, k: &PrivateKey| {
            format!(
                "@cert-authority {pattern} {}\n",
                k.public_key().to_openssh().unwrap()
            )
        };
        let text = authority("*.example.org", &trusted) + &authority("other", &other);
        let (_d, kh, path) = load(text.as_bytes());
        let name = "web.example.org";
        let good = signed(&trusted, CertType::Host, &[name], valid);
        assert_eq!(
            kh(name).check_certificate(name, &good, now),
            CertVerdict::Trusted(Place {
                file: path,
                line: 1
            })
        );
        // Off port 22 the principal is the name without the port.
        let with_port = "[web.example.org]:2222";
        assert!(matches!(
            kh(with_port).check_certificate(with_port, &good, now),
            CertVerdict::Trusted(_)
        ));
        assert!(kh(name).has_authority(name));
        assert!(!kh("db.internal").has_authority("db.internal"));
        let untrusted =
            |cert: &Certificate, at: u64| match kh(name).check_certificate(name, cert, at) {
                CertVerdict::Untrusted(why) => why,
                verdict => panic!("{verdict:?}"),
            };
        let by_other = signed(&other, CertType::Host, &[name], valid);
        assert!(
            untrusted(&by_other, now)
                .contains("which no @cert-authority line for web.example.org names")
        );
        let elsewhere = signed(&trusted, CertType::Host, &["db.example.org"], valid);
        assert!(untrusted(&elsewhere, now).starts_with("the host 'web.example.org' is not among its principals (db.example.org); the certificate: key ID 'test-id'"));
        assert!(untrusted(&good, now + 7200).starts_with("expired at "));
        let user = signed(&trusted, CertType::User, &[name], valid);
        assert!(
            untrusted(&user, now).starts_with("it is a user certificate, not a host certificate")
        );
        // A revoked CA or certificate key is refused whatever else holds.
        let revoked_key = PublicKey::from(good.public_key().clone());
        let text = format!(
            "{}@revoked * {}\n",
            authority("*", &trusted),
            revoked_key.to_openssh().unwrap()
        );
        let (_d, kh, _) = load(text.as_bytes());
        assert!(matches!(
            kh(name).check_certificate(name, &good, now),
            CertVerdict::Revoked(why) if why.starts_with("the certificate's key ED25519 ")
        ));
    }

    #[test]
    fn names_and_garbage_lines() {
        assert_eq!(host_entry_name("h", 22), "h");
        assert_eq!(host_entry_name("h", 2222), "[h]:2222");
        let a = key();
        let (_d, kh, _) =
            load(format!("garbage line\n@unknown h x\n{}", line_for("h", &a)).as_bytes());
        assert!(matches!(kh("h").check("h", &a), Verdict::Known(p) if p.line == 3));
    }
}
