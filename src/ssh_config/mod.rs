//! Reading OpenSSH client configuration (`~/.ssh/config`, `/etc/ssh/ssh_config`
//! or the file given with `-F`) for one host, with OpenSSH's semantics:
//! the first value obtained wins, `Host` and `Match` blocks apply in file order,
//! `Include` is read in place, and `Match` is evaluated against the options set
//! so far (with a second, final pass when a `Match final` asks for one).
//!
//! Values that roadie takes from its command line or `roadie.yaml` are set
//! before the files are read ([`Preset`]), exactly as `ssh -l USER -p PORT`
//! does, so that they win and `Match user` sees them.
//!
//! Only the keywords roadie uses are interpreted; the rest are skipped. What
//! roadie cannot honour faithfully (a `Match` criterion it does not know) is
//! refused with the file and line rather than silently ignored. Host name
//! canonicalization (`CanonicalizeHostname`) reads the files a second time
//! with the canonical name, as ssh does.

mod algorithms;
mod canonical;
mod expand;
mod keywords;
mod lex;
mod pattern;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use algorithms::Kind;
pub(crate) use algorithms::{default_pubkey_algorithms, key_algorithm};
pub use expand::LocalUser;
pub(crate) use expand::Tokens;
pub(crate) use pattern::{match_host_list, match_list, split_list, wildcard_match};

/// How many `Include` levels deep OpenSSH follows.
const MAX_INCLUDE_DEPTH: usize = 16;

/// An error in a configuration file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Which files to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    /// The user's file (or the `-F` file); relative `Include`s resolve in `~/.ssh`.
    pub user: Option<PathBuf>,
    /// The system-wide file; relative `Include`s resolve in `/etc/ssh`.
    pub system: Option<PathBuf>,
}

impl ConfigFiles {
    /// `~/.ssh/config`, then `/etc/ssh/ssh_config`: what `ssh` reads without `-F`.
    pub fn standard(local: &LocalUser) -> ConfigFiles {
        ConfigFiles {
            user: Some(local.home.join(".ssh/config")),
            system: Some(PathBuf::from("/etc/ssh/ssh_config")),
        }
    }

    /// Only this file, like `ssh -F FILE` (`none` reads nothing).
    pub fn explicit(path: &Path) -> ConfigFiles {
        ConfigFiles {
            user: (path != Path::new("none")).then(|| path.to_path_buf()),
            system: None,
        }
    }
}

/// Values fixed before the files are read: they win over the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preset {
    /// `-l`: the user (`User`).
    pub user: Option<String>,
    /// `-p`: the port (`Port`).
    pub port: Option<u16>,
    /// `-o ProxyCommand=...`: the proxy command (`none` for none), with
    /// where it was written. Set, it also keeps ssh_config's `ProxyJump`
    /// from applying, as in ssh.
    pub proxy_command: Option<Located<String>>,
}

/// `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// `yes`: refuse unknown and changed keys.
    Yes,
    /// `accept-new`: record unknown keys; refuse changed ones.
    AcceptNew,
    /// `no`: roadie takes it as `accept-new` (a changed key is never accepted silently).
    No,
    /// `ask`: roadie cannot ask, so it is strict.
    Ask,
}

/// `ForwardAgent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardAgent {
    /// `no`.
    No,
    /// `yes`: the agent at `$SSH_AUTH_SOCK`.
    Yes,
    /// The agent at this socket (a path, or `$VAR` naming one).
    Socket(PathBuf),
}

/// A value together with where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// The file that set it.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

/// The resolved client configuration for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The name looked up (`%n`).
    pub original_host: String,
    /// `HostName` after `%h` expansion, or the original name, lowercased as
    /// ssh does.
    pub hostname: String,
    /// `User`.
    pub user: String,
    /// `Port`.
    pub port: u16,
    /// `IdentityFile`s, expanded, in order.
    pub identity_files: Vec<PathBuf>,
    /// `CertificateFile`s, expanded, in order.
    pub certificate_files: Vec<PathBuf>,
    /// `IdentitiesOnly`.
    pub identities_only: bool,
    /// `IdentityAgent`: `None` when unset, `Some(None)` for `none`.
    pub identity_agent: Option<Option<PathBuf>>,
    /// `ProxyJump` hops, empty when unset or `none`.
    pub proxy_jump: Vec<String>,
    /// `ProxyCommand` as written (tokens not expanded, as `ssh -G` prints
    /// it); `None` when unset or `none`. See [`proxy_command`].
    pub proxy_command: Option<Located<String>>,
    /// `UserKnownHostsFile`.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile`.
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// `ForwardAgent`.
    pub forward_agent: Option<ForwardAgent>,
    /// `HashKnownHosts`.
    pub hash_known_hosts: bool,
    /// `HostKeyAlias`, lowercased as ssh does.
    pub host_key_alias: Option<String>,
    /// `ConnectTimeout`; zero means none (wait as long as the system does).
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval`.
    pub server_alive_interval: Option<Duration>,
    /// `ServerAliveCountMax`.
    pub server_alive_count_max: Option<u32>,
    /// `Ciphers`, resolved against OpenSSH's default list, most wanted first.
    pub ciphers: Option<Vec<String>>,
    /// `KexAlgorithms`.
    pub kex_algorithms: Option<AlgorithmList>,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: Option<AlgorithmList>,
    /// `MACs`.
    pub macs: Option<AlgorithmList>,
    /// `PubkeyAcceptedAlgorithms` (or its old name `PubkeyAcceptedKeyTypes`).
    pub pubkey_accepted_algorithms: Option<AlgorithmList>,
}

/// An algorithm list (`KexAlgorithms`, `HostKeyAlgorithms`, `MACs`,
/// `PubkeyAcceptedAlgorithms`), resolved as OpenSSH resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmList {
    /// What OpenSSH makes of the value, most wanted first (what `ssh -G`
    /// prints).
    pub openssh: Vec<String>,
    /// What roadie offers: those of `openssh` that it implements, in order.
    pub offered: Vec<String>,
    /// Names the value asks for that roadie does not implement, left out of
    /// `offered`.
    pub left_out: Vec<String>,
    /// The file that set it.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

/// Options as read so far (first value wins).
#[derive(Debug, Default)]
struct Options {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<Located<String>>,
    certificate_files: Vec<Located<String>>,
    identities_only: Option<bool>,
    identity_agent: Option<Located<String>>,
    forward_agent: Option<Located<String>>,
    proxy_jump: Option<Located<String>>,
    proxy_command: Option<Located<String>>,
    user_known_hosts: Option<Located<Vec<String>>>,
    global_known_hosts: Option<Located<Vec<String>>>,
    strict: Option<StrictHostKeyChecking>,
    hash_known_hosts: Option<bool>,
    host_key_alias: Option<String>,
    /// Zero means no timeout.
    connect_timeout: Option<Duration>,
    server_alive_interval: Option<Duration>,
    server_alive_count_max: Option<u32>,
    ciphers: Option<Located<String>>,
    kex_algorithms: Option<Located<String>>,
    host_key_algorithms: Option<Located<String>>,
    macs: Option<Located<String>>,
    pubkey_accepted_algorithms: Option<Located<String>>,
    canonicalize: Option<Located<canonical::Mode>>,
    canonical_domains: Option<Vec<String>>,
    canonicalize_max_dots: Option<usize>,
    canonicalize_fallback_local: Option<bool>,
    permitted_cnames: Option<Located<Vec<canonical::PermittedCname>>>,
    tag: Option<String>,
}

fn first<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

struct Pass<'a> {
    original_host: &'a str,
    /// What `Host` lines match: the original name, or in the final pass the
    /// host name that the first pass settled on (see [`canonical_hostname`]).
    host_arg: String,
    is_final: bool,
    wants_final: bool,
    local: &'a LocalUser,
}

/// Resolve the configuration for `host` from `files`. Host name
/// canonicalization (`CanonicalizeHostname`) asks the system resolver.
pub fn resolve(
    files: &ConfigFiles,
    host: &str,
    preset: &Preset,
    local: &LocalUser,
) -> Result<HostConfig, ConfigError> {
    resolve_with(files, host, preset, local, &canonical::system_lookup)
}

/// [`resolve`], names looked up with `lookup`.
fn resolve_with(
    files: &ConfigFiles,
    host: &str,
    preset: &Preset,
    local: &LocalUser,
    lookup: canonical::Lookup<'_>,
) -> Result<HostConfig, ConfigError> {
    let mut opts = Options {
        user: preset.user.clone(),
        port: preset.port,
        proxy_command: preset.proxy_command.clone(),
        ..Options::default()
    };
    let mut pass = Pass {
        original_host: host,
        host_arg: host.to_owned(),
        is_final: false,
        wants_final: false,
        local,
    };
    read_all(files, &mut pass, &mut opts)?;
    let hostname = current_hostname(&opts, host).map_err(|m| ConfigError {
        file: PathBuf::from("HostName"),
        line: 0,
        message: m,
    })?;
    let settled = canonical_hostname(&hostname);
    let canonicalized = canonicalize(&opts, &settled, lookup)?;
    if canonicalized.is_some() || pass.wants_final {
        // As ssh does, the final pass sees the settled, canonical host name,
        // as `HostName` too (so a `HostName` read now changes nothing).
        pass.host_arg = canonicalized.unwrap_or(settled);
        opts.hostname = Some(pass.host_arg.replace('%', "%%"));
        pass.is_final = true;
        read_all(files, &mut pass, &mut opts)?;
    }
    finish(&opts, host, local)
}

/// The name `host` (the first pass's host name, lowercased) becomes under
/// the canonicalization rules the first pass read, when
/// `CanonicalizeHostname` is on (`None` when it is off).
fn canonicalize(
    opts: &Options,
    host: &str,
    lookup: canonical::Lookup<'_>,
) -> Result<Option<String>, ConfigError> {
    let unset_or_none = |value: Option<&str>| value.is_none_or(|v| v.eq_ignore_ascii_case("none"));
    let direct = unset_or_none(opts.proxy_command.as_ref().map(|l| l.value.as_str()))
        && unset_or_none(opts.proxy_jump.as_ref().map(|l| l.value.as_str()));
    let mode = opts
        .canonicalize
        .as_ref()
        .map(|l| l.value)
        .unwrap_or_default();
    let rules = canonical::Rules {
        mode,
        domains: opts.canonical_domains.clone().unwrap_or_default(),
        max_dots: opts.canonicalize_max_dots,
        fallback_local: opts.canonicalize_fallback_local,
        permitted: opts
            .permitted_cnames
            .as_ref()
            .map(|l| l.value.clone())
            .unwrap_or_default(),
    };
    let name = canonical::canonicalize(host, &rules, direct, lookup).map_err(|failure| {
        // The line that asked for what failed.
        let (place, message) = match failure {
            canonical::Failure::Domains(m) => {
                (opts.canonicalize.as_ref().map(|l| (&l.file, l.line)), m)
            }
            canonical::Failure::Cname(m) => {
                (opts.permitted_cnames.as_ref().map(|l| (&l.file, l.line)), m)
            }
        };
        let (file, line) = place.map_or((PathBuf::new(), 0), |(file, line)| (file.clone(), line));
        ConfigError {
            file,
            line,
            message,
        }
    })?;
    Ok((mode != canonical::Mode::No).then_some(name))
}

/// The command `config`'s `ProxyCommand` runs, its tokens expanded as ssh
/// does (`%h %p %r %n %%`, and `%k`: `HostKeyAlias`, else the name as
/// given). A value the shell would not read as plain text is quoted with
/// `quote` where it stands outside quotes, and refused inside them. `None`
/// without a `ProxyCommand`.
pub fn proxy_command(
    config: &HostConfig,
    quote: impl Fn(&str) -> String,
) -> Result<Option<String>, ConfigError> {
    let Some(template) = &config.proxy_command else {
        return Ok(None);
    };
    let value = |token| match token {
        'h' => config.hostname.clone(),
        'p' => config.port.to_string(),
        'r' => config.user.clone(),
        'n' => config.original_host.clone(),
        _ => config
            .host_key_alias
            .clone()
            .unwrap_or_else(|| config.original_host.clone()),
    };
    expand::percent_proxy(&template.value, value, quote)
        .map(Some)
        .map_err(|message| ConfigError {
            file: template.file.clone(),
            line: template.line,
            message,
        })
}

/// Whether `command` uses only the tokens a `ProxyCommand` may (for a
/// command written elsewhere than in ssh_config, checked where it is read).
pub fn check_proxy_command(command: &str) -> Result<(), String> {
    expand::percent_proxy(command, |_| String::new(), str::to_owned).map(drop)
}

/// The host name as ssh uses it once the configuration is read (for
/// connecting, known_hosts and later `%h`): a name is lowercased; an address
/// is not, but is written in its canonical form (`FE80:0::1` is `fe80::1`)
/// unless the two differ only in case. See `main` in OpenSSH's ssh.c.
pub(crate) fn canonical_hostname(name: &str) -> String {
    // ssh's is_addr_fast: what may be an address is never lowercased.
    let address_like =
        name.contains(['%', ':']) || name.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !address_like {
        return name.to_ascii_lowercase();
    }
    match name.parse::<IpAddr>() {
        Ok(ip) if !ip.to_string().eq_ignore_ascii_case(name) => ip.to_string(),
        _ => name.to_owned(),
    }
}

fn read_all(
    files: &ConfigFiles,
    pass: &mut Pass<'_>,
    opts: &mut Options,
) -> Result<(), ConfigError> {
    if let Some(user) = &files.user {
        let dir = pass.local.home.join(".ssh");
        read_file(user, &dir, true, 0, pass, opts)?;
    }
    if let Some(system) = &files.system {
        read_file(system, Path::new("/etc/ssh"), true, 0, pass, opts)?;
    }
    Ok(())
}

fn current_hostname(opts: &Options, original: &str) -> Result<String, String> {
    match &opts.hostname {
        Some(h) => expand::percent_hostname(h, original),
        None => Ok(original.to_owned()),
    }
}

fn read_file(
    path: &Path,
    include_dir: &Path,
    active: bool,
    depth: usize,
    pass: &mut Pass<'_>,
    opts: &mut Options,
) -> Result<(), ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ConfigError {
                file: path.to_path_buf(),
                line: 0,
                message: format!("cannot read: {e}"),
            });
        }
    };
    let mut active = active;
    let mut ignore_unknown: Option<String> = None;
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let at = |message: String| ConfigError {
            file: path.to_path_buf(),
            line: index + 1,
            message,
        };
        let line = lex::text(line).map_err(at)?;
        let Some((keyword, mut args)) = lex::split_line(line).map_err(at)? else {
            continue;
        };
        if keyword == "proxycommand" {
            // As ssh does: the command is the rest of the line, as written.
            args = vec![lex::rest_of_line(line).to_owned()];
        }
        check_keyword(&keyword, &args, ignore_unknown.as_deref()).map_err(at)?;
        let place = Place {
            file: path,
            line: index + 1,
        };
        match keyword.as_str() {
            "host" => active = host_matches(&args, &pass.host_arg),
            "match" => active = match_line(&args, pass, opts).map_err(at)?,
            "include" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(at("Include nested too deeply".into()));
                }
                if active {
                    for included in include_paths(&args, include_dir, pass.local).map_err(at)? {
                        read_file(&included, include_dir, active, depth + 1, pass, opts)?;
                    }
                }
            }
            "ignoreunknown" if active => {
                first(&mut ignore_unknown, args.join(",").to_ascii_lowercase());
            }
            _ if active => apply(&keyword, args, place, opts).map_err(at)?,
            // As ssh does, a value is checked even where it does not apply.
            _ => apply(&keyword, args, place, &mut Options::default()).map_err(at)?,
        }
    }
    Ok(())
}

/// What ssh refuses whichever block a line is in: a keyword it does not know
/// (unless `IgnoreUnknown` lists it), or one without an argument.
fn check_keyword(keyword: &str, args: &[String], ignore: Option<&str>) -> Result<(), String> {
    if let Some(rest) = keyword.strip_prefix('\u{feff}') {
        return Err(format!(
            "the file starts with a UTF-8 byte-order mark before '{rest}', which ssh refuses \
             too; save it without one"
        ));
    }
    if ignore.is_some_and(|list| match_list(split_list(list), keyword).matched()) {
        return Ok(());
    }
    if !keywords::is_known(keyword) {
        return Err(format!(
            "unknown keyword '{keyword}' (not an ssh_config keyword; \
             IgnoreUnknown lists keywords to skip)"
        ));
    }
    if args.is_empty() {
        return Err(format!("{keyword} needs a value"));
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Place<'a> {
    file: &'a Path,
    line: usize,
}

impl Place<'_> {
    fn locate<T>(self, value: T) -> Located<T> {
        Located {
            value,
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }
}

/// `Host` patterns compare exactly: `Host web1` is not applied to `WEB1`
/// (OpenSSH's readconf.c uses match_pattern here, not match_hostname). The
/// final pass matches the lowercased host name.
fn host_matches(patterns: &[String], host: &str) -> bool {
    match_list(patterns.iter().map(String::as_str), host).matched()
}

fn include_paths(args: &[String], dir: &Path, local: &LocalUser) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    for arg in args {
        let arg = expand::env_vars(&expand::tilde(arg, &local.home)?)?;
        let pattern = if Path::new(&arg).is_absolute() {
            arg
        } else {
            dir.join(arg).display().to_string()
        };
        let mut matched: Vec<PathBuf> = glob::glob(&pattern)
            .map_err(|e| format!("bad Include pattern '{pattern}': {e}"))?
            .filter_map(Result::ok)
            .collect();
        matched.sort();
        paths.extend(matched);
    }
    Ok(paths)
}

fn one(keyword: &str, args: &[String]) -> Result<String, String> {
    match args {
        [value] => Ok(value.clone()),
        [] => Err(format!("{keyword} needs a value")),
        [_, extra, ..] => Err(format!("{keyword}: unexpected '{extra}'")),
    }
}

fn flag(keyword: &str, args: &[String]) -> Result<bool, String> {
    match one(keyword, args)?.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        other => Err(format!("{keyword}: expected yes or no, got '{other}'")),
    }
}

fn port(keyword: &str, args: &[String]) -> Result<u16, String> {
    let value = one(keyword, args)?;
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{keyword}: bad port '{value}'"))
}

/// OpenSSH time format: `30`, `30s`, `1m30s`, `2h`, `1d`, `1w`.
pub(crate) fn parse_time(value: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        total = total.checked_add(number.parse().ok()?)?;
    } else if value.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

fn time(keyword: &str, args: &[String]) -> Result<Duration, String> {
    let value = one(keyword, args)?;
    parse_time(&value).ok_or_else(|| format!("{keyword}: bad time '{value}'"))
}

/// Add `file` to an accumulating list (`IdentityFile`, `CertificateFile`),
/// once: ssh keeps every value, first given first.
fn add_file(files: &mut Vec<Located<String>>, file: String, place: Place<'_>) {
    if !files.iter().any(|f| f.value == file) {
        files.push(place.locate(file));
    }
}

fn apply(
    keyword: &str,
    args: Vec<String>,
    place: Place<'_>,
    opts: &mut Options,
) -> Result<(), String> {
    match keyword {
        "hostname" => first(&mut opts.hostname, one(keyword, &args)?),
        "user" => first(&mut opts.user, one(keyword, &args)?),
        "port" => first(&mut opts.port, port(keyword, &args)?),
        "identityfile" => add_file(&mut opts.identity_files, one(keyword, &args)?, place),
        "certificatefile" => add_file(&mut opts.certificate_files, one(keyword, &args)?, place),
        "identitiesonly" => first(&mut opts.identities_only, flag(keyword, &args)?),
        "identityagent" => first(&mut opts.identity_agent, place.locate(one(keyword, &args)?)),
        "forwardagent" => first(&mut opts.forward_agent, place.locate(one(keyword, &args)?)),
        "proxyjump" => {
            let value = one(keyword, &args)?;
            if opts.proxy_command.is_none() {
                first(&mut opts.proxy_jump, place.locate(value));
            }
        }
        "proxycommand" => {
            let value = args.join(" ");
            if value.is_empty() {
                return Err("ProxyCommand needs a value".into());
            }
            if opts.proxy_jump.is_none() {
                first(&mut opts.proxy_command, place.locate(value));
            }
        }
        "userknownhostsfile" | "globalknownhostsfile" => {
            if args.is_empty() {
                return Err(format!("{keyword} needs a value"));
            }
            let slot = if keyword == "userknownhostsfile" {
                &mut opts.user_known_hosts
            } else {
                &mut opts.global_known_hosts
            };
            first(slot, place.locate(args));
        }
        "stricthostkeychecking" => {
            let value = one(keyword, &args)?;
            let strict = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => StrictHostKeyChecking::Yes,
                "no" | "false" | "off" => StrictHostKeyChecking::No,
                "ask" => StrictHostKeyChecking::Ask,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                _ => return Err(format!("StrictHostKeyChecking: bad value '{value}'")),
            };
            first(&mut opts.strict, strict);
        }
        "hashknownhosts" => first(&mut opts.hash_known_hosts, flag(keyword, &args)?),
        "hostkeyalias" => first(&mut opts.host_key_alias, one(keyword, &args)?),
        "connecttimeout" => {
            let value = one(keyword, &args)?;
            // `none` leaves the option unset, so a later line may still set it.
            if !value.eq_ignore_ascii_case("none") {
                first(&mut opts.connect_timeout, time(keyword, &args)?);
            }
        }
        "serveraliveinterval" => first(&mut opts.server_alive_interval, time(keyword, &args)?),
        "serveralivecountmax" => {
            let value = one(keyword, &args)?;
            let count = value
                .parse()
                .map_err(|_| format!("ServerAliveCountMax: bad number '{value}'"))?;
            first(&mut opts.server_alive_count_max, count);
        }
        "ciphers"
        | "kexalgorithms"
        | "hostkeyalgorithms"
        | "macs"
        | "pubkeyacceptedalgorithms"
        | "pubkeyacceptedkeytypes" => {
            let (kind, slot) = match keyword {
                "ciphers" => (Kind::Cipher, &mut opts.ciphers),
                "kexalgorithms" => (Kind::Kex, &mut opts.kex_algorithms),
                "hostkeyalgorithms" => (Kind::HostKey, &mut opts.host_key_algorithms),
                "macs" => (Kind::Mac, &mut opts.macs),
                _ => (Kind::PubkeyAccepted, &mut opts.pubkey_accepted_algorithms),
            };
            let value = one(keyword, &args)?;
            // As ssh does, a value is checked where it is read.
            algorithm_list(kind, &value)?;
            first(slot, place.locate(value));
        }
        "tag" => first(&mut opts.tag, one(keyword, &args)?),
        "canonicalizehostname"
        | "canonicaldomains"
        | "canonicalizemaxdots"
        | "canonicalizefallbacklocal"
        | "canonicalizepermittedcnames" => apply_canonical(keyword, &args, place, opts)?,
        _ => {}
    }
    Ok(())
}

/// The host name canonicalization keywords (see [`canonical`]).
fn apply_canonical(
    keyword: &str,
    args: &[String],
    place: Place<'_>,
    opts: &mut Options,
) -> Result<(), String> {
    match keyword {
        "canonicalizehostname" => {
            let mode = canonical::Mode::parse(&one(keyword, args)?)?;
            first(&mut opts.canonicalize, place.locate(mode));
        }
        "canonicaldomains" => {
            let domains = args.iter().map(|d| d.to_ascii_lowercase()).collect();
            first(&mut opts.canonical_domains, domains);
        }
        "canonicalizemaxdots" => {
            let value = one(keyword, args)?;
            let dots = value
                .parse()
                .map_err(|_| format!("CanonicalizeMaxDots: bad number '{value}'"))?;
            first(&mut opts.canonicalize_max_dots, dots);
        }
        "canonicalizefallbacklocal" => {
            first(&mut opts.canonicalize_fallback_local, flag(keyword, args)?);
        }
        "canonicalizepermittedcnames" => {
            let rules = canonical::permitted_cnames(args)?;
            first(&mut opts.permitted_cnames, place.locate(rules));
        }
        _ => {}
    }
    Ok(())
}

/// Evaluate a `Match` line against the options read so far.
fn match_line(args: &[String], pass: &mut Pass<'_>, opts: &Options) -> Result<bool, String> {
    if args.is_empty() {
        return Err("Match needs criteria".into());
    }
    let mut result = true;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let (negate, criterion) = match word.strip_prefix('!') {
            Some(c) => (true, c.to_ascii_lowercase()),
            None => (false, word.to_ascii_lowercase()),
        };
        let matched = match criterion.as_str() {
            "all" => true,
            "canonical" | "final" => {
                if criterion == "final" {
                    pass.wants_final = true;
                }
                pass.is_final
            }
            _ => {
                let arg = words
                    .next()
                    .ok_or_else(|| format!("Match {criterion} needs an argument"))?;
                match criterion.as_str() {
                    "host" => {
                        let host = if pass.is_final {
                            pass.host_arg.clone()
                        } else {
                            current_hostname(opts, pass.original_host)?
                        };
                        match_host_list(split_list(arg), &host).matched()
                    }
                    "originalhost" => {
                        match_host_list(split_list(arg), pass.original_host).matched()
                    }
                    "user" => {
                        let user = opts.user.as_deref().unwrap_or(&pass.local.name);
                        match_list(split_list(arg), user).matched()
                    }
                    "localuser" => match_list(split_list(arg), &pass.local.name).matched(),
                    "tagged" => {
                        let tag = opts.tag.as_deref().unwrap_or("");
                        match_list(split_list(arg), tag).matched()
                    }
                    "localnetwork" => local_network_matches(arg)?,
                    "exec" => {
                        // Like ssh, skip the command once the line can no longer match.
                        if !result {
                            continue;
                        }
                        run_exec(arg, pass, opts)?
                    }
                    other => {
                        return Err(format!(
                            "Match criterion '{other}' is not supported by roadie; \
                             rewrite this block with Host, or use -F with a simpler file"
                        ));
                    }
                }
            }
        };
        if matched == negate {
            result = false;
        }
    }
    Ok(result)
}

fn run_exec(command: &str, pass: &Pass<'_>, opts: &Options) -> Result<bool, String> {
    let host = current_hostname(opts, pass.original_host)?;
    let user = opts.user.clone().unwrap_or_else(|| pass.local.name.clone());
    let tokens = Tokens {
        original_host: pass.original_host,
        host: &host,
        port: opts.port.unwrap_or(22),
        remote_user: &user,
        host_key_alias: opts.host_key_alias.as_deref().unwrap_or(&host),
        jump: opts.proxy_jump.as_ref().map_or("", |j| j.value.as_str()),
        local: pass.local,
    };
    let command = expand::percent_shell(command, &tokens)?;
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("Match exec '{command}': {e}"))?;
    Ok(status.success())
}

fn local_network_matches(list: &str) -> Result<bool, String> {
    let networks = split_list(list)
        .map(parse_cidr)
        .collect::<Result<Vec<_>, _>>()?;
    let addresses = nix::ifaddrs::getifaddrs().map_err(|e| format!("Match localnetwork: {e}"))?;
    for interface in addresses {
        let Some(address) = interface.address else {
            continue;
        };
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if networks
            .iter()
            .any(|(net, bits)| in_network(ip, *net, *bits))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, bits) = s
        .split_once('/')
        .ok_or_else(|| format!("Match localnetwork: '{s}' is not in CIDR form (address/bits)"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("Match localnetwork: bad address in '{s}'"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max)
        .ok_or_else(|| format!("Match localnetwork: bad prefix length in '{s}'"))?;
    Ok((addr, bits))
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (ip >> shift) == (net >> shift)
}

fn finish(opts: &Options, original: &str, local: &LocalUser) -> Result<HostConfig, ConfigError> {
    let fail = |file: &Path, line: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let hostname = current_hostname(opts, original)
        .map(|h| canonical_hostname(&h))
        .map_err(|m| fail(Path::new("HostName"), 0, m))?;
    // ssh lowercases HostKeyAlias too, before it is used or expanded.
    let host_key_alias = opts.host_key_alias.as_deref().map(str::to_ascii_lowercase);
    let user = opts.user.clone().unwrap_or_else(|| local.name.clone());
    let port = opts.port.unwrap_or(22);
    let proxy_jump: Vec<String> = match &opts.proxy_jump {
        Some(j) if !j.value.eq_ignore_ascii_case("none") => {
            j.value.split(',').map(str::to_owned).collect()
        }
        _ => Vec::new(),
    };
    let jump = opts
        .proxy_jump
        .as_ref()
        .map_or(String::new(), |j| j.value.clone());
    let tokens = Tokens {
        original_host: original,
        host: &hostname,
        port,
        remote_user: &user,
        host_key_alias: host_key_alias.as_deref().unwrap_or(&hostname),
        jump: &jump,
        local,
    };
    let expand_path = |l: &Located<String>| -> Result<PathBuf, ConfigError> {
        expand::path(&l.value, &tokens).map_err(|m| fail(&l.file, l.line, m))
    };
    let identity_files = opts
        .identity_files
        .iter()
        .map(expand_path)
        .collect::<Result<Vec<_>, _>>()?;
    let certificate_files = opts
        .certificate_files
        .iter()
        .map(expand_path)
        .collect::<Result<Vec<_>, _>>()?;
    let identity_agent = match &opts.identity_agent {
        None => None,
        Some(l) if l.value.eq_ignore_ascii_case("none") => Some(None),
        Some(l) if l.value == "SSH_AUTH_SOCK" => None,
        Some(l) => Some(Some(expand_path(l)?)),
    };
    let forward_agent = opts
        .forward_agent
        .as_ref()
        .map(|l| forward_agent(l, &tokens))
        .transpose()?;
    let known_hosts =
        |files: &Option<Located<Vec<String>>>| -> Result<Option<Vec<PathBuf>>, ConfigError> {
            let Some(l) = files else { return Ok(None) };
            if l.value.len() == 1 && l.value[0].eq_ignore_ascii_case("none") {
                return Ok(Some(Vec::new()));
            }
            l.value
                .iter()
                .map(|f| expand::path(f, &tokens).map_err(|m| fail(&l.file, l.line, m)))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
    Ok(HostConfig {
        original_host: original.to_owned(),
        user_known_hosts_files: known_hosts(&opts.user_known_hosts)?,
        global_known_hosts_files: known_hosts(&opts.global_known_hosts)?,
        hostname,
        user,
        port,
        identity_files,
        certificate_files,
        identities_only: opts.identities_only.unwrap_or(false),
        identity_agent,
        proxy_jump,
        proxy_command: opts
            .proxy_command
            .clone()
            .filter(|c| !c.value.eq_ignore_ascii_case("none")),
        strict_host_key_checking: opts.strict,
        forward_agent,
        hash_known_hosts: opts.hash_known_hosts.unwrap_or(false),
        host_key_alias,
        connect_timeout: opts.connect_timeout,
        server_alive_interval: opts.server_alive_interval,
        server_alive_count_max: opts.server_alive_count_max,
        ciphers: located_list(Kind::Cipher, opts.ciphers.as_ref())?.map(|l| l.offered),
        kex_algorithms: located_list(Kind::Kex, opts.kex_algorithms.as_ref())?,
        host_key_algorithms: located_list(Kind::HostKey, opts.host_key_algorithms.as_ref())?,
        macs: located_list(Kind::Mac, opts.macs.as_ref())?,
        pubkey_accepted_algorithms: located_list(
            Kind::PubkeyAccepted,
            opts.pubkey_accepted_algorithms.as_ref(),
        )?,
    })
}

/// `ForwardAgent yes|no|PATH|$VAR`, the path expanded as a file name.
fn forward_agent(l: &Located<String>, tokens: &Tokens<'_>) -> Result<ForwardAgent, ConfigError> {
    let fail = |message: String| ConfigError {
        file: l.file.clone(),
        line: l.line,
        message,
    };
    Ok(match l.value.to_ascii_lowercase().as_str() {
        "yes" | "true" => ForwardAgent::Yes,
        "no" | "false" => ForwardAgent::No,
        _ => ForwardAgent::Socket(match l.value.strip_prefix('$') {
            Some(name) => std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| {
                    fail(format!(
                        "ForwardAgent: environment variable {name} is not set"
                    ))
                })?,
            None => expand::path(&l.value, tokens).map_err(fail)?,
        }),
    })
}

/// What roadie makes of an algorithm keyword's `spec`: OpenSSH's list and
/// those of it roadie offers. Refused: what ssh refuses, a list of which
/// roadie implements nothing, and for `Ciphers` any cipher roadie does not
/// implement (a cipher list is short and usually written for a reason).
fn algorithm_list(kind: Kind, spec: &str) -> Result<AlgorithmList, String> {
    let keyword = kind.keyword();
    let resolved = algorithms::resolve(kind, spec)?;
    if kind == Kind::Cipher
        && let Some(name) = resolved.unimplemented.first()
    {
        return Err(format!(
            "Ciphers: roadie does not implement '{name}'; remove it from the list"
        ));
    }
    let offered: Vec<String> = resolved
        .openssh
        .iter()
        .filter(|n| kind.implemented(n))
        .cloned()
        .collect();
    if offered.is_empty() {
        return Err(format!(
            "{keyword} {spec}: roadie implements none of {}; name one it does ({})",
            resolved.openssh.join(", "),
            kind.known_implemented().join(", ")
        ));
    }
    Ok(AlgorithmList {
        openssh: resolved.openssh,
        offered,
        left_out: resolved.unimplemented,
        file: PathBuf::new(),
        line: 0,
    })
}

fn located_list(
    kind: Kind,
    value: Option<&Located<String>>,
) -> Result<Option<AlgorithmList>, ConfigError> {
    value
        .map(|l| {
            let at = |message| ConfigError {
                file: l.file.clone(),
                line: l.line,
                message,
            };
            algorithm_list(kind, &l.value)
                .map_err(at)
                .map(|list| AlgorithmList {
                    file: l.file.clone(),
                    line: l.line,
                    ..list
                })
        })
        .transpose()
}

/// What the user should know about `config`'s algorithm lists, each with
/// the file and line: names roadie leaves out, and SHA-1 RSA signatures
/// (`ssh-rsa`), which OpenSSH no longer allows by default, allowed.
pub fn algorithm_warnings(config: &HostConfig) -> Vec<String> {
    let lists = [
        (Kind::Kex, &config.kex_algorithms),
        (Kind::HostKey, &config.host_key_algorithms),
        (Kind::Mac, &config.macs),
        (Kind::PubkeyAccepted, &config.pubkey_accepted_algorithms),
    ];
    let mut warnings = Vec::new();
    for (kind, list) in lists {
        let Some(list) = list else { continue };
        let at = format!("{}:{}: {}", list.file.display(), list.line, kind.keyword());
        if !list.left_out.is_empty() {
            warnings.push(format!(
                "{at}: roadie does not implement {}; left out, the others are offered",
                list.left_out.join(", ")
            ));
        }
        let sha1: Vec<&str> = list
            .offered
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with("ssh-rsa"))
            .collect();
        if !sha1.is_empty() {
            warnings.push(format!(
                "{at} allows {} (RSA signatures with SHA-1, which OpenSSH no longer allows \
                 by default): roadie uses it for this host only because this line asks; \
                 remove it once the device is upgraded",
                sha1.join(", ")
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn local() -> LocalUser {
        expand::test_user()
    }

    fn resolve_file(path: &Path) -> HostConfig {
        resolve(
            &ConfigFiles::explicit(path),
            "x",
            &Preset::default(),
            &local(),
        )
        .unwrap()
    }

    /// A resolver that knows only `web.staging.example` (never the system's).
    fn lookup(name: &str) -> Option<String> {
        (name == "web.staging.example." || name == "web.staging.example").then(String::new)
    }

    fn resolve_text(text: &str, host: &str, preset: &Preset) -> Result<HostConfig, ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        resolve_with(
            &ConfigFiles::explicit(file.path()),
            host,
            preset,
            &local(),
            &lookup,
        )
    }

    #[test]
    fn canonicalized_name_is_read_again_with_match_canonical() {
        let text = "CanonicalizeHostname yes\nCanonicalDomains other.example staging.example\n\
                    Host web\n  Port 2200\nHost *.staging.example\n  User deploy\n\
                    Match canonical host web.staging.example\n  IdentityFile ~/.ssh/%h\n";
        let c = resolve_text(text, "WEB", &Preset::default()).unwrap();
        assert_eq!(c.hostname, "web.staging.example");
        assert_eq!(c.user, "deploy");
        // `Host web` compared exactly with the name given: not applied.
        assert_eq!(c.port, 22);
        assert_eq!(
            c.identity_files,
            [PathBuf::from("/home/alice/.ssh/web.staging.example")]
        );
        // Not found, fallback off: an error naming the line that asked.
        let strict = format!("CanonicalizeFallbackLocal no\n{text}");
        let e = resolve_text(&strict, "db", &Preset::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("cannot resolve host 'db'"), "{e}");
        // Behind a ProxyJump, `yes` leaves the name alone.
        let c = resolve_text(&format!("ProxyJump j\n{text}"), "web", &Preset::default()).unwrap();
        assert_eq!(c.hostname, "web");
        let e =
            resolve_text("CanonicalizeHostname sometimes\n", "x", &Preset::default()).unwrap_err();
        assert!(e.message.contains("expected yes, no or always"), "{e}");
    }

    #[test]
    fn first_value_wins_and_host_patterns_apply() {
        let c = resolve_text(
            "Host web*\n  HostName %h.example.org\n  User deploy\n  Port 2222\nHost *\n  User other\n  Port 22\n",
            "web1",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(c.hostname, "web1.example.org");
        assert_eq!((c.user.as_str(), c.port), ("deploy", 2222));
        let c = resolve_text(
            "Host web* !web3\n  User deploy\n",
            "web3",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(c.user, "alice");
    }

    #[test]
    fn preset_wins_and_match_user_sees_it() {
        let preset = Preset {
            user: Some("ci".into()),
            port: Some(2200),
            ..Preset::default()
        };
        let c = resolve_text(
            "Match user ci\n  IdentityFile ~/.ssh/ci_%r\nHost *\n  User nobody\n  Port 1\n",
            "h",
            &preset,
        )
        .unwrap();
        assert_eq!((c.user.as_str(), c.port), ("ci", 2200));
        assert_eq!(c.identity_files, [PathBuf::from("/home/alice/.ssh/ci_ci")]);
    }

    #[test]
    fn certificate_files_accumulate_with_tokens_as_identity_files_do() {
        let c = resolve_text(
            "Host web\n  CertificateFile ~/.ssh/%r-cert.pub\n  CertificateFile /etc/ca/%h.pub\nHost *\n  CertificateFile /etc/ca/%h.pub\n  CertificateFile ~/.ssh/other-cert.pub\n",
            "web",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(
            c.certificate_files,
            [
                PathBuf::from("/home/alice/.ssh/alice-cert.pub"),
                PathBuf::from("/etc/ca/web.pub"),
                PathBuf::from("/home/alice/.ssh/other-cert.pub"),
            ]
        );
    }

    #[test]
    fn match_host_uses_hostname_and_is_final_reparses() {
        let text = "Host alias\n  HostName real.example.org\nMatch host real.example.org\n  User viahost\n";
        assert_eq!(
            resolve_text(text, "alias", &Preset::default())
                .unwrap()
                .user,
            "viahost"
        );
        let text = "Match final host real.example.org\n  Port 2022\nHost alias\n  HostName real.example.org\n";
        assert_eq!(
            resolve_text(text, "alias", &Preset::default())
                .unwrap()
                .port,
            2022
        );
        let text = "Match !final\n  Port 1\nMatch final\n  Port 2\n";
        assert_eq!(resolve_text(text, "x", &Preset::default()).unwrap().port, 1);
    }

    #[test]
    fn match_exec_and_unsupported_things_are_explicit() {
        let c = resolve_text(
            "Match exec \"test %h = x\"\n  User yes\n",
            "x",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(c.user, "yes");
        let c = resolve_text("Match exec false\n  User yes\n", "x", &Preset::default()).unwrap();
        assert_eq!(c.user, "alice");
        let e = resolve_text("Match address 1.2.3.4\n", "x", &Preset::default()).unwrap_err();
        assert!(e.message.contains("address"), "{e}");
    }

    #[test]
    fn proxy_command_is_read_as_written_and_expanded_as_ssh_does() {
        let text = "Host web\n  HostName 10.0.0.5\n  User deploy\n  Port 2222\n  \
                    ProxyCommand  nc -X connect %h %p # %r %n %k %%\n  ProxyJump ignored\n";
        let c = resolve_text(text, "web", &Preset::default()).unwrap();
        assert!(c.proxy_jump.is_empty());
        let written = c.proxy_command.as_ref().unwrap();
        assert_eq!(written.value, "nc -X connect %h %p # %r %n %k %%");
        assert_eq!(written.line, 5);
        assert_eq!(
            proxy_command(&c, |s| format!("'{s}'")).unwrap().unwrap(),
            "nc -X connect 10.0.0.5 2222 # deploy web web %"
        );
        // `none`, a ProxyJump read first, or a preset command: no ProxyCommand from the file.
        let c = resolve_text("ProxyCommand none\n", "x", &Preset::default()).unwrap();
        assert_eq!(c.proxy_command, None);
        let c = resolve_text(
            "ProxyJump j\nProxyCommand nc %h %p\n",
            "x",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!((c.proxy_jump.len(), c.proxy_command), (1, None));
        let preset = Preset {
            proxy_command: Some(Located {
                value: "relay %h".into(),
                file: "roadie.yaml".into(),
                line: 3,
            }),
            ..Preset::default()
        };
        let c = resolve_text("ProxyJump j\nProxyCommand nc %h %p\n", "x", &preset).unwrap();
        assert!(c.proxy_jump.is_empty());
        assert_eq!(
            proxy_command(&c, str::to_owned).unwrap().unwrap(),
            "relay x"
        );
        // An unknown token names the line.
        let c = resolve_text("\nProxyCommand nc %d\n", "x", &Preset::default()).unwrap();
        let e = proxy_command(&c, str::to_owned).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown token %d"), "{e}");
        assert!(check_proxy_command("nc %h %p %%").is_ok());
        assert!(check_proxy_command("nc %u").is_err());
    }

    #[test]
    fn forward_agent_values() {
        let agent = |value: &str| {
            resolve_text(&format!("ForwardAgent {value}\n"), "x", &Preset::default())
                .map(|c| c.forward_agent)
        };
        assert_eq!(agent("yes").unwrap(), Some(ForwardAgent::Yes));
        assert_eq!(agent("No").unwrap(), Some(ForwardAgent::No));
        assert_eq!(
            agent("~/agent.%r").unwrap(),
            Some(ForwardAgent::Socket("/home/alice/agent.alice".into()))
        );
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            agent("$PATH").unwrap(),
            Some(ForwardAgent::Socket(path.into()))
        );
        let e = agent("$ROADIE_SURELY_UNSET_VAR").unwrap_err();
        assert!(e.message.contains("ROADIE_SURELY_UNSET_VAR"), "{e}");
        assert_eq!(
            resolve_text("", "x", &Preset::default())
                .unwrap()
                .forward_agent,
            None
        );
    }

    #[test]
    fn host_names_are_lowercased_like_ssh() {
        assert_eq!(canonical_hostname("WEB1.Example.ORG"), "web1.example.org");
        assert_eq!(canonical_hostname("10.0.0.1"), "10.0.0.1");
        assert_eq!(canonical_hostname("FE80:0::1"), "fe80::1");
        assert_eq!(canonical_hostname("::FFFF:127.0.0.1"), "::FFFF:127.0.0.1");
        assert_eq!(canonical_hostname("FE80::1%ETH0"), "FE80::1%ETH0");
        let text = "Host Alias\n  HostName Real.Example.ORG\n  HostKeyAlias Key.Example.ORG\n  IdentityFile ~/%h-%k\n";
        let c = resolve_text(text, "Alias", &Preset::default()).unwrap();
        assert_eq!(c.original_host, "Alias");
        assert_eq!(c.hostname, "real.example.org");
        assert_eq!(c.host_key_alias.as_deref(), Some("key.example.org"));
        assert_eq!(
            c.identity_files,
            [PathBuf::from(
                "/home/alice/real.example.org-key.example.org"
            )]
        );
        // `Host` compares exactly, as in ssh; the name is lowercased anyway.
        let c = resolve_text(text, "ALIAS", &Preset::default()).unwrap();
        assert_eq!((c.hostname.as_str(), c.host_key_alias), ("alias", None));
    }

    #[test]
    fn final_pass_sees_the_lowercased_host_name() {
        let text = "Host alias\n  HostName WEB.Example.ORG\nHost web.example.org\n  Port 2200\nMatch final exec \"test %h = web.example.org\"\n  User lowered\n";
        let c = resolve_text(text, "alias", &Preset::default()).unwrap();
        assert_eq!((c.port, c.user.as_str()), (2200, "lowered"));
        // HostName in the final pass changes nothing: the name is settled.
        let text = "Match final\n  HostName other\n";
        let c = resolve_text(text, "X", &Preset::default()).unwrap();
        assert_eq!(c.hostname, "x");
    }

    #[test]
    fn match_exec_refuses_a_host_name_that_would_run_something() {
        let dir = tempfile::tempdir().unwrap();
        let pwned = dir.path().join("pwned");
        let text = format!(
            "Host evil\n  HostName a$(touch${{IFS}}{})\nMatch exec \"test %h = x\"\n  User y\n",
            pwned.display()
        );
        let e = resolve_text(&text, "evil", &Preset::default()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("%h"), "{e}");
        assert!(!pwned.exists());
    }

    #[test]
    fn localnetwork_matches_loopback() {
        let c = resolve_text(
            "Match localnetwork 127.0.0.0/8\n  User lo\n",
            "x",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(c.user, "lo");
        let e =
            resolve_text("Match localnetwork 127.0.0.1\n", "x", &Preset::default()).unwrap_err();
        assert!(e.message.contains("CIDR"));
    }

    #[test]
    fn include_is_read_in_place_and_scoped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inc.conf"), "Host *\n  User included\n").unwrap();
        let main = dir.path().join("config");
        std::fs::write(
            &main,
            format!(
                "Host nomatch\n  Include {}/*.conf\nHost x\n  Port 7\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let c = resolve_file(&main);
        assert_eq!((c.user.as_str(), c.port), ("alice", 7));
        std::fs::write(
            &main,
            format!(
                "Include {}/inc.conf\nHost x\n  User later\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let c = resolve_file(&main);
        assert_eq!(c.user, "included");
    }

    #[test]
    fn times_and_lists() {
        assert_eq!(parse_time("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_time("x"), None);
        assert_eq!(parse_time(""), None);
        let c = resolve_text(
            "ProxyJump a@j1:2200,j2\nUserKnownHostsFile ~/kh1 /etc/kh2\nConnectTimeout 5\nServerAliveInterval 1m\n",
            "x",
            &Preset::default(),
        )
        .unwrap();
        assert_eq!(c.proxy_jump, ["a@j1:2200", "j2"]);
        assert_eq!(
            c.user_known_hosts_files,
            Some(vec![
                PathBuf::from("/home/alice/kh1"),
                PathBuf::from("/etc/kh2")
            ])
        );
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.server_alive_interval, Some(Duration::from_secs(60)));
    }

    #[test]
    fn ciphers_as_openssh_reads_them() {
        let ciphers = |spec: &str| {
            resolve_text(&format!("Ciphers {spec}\n"), "x", &Preset::default())
                .map(|c| c.ciphers.unwrap())
        };
        assert_eq!(
            ciphers("aes128-gcm@openssh.com,aes256-ctr").unwrap(),
            ["aes128-gcm@openssh.com", "aes256-ctr"]
        );
        let front = ciphers("^aes128-gcm@openssh.com").unwrap();
        assert_eq!(front[0], "aes128-gcm@openssh.com");
        assert!(front.contains(&"chacha20-poly1305@openssh.com".to_owned()));
        let without = ciphers("-chacha20*,aes*-ctr").unwrap();
        assert_eq!(
            without,
            ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
        );
        let more = ciphers("+aes128-cbc").unwrap();
        assert_eq!(more.last().unwrap(), "aes128-cbc");
        // Known to OpenSSH but not implemented: refused, not left out.
        let refused = ciphers("3des-cbc,aes256-ctr").unwrap_err();
        assert!(
            refused.message.contains("does not implement '3des-cbc'"),
            "{refused}"
        );
        let refused = ciphers("none").unwrap_err();
        assert!(
            refused.message.contains("unknown cipher 'none'"),
            "{refused}"
        );
        assert_eq!(refused.line, 1);
        assert!(ciphers("-*").is_err());
    }

    #[test]
    fn cidr() {
        assert!(in_network(
            "10.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(!in_network(
            "11.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(in_network("::1".parse().unwrap(), "::".parse().unwrap(), 0));
    }
}
