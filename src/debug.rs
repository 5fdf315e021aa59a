//! Finding debugger sessions that wait for a client on a server: listening
//! sockets of processes that run remote-pdb, web-pdb or debugpy (its
//! adapter's port for editors), read from `/proc` with POSIX tools only (sh,
//! grep, awk, readlink), and the pytest shim.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::command::RemoteCommand;
use crate::debug_publish::Record;
use crate::error::Error;
pub(crate) use crate::event::{Kind, Waiting};
use crate::ssh::Session;

/// The pytest shim (`--pdbcls=roadie_pdb:RemotePdb`), uploaded by
/// `roadie debug -- pytest ...` as `roadie_pdb.py`; the Python package's
/// `roadie.remote_pdb`, which its pytest plugin's `--roadie-pdb` uses.
pub(crate) const SHIM: &str = include_str!("../python/roadie/remote_pdb.py");

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::RemotePdb => "remote-pdb",
            Kind::WebPdb => "web-pdb",
            Kind::Debugpy => "debugpy",
        })
    }
}

impl Waiting {
    /// Listening on every interface: reachable from outside the server.
    pub(crate) fn exposed(&self) -> bool {
        self.address.is_unspecified()
    }

    /// Where to connect on the server to reach it.
    pub(crate) fn reach(&self) -> String {
        if self.address.is_unspecified() || self.address.is_loopback() {
            "127.0.0.1".to_owned()
        } else {
            self.address.to_string()
        }
    }
}

/// Where a session seen waiting before is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Listening for a client.
    Waiting,
    /// A remote-pdb session serving its one client: it stopped listening,
    /// but its process holds a connection on the port it listened on.
    Attached,
    /// Its process is gone, or it has no socket on that port at all.
    Ended,
}

/// What the discovery script found on a server.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Sessions waiting for a client.
    pub waiting: Vec<Waiting>,
    /// `(pid, local port)` of every connected socket of a debugger process.
    pub connected: Vec<(u32, u16)>,
    /// `(pid, port, how)` of the sessions the shim noted as ended, and how
    /// (`continue`, `quit`, `timeout`).
    pub ended: Vec<(u32, u16, String)>,
    /// Sessions published here from hosts nobody can reach (see
    /// [`crate::debug_publish`]), whose socket is there.
    pub published: Vec<Record>,
}

impl Found {
    /// The state now of the session `seen` waiting before.
    pub(crate) fn state_of(&self, seen: &Waiting) -> State {
        let key = (seen.pid, seen.port);
        if self.waiting.iter().any(|w| (w.pid, w.port) == key) {
            State::Waiting
        } else if seen.kind == Kind::RemotePdb && self.connected.contains(&key) {
            // web-pdb listens as long as its server runs: once that stops,
            // its session has ended, whatever connections linger.
            State::Attached
        } else {
            State::Ended
        }
    }

    /// How the session `seen` ended, if its shim noted it.
    pub(crate) fn how_ended(&self, seen: &Waiting) -> Option<&str> {
        self.ended
            .iter()
            .find(|(pid, port, _)| (*pid, *port) == (seen.pid, seen.port))
            .map(|(_, _, how)| how.as_str())
    }
}

/// The discovery script. Its own text never contains the markers it looks
/// for, so it does not find itself. One line per socket of a debugger
/// process: `PID<TAB>KIND<TAB>STATE<TAB>HEXADDR:HEXPORT<TAB>TEST<TAB>WORKER<TAB>CWD<TAB>COMMAND`,
/// STATE `listen` or `connected`; and one per session the shim noted as
/// ended: `PID<TAB>remote-pdb<TAB>ended<TAB>PORT<TAB>HOW<TAB><TAB><TAB>COMMAND`;
/// and one per session published to the login user's
/// `~/.roadie/debug/` whose socket exists: `published<TAB>RECORD`.
/// Of debugpy, only its adapter's port for clients: the `--port` it was
/// given, or (for port 0) the one it listened on first, as the adapter
/// opens the clients' listener before the debuggees'.
/// The shim's notes (`/tmp/roadie-pdb-PID-PORT.json`) name their process
/// too, so a debugger started from an ini file (no marker in its command
/// line or environment) is found as well.
const DISCOVER: &str = r#"
r=remote; w=web; p=pdb; P=PDB; d=debug
markers="${r}_${p}|RemotePdb|${r}-${p}|${w}_${p}|WebPdb|${w}-${p}|roadie_${p}|roadie-${p}|REMOTE_${P}|WEB_${P}|ROADIE_${P}|${d}py/adapter"
sockets=$(awk 'FNR > 1 && $10 != 0 { print $10, ($4 == "0A" ? "listen" : "connected"), $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
for record in "$HOME"/.roadie/debug/*.json; do
  [ -r "$record" ] && [ -S "${record%.json}.sock" ] || continue
  printf 'published\t%s\n' "$(tr -d '\n' < "$record")"
done
field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2"; }
noted=$(for note in /tmp/roadie-${p}-*-*.json; do [ -r "$note" ] && echo "$note"; done | sed -n 's|^/tmp/roadie-[a-z]*-\([0-9]*\)-[0-9]*\.json$|\1|p')
pids=$({ grep -l -a -E "$markers" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3; printf '%s\n' $noted; } | sort -u)
for pid in $pids; do
  [ "$pid" = "$$" ] && continue
  command=$(tr '\0' ' ' 2>/dev/null < /proc/$pid/cmdline) || continue
  # Only Python runs these debuggers (a marker can be in anyone's environment).
  case "${command%% *}" in *python*|*pytest*) ;; *) continue ;; esac
  for note in /tmp/roadie-${p}-$pid-*.json; do
    [ -r "$note" ] || continue
    how=$(field ended "$note")
    [ -n "$how" ] || continue
    port=${note##*-}
    printf '%s\tremote-pdb\tended\t%s\t%s\t\t\t%s\n' "$pid" "${port%.json}" "$how" "$command"
  done
  [ -n "$sockets" ] || continue
  kind=remote-pdb
  want=""
  case "$command" in
    *"${d}py/adapter"*)
      kind=${d}py
      want=$(printf '%s\n' "$command" | sed -n 's/.* --port \([0-9][0-9]*\).*/\1/p')
      [ -n "$want" ] || want=0 ;;
    *)
      if cat /proc/$pid/cmdline /proc/$pid/environ 2>/dev/null | tr '\0' '\n' | grep -q -E "${w}_${p}|WebPdb|${w}-${p}|WEB_${P}"; then
        kind=web-pdb
      fi ;;
  esac
  cwd=$(readlink /proc/$pid/cwd 2>/dev/null)
  inodes=$(ls /proc/$pid/fd 2>/dev/null | sort -n | while read -r fd; do readlink "/proc/$pid/fd/$fd" 2>/dev/null; done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
  [ -n "$inodes" ] || continue
  for inode in $inodes; do
    socket=$(printf '%s\n' "$sockets" | awk -v i="$inode" '$1 == i { print $2, $3; exit }')
    [ -n "$socket" ] || continue
    state=${socket% *}
    address=${socket#* }
    port=$(printf '%d' "0x${address##*:}")
    if [ -n "$want" ]; then
      [ "$state" = listen ] || continue
      [ "$want" = 0 ] || [ "$port" = "$want" ] || continue
    fi
    test=""
    worker=""
    note="/tmp/roadie-${p}-$pid-$port.json"
    if [ "$state" = listen ] && [ -r "$note" ]; then
      test=$(field test "$note")
      worker=$(field worker "$note")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pid" "$kind" "$state" "$address" "$test" "$worker" "$cwd" "$command"
    # The adapter's port for clients, once found, is the one.
    [ -z "$want" ] || break
  done
done
"#;

/// `0100007F:1C20` (as /proc/net/tcp writes it) to an address and a port.
fn parse_socket(text: &str) -> Option<(IpAddr, u16)> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(address, 16).ok()?.swap_bytes(),
        )),
        32 => {
            let mut octets = [0u8; 16];
            for (i, word) in address.as_bytes().chunks(8).enumerate() {
                let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
                octets[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some((address, port))
}

/// The lines the discovery script printed.
pub(crate) fn parse(output: &str) -> Found {
    let mut found = Found::default();
    for line in output.lines() {
        if let Some(record) = line.strip_prefix("published\t") {
            found
                .published
                .extend(serde_json::from_str::<Record>(record).ok());
            continue;
        }
        let fields: Vec<&str> = line.splitn(8, '\t').collect();
        let [pid, kind, state, socket, test, worker, cwd, command] = fields.as_slice() else {
            continue;
        };
        let Ok(pid) = pid.parse() else { continue };
        if *state == "ended" {
            if let Ok(port) = socket.parse() {
                found.ended.push((pid, port, (*test).to_owned()));
            }
            continue;
        }
        let Some((address, port)) = parse_socket(socket) else {
            continue;
        };
        if *state != "listen" {
            found.connected.push((pid, port));
            continue;
        }
        let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        found.waiting.push(Waiting {
            pid,
            kind: match *kind {
                "web-pdb" => Kind::WebPdb,
                "debugpy" => Kind::Debugpy,
                _ => Kind::RemotePdb,
            },
            address,
            port,
            test: given(test),
            worker: given(worker),
            cwd: given(cwd),
            command: command.trim_end().to_owned(),
        });
    }
    found.waiting.sort_by_key(|w| (w.pid, w.port));
    found.waiting.dedup_by_key(|w| (w.pid, w.port));
    found.published.sort_by_key(|r| r.started);
    found
}

/// The debugger sessions on the server `session` reaches.
pub(crate) async fn discover(session: &Session) -> Result<Found, Error> {
    let output = session.run(&RemoteCommand::shell(DISCOVER)).await?;
    if !output.status.success() {
        return Err(Error::Remote {
            host: session.host().label.clone(),
            message: format!(
                "cannot look for debugger sessions: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(parse(&String::from_utf8_lossy(&output.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug_publish::PUBLISHED_DIR;

    #[test]
    fn proc_net_addresses() {
        assert_eq!(
            parse_socket("0100007F:1C20"),
            Some(("127.0.0.1".parse().unwrap(), 7200))
        );
        assert_eq!(
            parse_socket("00000000:15B3"),
            Some(("0.0.0.0".parse().unwrap(), 5555))
        );
        assert_eq!(
            parse_socket("00000000000000000000000001000000:15B3"),
            Some(("::1".parse().unwrap(), 5555))
        );
        assert_eq!(
            parse_socket("00000000000000000000000000000000:15B3"),
            Some(("::".parse().unwrap(), 5555))
        );
        assert_eq!(parse_socket("zz:1"), None);
    }

    #[test]
    fn script_lines() {
        let all = parse(
            "42\tremote-pdb\tlisten\t0100007F:1C20\ttests/test_x.py::test_a (call)\tgw2\t/srv\tpython -m pytest --pdb \n43\tweb-pdb\tlisten\t00000000:15B3\t\t\t\tpython t.py \n44\tremote-pdb\tconnected\t0100007F:1C21\t\t\t\tpython x.py \n45\tremote-pdb\tended\t7205\tcontinue\t\t\tpython y.py \n46\tdebugpy\tlisten\t0100007F:162E\t\t\t/srv/site\tpython .../adapter --port 5678 \nnonsense\npublished\t{\"socket\":\"/h/.roadie/debug/r-9-7.sock\",\"runner\":\"r\",\"pid\":9,\"test\":\"t.py::test_b (call)\",\"started\":5,\"timeout\":60}\npublished\tnot json\n",
        );
        assert_eq!(all.published.len(), 1);
        assert_eq!(all.published[0].pid, 9);
        assert_eq!(
            all.published[0].test.as_deref(),
            Some("t.py::test_b (call)")
        );
        assert!(DISCOVER.contains(&format!("$HOME\"/{PUBLISHED_DIR}/")));
        assert_eq!(all.connected, [(44, 7201)]);
        assert_eq!(all.ended, [(45, 7205, "continue".to_owned())]);
        let found = &all.waiting;
        assert_eq!(found.len(), 3);
        assert_eq!(found[2].kind, Kind::Debugpy);
        assert_eq!(
            (found[2].port, found[2].cwd.as_deref()),
            (5678, Some("/srv/site"))
        );
        assert_eq!(found[0].port, 7200);
        assert_eq!(
            found[0].test.as_deref(),
            Some("tests/test_x.py::test_a (call)")
        );
        assert_eq!(found[0].worker.as_deref(), Some("gw2"));
        assert_eq!(found[1].worker, None);
        assert!(!found[0].exposed());
        assert_eq!(found[1].kind, Kind::WebPdb);
        assert!(found[1].exposed());
        assert_eq!(found[1].reach(), "127.0.0.1");
        for marker in [
            "remote_pdb",
            "roadie-pdb",
            "roadie_pdb",
            "REMOTE_PDB",
            "ROADIE_PDB",
            "debugpy",
        ] {
            assert!(
                !DISCOVER.contains(marker),
                "the script would find itself: {marker}"
            );
        }
    }

    #[test]
    fn attached_and_ended_are_told_apart() {
        let seen = |kind| Waiting {
            pid: 42,
            kind,
            address: "127.0.0.1".parse().unwrap(),
            port: 7200,
            test: None,
            worker: None,
            cwd: None,
            command: "python".into(),
        };
        let remote = seen(Kind::RemotePdb);
        let listening = Found {
            waiting: vec![remote.clone()],
            connected: vec![(42, 7200)],
            ..Found::default()
        };
        assert_eq!(listening.state_of(&remote), State::Waiting);
        let serving = Found {
            waiting: Vec::new(),
            connected: vec![(42, 7200), (42, 5432)],
            ..Found::default()
        };
        assert_eq!(serving.state_of(&remote), State::Attached);
        // The same pid with a connection on another port only: ended.
        let other = Found {
            waiting: Vec::new(),
            connected: vec![(42, 5432), (43, 7200)],
            ended: vec![(42, 7200, "timeout".into())],
            ..Found::default()
        };
        assert_eq!(other.state_of(&remote), State::Ended);
        assert_eq!(other.how_ended(&remote), Some("timeout"));
        assert_eq!(listening.how_ended(&remote), None);
        // web-pdb's server stopped: ended, though a connection lingers.
        assert_eq!(serving.state_of(&seen(Kind::WebPdb)), State::Ended);
    }
}
