//! One stream of events (output, warnings, host results), rendered for people
//! (`[host]` prefixes, colour, a progress line, a summary) or as JSON lines
//! for scripts and test harnesses.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::event::{Event, HostResult, Stream};
use console::{Style, Term};
use indicatif::{ProgressBar, ProgressStyle};

/// A line longer than this is emitted in pieces, so memory stays bounded.
const MAX_LINE: usize = 64 * 1024;

/// `event` as JSON text (plain data, with string keys: it always
/// serialises).
pub(crate) fn json_text(event: &Event) -> String {
    serde_json::to_string(event).expect("an event always serialises")
}

/// `event` as one line of JSON.
pub(crate) fn json_line(out: &mut impl Write, event: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")
}

/// `event` as one line of JSON on stdout, written out at once.
pub(crate) fn json_stdout(event: &Event) -> io::Result<()> {
    let mut out = io::stdout().lock();
    json_line(&mut out, event)?;
    out.flush()
}

fn error_label() -> console::StyledObject<&'static str> {
    Style::new()
        .for_stderr()
        .red()
        .bold()
        .apply_to("roadie: error:")
}

/// How output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One host, for people: output passed through untouched.
    Plain,
    /// Several hosts, for people: `[host] line`, a progress line, a summary.
    Prefixed,
    /// JSON lines on stdout.
    Json,
}

impl Mode {
    /// JSON when asked for; else plain for one host, prefixed for several.
    pub(crate) fn choose(json: bool, hosts: usize) -> Mode {
        match (json, hosts) {
            (true, _) => Mode::Json,
            (false, 1) => Mode::Plain,
            (false, _) => Mode::Prefixed,
        }
    }
}

/// Render events on a thread of its own, so that a slow terminal or pipe
/// slows only the hosts that produce output (through the bounded channel).
/// The thread hands the renderer back when every sender is gone.
pub(crate) fn spawn_printer(
    mut renderer: Renderer,
) -> (
    tokio::sync::mpsc::Sender<Event>,
    tokio::task::JoinHandle<io::Result<Renderer>>,
) {
    let (events, mut received) = tokio::sync::mpsc::channel::<Event>(256);
    let printer = tokio::task::spawn_blocking(move || {
        while let Some(event) = received.blocking_recv() {
            renderer.handle(event)?;
            while let Ok(event) = received.try_recv() {
                renderer.handle(event)?;
            }
            renderer.flush()?;
        }
        Ok(renderer)
    });
    (events, printer)
}

/// Renders events to stdout and stderr.
pub(crate) struct Renderer {
    mode: Mode,
    out: io::BufWriter<io::Stdout>,
    colour: bool,
    partial: HashMap<(String, Stream), Vec<u8>>,
    styles: HashMap<String, Style>,
    progress: Option<ProgressBar>,
    /// Stdout and stderr are one file, and what was passed through last
    /// did not end its line: roadie's own next line starts a new one.
    shared_mid_line: bool,
    shared: bool,
    /// Host labels in target order, for the summary.
    order: Vec<String>,
    results: Vec<HostResult>,
}

const PALETTE: [fn(Style) -> Style; 6] = [
    Style::cyan,
    Style::magenta,
    Style::yellow,
    Style::blue,
    Style::green,
    Style::red,
];

impl Renderer {
    /// A renderer for the hosts labelled `hosts`, in target order.
    pub(crate) fn new(mode: Mode, hosts: Vec<String>) -> Renderer {
        let progress = (mode == Mode::Prefixed && Term::stderr().is_term()).then(|| {
            let bar = ProgressBar::new(hosts.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} hosts done {wide_msg}")
                    .expect("valid progress template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Renderer {
            mode,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            colour: Term::stdout().is_term() && console::colors_enabled(),
            partial: HashMap::new(),
            styles: HashMap::new(),
            progress,
            shared_mid_line: false,
            shared: crate::stderr::shares_stdout(),
            order: hosts,
            results: Vec::new(),
        }
    }

    /// Handle one event. Fails only when writing fails (a closed pipe).
    pub(crate) fn handle(&mut self, event: Event) -> io::Result<()> {
        match event {
            Event::Started { host } => {
                let style = PALETTE[self.styles.len() % PALETTE.len()](Style::new());
                self.styles.insert(host, style);
                Ok(())
            }
            Event::Data { host, stream, data } => self.data(&host, stream, &data),
            Event::Output { host, stream, line } => self.line(&host, stream, line.as_bytes()),
            Event::Warning { host, message } => self.warning(&host, &message),
            Event::Error { .. } | Event::Summary { .. } if self.mode == Mode::Json => {
                self.json(&event)
            }
            Event::Error { message, .. } => {
                self.begin_own_line()?;
                stderr_line!("{} {message}", error_label());
                Ok(())
            }
            // For people, `finish` writes the summary from the results seen.
            Event::Summary { .. } => Ok(()),
            // The commands that make these (put/get, persist, sandbox,
            // tasks, diagnose, env, debug, tunnel, hosts) write them for
            // people themselves, and as JSON here.
            Event::Transfer { .. }
            | Event::KeptConnection { .. }
            | Event::KeptConnectionStopped { .. }
            | Event::SandboxUp { .. }
            | Event::SandboxDown { .. }
            | Event::SandboxStatus { .. }
            | Event::Task { .. }
            | Event::Diagnose { .. }
            | Event::Env(_)
            | Event::EnvEdit(_)
            | Event::Stacks { .. }
            | Event::StacksUnavailable { .. }
            | Event::TestRunning { .. }
            | Event::Tunnel(_)
            | Event::Debug(_)
            | Event::Publish(_)
            | Event::Listing(_) => self.json(&event),
            Event::Finished(result) => {
                self.flush_partial(&result.host)?;
                match (self.mode, &result.error, &result.would_run) {
                    (Mode::Json, _, _) => self.json(&Event::Finished(result.clone()))?,
                    (Mode::Plain, Some(error), _) => {
                        self.begin_own_line()?;
                        stderr_line!("{} {error}", error_label());
                    }
                    (_, None, Some(steps)) => {
                        for (index, command) in steps.iter().enumerate() {
                            let step = if steps.len() > 1 {
                                format!(" (step {})", index + 1)
                            } else {
                                String::new()
                            };
                            let command = command.replace('\n', "\n    ");
                            let text = format!("[{}] would run{step}: {command}\n", result.host);
                            self.out.write_all(text.as_bytes())?;
                        }
                    }
                    _ => {}
                }
                if let (Mode::Plain, Some(step)) = (self.mode, &result.failed_step) {
                    self.begin_own_line()?;
                    let task = result
                        .task
                        .as_deref()
                        .map(|t| format!("task {t}: "))
                        .unwrap_or_default();
                    let how = step
                        .exit_code
                        .map_or_else(|| step.stderr.clone(), |code| format!("exit {code}"));
                    stderr_line!(
                        "{} {}: {task}step {} ({}) failed: {how}",
                        error_label(),
                        result.host,
                        step.index,
                        step.name
                    );
                }
                if let (false, Some(memory)) = (self.mode == Mode::Json, &result.memory) {
                    self.begin_own_line()?;
                    let prefix = if self.mode == Mode::Plain {
                        String::new()
                    } else {
                        format!("[{}] ", result.host)
                    };
                    stderr_line!(
                        "{prefix}{} {}",
                        Style::new().for_stderr().bold().apply_to("memory:"),
                        crate::memory::describe(memory)
                    );
                }
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                    bar.set_message(format!("(last: {})", result.host));
                }
                self.results.push(*result);
                Ok(())
            }
        }
    }

    /// Before a line of roadie's own on stderr: what is buffered for stdout
    /// written out, and a line passed through unfinished ended.
    fn begin_own_line(&mut self) -> io::Result<()> {
        self.out.flush()?;
        if std::mem::take(&mut self.shared_mid_line) {
            io::stderr().write_all(b"\n")?;
        }
        Ok(())
    }

    /// Write out what is buffered (call when no event is waiting).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn data(&mut self, host: &str, stream: Stream, data: &[u8]) -> io::Result<()> {
        if self.mode == Mode::Plain {
            if let Some(last) = data.last() {
                self.shared_mid_line = self.shared && *last != b'\n';
            }
            return match stream {
                Stream::Stdout => self.out.write_all(data),
                Stream::Stderr => {
                    self.out.flush()?;
                    io::stderr().write_all(data)
                }
            };
        }
        let key = (host.to_owned(), stream);
        let mut buffer = self.partial.remove(&key).unwrap_or_default();
        let mut rest = data;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            buffer.extend_from_slice(&rest[..newline]);
            self.line(host, stream, &buffer)?;
            buffer.clear();
            rest = &rest[newline + 1..];
        }
        buffer.extend_from_slice(rest);
        while buffer.len() >= MAX_LINE {
            let piece: Vec<u8> = buffer.drain(..MAX_LINE).collect();
            self.line(host, stream, &piece)?;
        }
        if !buffer.is_empty() {
            self.partial.insert(key, buffer);
        }
        Ok(())
    }

    fn flush_partial(&mut self, host: &str) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some(rest) = self.partial.remove(&(host.to_owned(), stream)) {
                self.line(host, stream, &rest)?;
            }
        }
        Ok(())
    }

    fn line(&mut self, host: &str, stream: Stream, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if self.mode == Mode::Json {
            return self.json(&Event::Output {
                host: host.to_owned(),
                stream,
                line: text.to_owned(),
            });
        }
        let prefix = format!("[{host}]");
        let prefix = match self.styles.get(host) {
            Some(style) if self.colour => style.apply_to(prefix).to_string(),
            _ => prefix,
        };
        let formatted = format!("{prefix} {text}\n");
        match (&self.progress, stream) {
            (Some(bar), Stream::Stdout) => {
                let out = &mut self.out;
                bar.suspend(|| {
                    out.write_all(formatted.as_bytes())
                        .and_then(|()| out.flush())
                })
            }
            (Some(bar), Stream::Stderr) => {
                bar.suspend(|| io::stderr().write_all(formatted.as_bytes()))
            }
            (None, Stream::Stdout) => self.out.write_all(formatted.as_bytes()),
            (None, Stream::Stderr) => {
                self.out.flush()?;
                io::stderr().write_all(formatted.as_bytes())
            }
        }
    }

    fn warning(&mut self, host: &str, message: &str) -> io::Result<()> {
        if self.mode == Mode::Json {
            return self.json(&Event::Warning {
                host: host.to_owned(),
                message: message.to_owned(),
            });
        }
        self.begin_own_line()?;
        let text = format!(
            "{} {host}: {message}",
            Style::new()
                .for_stderr()
                .yellow()
                .bold()
                .apply_to("roadie: warning:")
        );
        match &self.progress {
            Some(bar) => bar.suspend(|| stderr_line!("{text}")),
            None => stderr_line!("{text}"),
        }
        Ok(())
    }

    fn json(&mut self, event: &Event) -> io::Result<()> {
        json_line(&mut self.out, event)
    }

    /// Finish: the summary (several hosts, or JSON), and the exit code.
    pub(crate) fn finish(mut self, exit_code: i32) -> io::Result<()> {
        for host in self
            .results
            .iter()
            .map(|r| r.host.clone())
            .collect::<Vec<_>>()
        {
            self.flush_partial(&host)?;
        }
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let order = std::mem::take(&mut self.order);
        self.results.sort_by_key(|r| {
            order
                .iter()
                .position(|h| *h == r.host)
                .unwrap_or(usize::MAX)
        });
        let count = |status: &str| self.results.iter().filter(|r| r.status == status).count();
        let (ok, failed) = (count("ok"), count("failed"));
        let (errors, refused) = (count("error"), count("refused"));
        match self.mode {
            Mode::Json => self.json(&Event::Summary {
                hosts: self.results.len(),
                ok,
                failed,
                errors,
                refused,
                exit_code,
            })?,
            Mode::Prefixed => {
                use std::fmt::Write as _;
                self.out.flush()?;
                let mut err = String::new();
                let width = self.results.iter().map(|r| r.host.len()).max().unwrap_or(0);
                for r in &self.results {
                    let (word, style) = match r.status.as_str() {
                        "ok" => ("ok".to_owned(), Style::new().for_stderr().green()),
                        "failed" => (
                            r.signal.as_ref().map_or_else(
                                || format!("exit {}", r.exit_code.unwrap_or(-1)),
                                |s| format!("SIG{s}"),
                            ),
                            Style::new().for_stderr().red(),
                        ),
                        "refused" => ("refused".to_owned(), Style::new().for_stderr().red().bold()),
                        _ => ("error".to_owned(), Style::new().for_stderr().red().bold()),
                    };
                    let detail = r.error.as_deref().map_or_else(String::new, |e| {
                        let e = e.strip_prefix(&format!("{}: ", r.host)).unwrap_or(e);
                        format!("  {}", e.replace('\n', "\n      "))
                    });
                    let _ = writeln!(
                        err,
                        "{:<8} {:<width$} {:>7.2}s{detail}",
                        style.apply_to(word),
                        r.host,
                        Duration::from_millis(r.duration_ms).as_secs_f64(),
                    );
                }
                let refused = if refused > 0 {
                    format!(", {refused} refused")
                } else {
                    String::new()
                };
                let errors = match errors {
                    1 => "1 error".to_owned(),
                    n => format!("{n} errors"),
                };
                let _ = write!(
                    err,
                    "{} hosts: {ok} ok, {failed} failed, {errors}{refused}",
                    self.results.len()
                );
                stderr_line!("{err}");
            }
            Mode::Plain => {}
        }
        self.out.flush()
    }
}
