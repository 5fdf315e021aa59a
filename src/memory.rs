//! `roadie run --watch-memory`: the resident memory of a command's whole
//! process tree on the server, sampled from `/proc` while it runs (through a
//! second channel on the same connection: nothing is installed there), then
//! its peak, a small plot, and, when the command was killed, whether the
//! kernel's OOM killer did it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use crate::command::{RemoteCommand, quote};
use crate::event::{MemoryReport, Sample};
use crate::ssh::{Chunk, ExitStatus, Session};

/// Where the command writes its shell's pid, for the sampler to find.
fn pid_file() -> String {
    let tag: u64 = rand::random();
    format!("/tmp/.roadie-watch-{tag:016x}")
}

/// `command`, made to say where its process tree starts; the file it says
/// it in.
pub(crate) fn watched(command: &RemoteCommand) -> (RemoteCommand, String) {
    let file = pid_file();
    let mut watched = command.clone();
    // Under sudo the file is root's: given to the login user (SUDO_UID), so
    // that the sampler, running as that user, can remove it from /tmp (whose
    // sticky bit lets only the owner). It appears under its name only once
    // it is theirs: the sampler takes it as soon as it has a pid in it.
    watched.script = format!(
        "printf %s \"$$\" >{part}\n[ -z \"$SUDO_UID\" ] || chown \"$SUDO_UID\" {part} 2>/dev/null\nmv -f {part} {file}\n{}",
        command.script,
        part = quote(&format!("{file}.part")),
        file = quote(&file)
    );
    (watched, file)
}

/// The sampler: waits for the pid file, says `root PID` (so that a process
/// killed before the first sample is still known), then every `interval`
/// sums the resident memory of that process and its descendants, until it
/// is gone. Prints `sample UPTIME KIB COUNT PID,PID,...` lines.
fn sampler_script(file: &str, interval: Duration) -> String {
    format!(
        r#"f={file}; n=0
while [ ! -s "$f" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done
root=$(cat "$f" 2>/dev/null); rm -f "$f"
[ -n "$root" ] || {{ echo "no-pid"; exit 0; }}
echo "root $root"
page=$(getconf PAGESIZE 2>/dev/null || echo 4096)
while [ -e "/proc/$root" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$root/status" 2>/dev/null; do
  up=$(cut -d' ' -f1 /proc/uptime)
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$root" -v page="$page" -v up="$up" '
    {{ pid = $1; rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " "); parent[pid] = f[2]; rss[pid] = f[22] }}
    END {{
      tree[root] = 1; grown = 1
      while (grown) {{ grown = 0; for (p in parent) if (!(p in tree) && (parent[p] in tree)) {{ tree[p] = 1; grown = 1 }} }}
      total = 0; count = 0; list = ""
      for (p in tree) if (p in rss) {{ total += rss[p] * page / 1024; count++; list = list (list == "" ? "" : ",") p }}
      printf "sample %s %d %d %s\n", up, total, count, list
    }}'
  sleep {interval}
done"#,
        file = quote(file),
        interval = interval.as_secs_f64(),
    )
}

/// What the sampler sent.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    start: Option<f64>,
    taken: Vec<Sample>,
    pids: BTreeSet<u32>,
}

impl Samples {
    fn line(&mut self, line: &str) {
        if let Some(root) = line.strip_prefix("root ") {
            self.pids.extend(root.trim().parse::<u32>().ok());
            return;
        }
        let mut words = line.split_whitespace();
        let (Some("sample"), Some(up), Some(kib), Some(count)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return;
        };
        let (Ok(up), Ok(rss_kib), Ok(processes)) = (up.parse::<f64>(), kib.parse(), count.parse())
        else {
            return;
        };
        let start = *self.start.get_or_insert(up);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let at_ms = ((up - start) * 1000.0).round().max(0.0) as u64;
        self.taken.push(Sample {
            at_ms,
            rss_kib,
            processes,
        });
        self.pids.extend(
            words
                .next()
                .unwrap_or_default()
                .split(',')
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
}

/// Sample the tree whose root writes its pid to `file`, on a channel of its
/// own, every `interval`, until the tree is gone, or `ended` (the command
/// has ended) and the sampler has had a moment to notice.
pub(crate) async fn sample(
    session: &Session,
    file: &str,
    interval: Duration,
    ended: impl Future<Output = ()>,
) -> Samples {
    let mut samples = Samples::default();
    let Ok(mut execution) = session
        .start(&RemoteCommand::shell(sampler_script(file, interval)))
        .await
    else {
        return samples;
    };
    let grace = interval * 2 + Duration::from_secs(1);
    let stop = async {
        ended.await;
        tokio::time::sleep(grace).await;
    };
    tokio::pin!(stop);
    let mut partial = String::new();
    loop {
        let chunk = tokio::select! {
            chunk = execution.next() => chunk,
            () = &mut stop => break,
        };
        match chunk {
            Ok(Some(Chunk::Stdout(data))) => {
                partial.push_str(&String::from_utf8_lossy(&data));
                while let Some(newline) = partial.find('\n') {
                    let line: String = partial.drain(..=newline).collect();
                    samples.line(&line);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    samples
}

/// The report on what `samples` saw of a command that ended with `status`.
pub(crate) async fn report(
    session: &Session,
    samples: Samples,
    interval: Duration,
    status: Option<&ExitStatus>,
) -> MemoryReport {
    let peak = samples.taken.iter().max_by_key(|s| s.rss_kib).copied();
    let mut report = MemoryReport {
        interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        peak_kib: peak.map_or(0, |p| p.rss_kib),
        peak_at_ms: peak.map_or(0, |p| p.at_ms),
        samples: samples.taken,
        oom_kill: None,
        oom_unknown: None,
    };
    let killed = status.is_some_and(|s| s.signal.as_deref() == Some("KILL") || s.code == Some(137));
    if killed {
        match oom_kill_of(session, &samples.pids).await {
            Ok(found) => report.oom_kill = found,
            Err(why) => report.oom_unknown = Some(why),
        }
    }
    report
}

/// The kernel log's line about the OOM kill of one of `pids`, if any.
async fn oom_kill_of(session: &Session, pids: &BTreeSet<u32>) -> Result<Option<String>, String> {
    if pids.is_empty() {
        return Ok(None);
    }
    // The kernel's ring buffer, and the journal's copy where there is one
    // (the ring buffer may have moved on, or be closed to this user).
    let script = "ring=$(dmesg 2>&1) && printf '%s\\n' \"$ring\" || echo \"roadie-no-dmesg: $ring\"; \
                  command -v journalctl >/dev/null 2>&1 && journalctl -k -q --no-pager --since=-3600s 2>/dev/null; true";
    let output = session
        .run(&RemoteCommand::shell(script))
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let kernel: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("roadie-no-dmesg:"))
        .collect();
    if kernel.is_empty() {
        let why = text
            .lines()
            .find_map(|l| l.strip_prefix("roadie-no-dmesg:"))
            .unwrap_or("it is empty")
            .trim();
        return Err(format!("the kernel log is not readable here ({why})"));
    }
    Ok(kernel
        .into_iter()
        .rev()
        .find(|line| {
            pids.iter()
                .any(|pid| line.contains(&format!("Killed process {pid} (")))
        })
        .map(|line| line.trim().to_owned()))
}

/// `peak 212.4 MiB after 1.2 s (3 processes), 15 samples every 0.1 s`, a
/// plot, and what the kernel said.
pub(crate) fn describe(report: &MemoryReport) -> String {
    let mut text = match report.samples.iter().max_by_key(|s| s.rss_kib) {
        None => "no samples (the command ended before the first one)".to_owned(),
        Some(peak) => format!(
            "peak {} after {:.1} s ({} process{}), {} samples every {:.1} s\n  {}",
            indicatif::HumanBytes(peak.rss_kib * 1024),
            Duration::from_millis(report.peak_at_ms).as_secs_f64(),
            peak.processes,
            if peak.processes == 1 { "" } else { "es" },
            report.samples.len(),
            Duration::from_millis(report.interval_ms).as_secs_f64(),
            plot(&report.samples, 60)
        ),
    };
    if let Some(line) = &report.oom_kill {
        let _ = write!(text, "\n  killed by the kernel's OOM killer: {line}");
    }
    if let Some(why) = &report.oom_unknown {
        let _ = write!(
            text,
            "\n  it was killed; whether by the OOM killer is unknown: {why}"
        );
    }
    text
}

/// The samples as a one-line plot, at most `width` wide (each column the
/// highest of the samples it stands for).
fn plot(samples: &[Sample], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0).max(1);
    let per_column = samples.len().div_ceil(width.max(1)).max(1);
    samples
        .chunks(per_column)
        .map(|chunk| {
            let high = chunk.iter().map(|s| s.rss_kib).max().unwrap_or(0);
            let level = usize::try_from(high * 7 / peak).unwrap_or(7);
            BARS[level.min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_and_plotted() {
        let mut seen = Samples::default();
        for line in [
            "root 41\n",
            "sample 100.50 1000 1 42\n",
            "sample 100.60 50000 2 42,43\n",
            "garbage\n",
            "sample 100.70 8000 2 42,43\n",
        ] {
            seen.line(line);
        }
        assert_eq!(seen.taken.len(), 3);
        assert_eq!(seen.taken[1].at_ms, 100);
        assert_eq!(seen.taken[1].rss_kib, 50000);
        // The root is known even if it died before the first sample.
        assert_eq!(seen.pids, BTreeSet::from([41, 42, 43]));
        assert_eq!(plot(&seen.taken, 60), "▁█▂");
        let two: Vec<Sample> = seen.taken.iter().copied().cycle().take(120).collect();
        assert_eq!(plot(&two, 60).chars().count(), 60);
    }

    #[test]
    fn the_watched_command_says_its_pid_first() {
        let (watched, file) = watched(&RemoteCommand::shell("python3 t.py"));
        assert!(file.starts_with("/tmp/.roadie-watch-"));
        assert_eq!(
            watched.script,
            format!(
                "printf %s \"$$\" >{file}.part\n[ -z \"$SUDO_UID\" ] || chown \"$SUDO_UID\" {file}.part 2>/dev/null\nmv -f {file}.part {file}\npython3 t.py"
            )
        );
    }
}
