//! Turning a task into the steps for one host: the context (host, vars,
//! params, the server's `.env`), the templates rendered, every value that a
//! `run` line interpolates shell-quoted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Value;
use secrecy::SecretString;
use serde_json::Map;

use super::{HttpTarget, Playbook, Source, Step, StepKind, Task};
use crate::command::{RemoteCommand, Sudo, quote, quote_path};
use crate::dotenv::DotEnv;
use crate::error::PlaybookError;
use crate::host::Host;

/// What a step captures from its output, as a task result.
#[derive(Debug, Clone)]
pub enum Capture {
    /// The whole stdout, trimmed.
    Stdout(String),
    /// A regex match: the named group, or else the first group, or else the
    /// whole match.
    Pattern {
        name: String,
        regex: regex::Regex,
        group: Option<String>,
    },
}

impl PartialEq for Capture {
    fn eq(&self, other: &Capture) -> bool {
        match (self, other) {
            (Capture::Stdout(a), Capture::Stdout(b)) => a == b,
            (
                Capture::Pattern { name, regex, group },
                Capture::Pattern {
                    name: n,
                    regex: r,
                    group: g,
                },
            ) => name == n && regex.as_str() == r.as_str() && group == g,
            _ => false,
        }
    }
}

impl Eq for Capture {}

impl Capture {
    pub fn name(&self) -> &str {
        match self {
            Capture::Stdout(name) | Capture::Pattern { name, .. } => name,
        }
    }

    /// The captured value from a step's stdout.
    pub fn extract(&self, stdout: &str) -> Result<String, String> {
        match self {
            Capture::Stdout(_) => Ok(stdout.trim().to_owned()),
            Capture::Pattern { name, regex, group } => {
                let found = regex.captures(stdout).ok_or_else(|| {
                    format!(
                        "capture {name}: /{}/ does not match the output",
                        regex.as_str()
                    )
                })?;
                let matched = match group {
                    Some(group) => found.name(group),
                    None => found.get(1).or_else(|| found.get(0)),
                };
                matched
                    .map(|m| m.as_str().to_owned())
                    .ok_or_else(|| format!("capture {name}: the group did not match"))
            }
        }
    }
}

/// Where an HTTP check connects on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpVia {
    Socket(String),
    Port(u16),
}

/// What a planned step does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A command; the server's `.env` at `env_file` (read when the step
    /// runs, so an earlier step may create it) is applied to it.
    Run {
        command: RemoteCommand,
        env_file: Option<String>,
    },
    /// A local file or directory copied to the server (atomically per file).
    Put { local: PathBuf, remote: String },
    /// A server file or directory copied here.
    Get { remote: String, local: PathBuf },
    /// A rendered template written on the server.
    Write {
        source: String,
        contents: Vec<u8>,
        /// The contents for `--check`: the `.env`'s secrets masked.
        shown: String,
        remote: String,
        mode: u32,
    },
    /// `git archive REF` of a local repository, unpacked on the server.
    Archive {
        repo: PathBuf,
        git_ref: String,
        remote: String,
    },
    /// Keys the server's `.env` gets if it lacks them.
    DotEnv {
        remote: String,
        defaults: Vec<(String, String)>,
        ensure_secret: Vec<String>,
    },
    /// An HTTP GET on the server until it answers `expect`.
    Http {
        via: HttpVia,
        path: String,
        host_header: String,
        expect: u16,
        within: std::time::Duration,
        /// The process the check waits for (a pid file on the server).
        pid_file: Option<String>,
        /// The log on the server whose end a failed check shows.
        log: Option<String>,
    },
}

/// A step ready to run on one host.
#[derive(Debug, Clone)]
pub(crate) struct PlannedStep {
    pub label: String,
    pub action: Action,
    pub capture: Option<Capture>,
    /// Run if this step fails, before the task stops.
    pub on_failure: Vec<PlannedStep>,
}

impl PlannedStep {
    /// For `--check`: what would be done (secret values not shown).
    pub(crate) fn display(&self) -> String {
        let mut text = match &self.action {
            Action::Run { command, env_file } => {
                let shown = command.render_for_display();
                match env_file {
                    Some(path) => format!("# with the server's {path} applied\n{shown}"),
                    None => shown,
                }
            }
            Action::Put { local, remote } => format!("put {} -> {remote}", local.display()),
            Action::Get { remote, local } => format!("get {remote} -> {}", local.display()),
            Action::Write {
                source,
                shown,
                remote,
                mode,
                ..
            } => format!(
                "template {source} -> {remote} (mode {mode:o}):\n{}",
                shown.trim_end()
            ),
            Action::Archive {
                repo,
                git_ref,
                remote,
            } => format!("archive {git_ref} of {} -> {remote}", repo.display()),
            Action::DotEnv {
                remote,
                defaults,
                ensure_secret,
            } => {
                let mut keys: Vec<&str> = defaults.iter().map(|(k, _)| k.as_str()).collect();
                keys.extend(ensure_secret.iter().map(String::as_str));
                format!("dotenv {remote}: add if missing {}", keys.join(", "))
            }
            Action::Http {
                via,
                path,
                expect,
                within,
                ..
            } => {
                let via = match via {
                    HttpVia::Socket(socket) => format!("unix:{socket}"),
                    HttpVia::Port(port) => format!("127.0.0.1:{port}"),
                };
                format!(
                    "http GET {path} via {via}: expect {expect} within {}s",
                    within.as_secs()
                )
            }
        };
        for step in &self.on_failure {
            text.push_str("\n# on failure: ");
            text.push_str(&step.display().replace('\n', "\n#   "));
        }
        text
    }
}

/// The steps of a task for one host, and the task's own `on_failure`
/// steps (run when any step fails, after that step's own).
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub steps: Vec<PlannedStep>,
    pub on_failure: Vec<PlannedStep>,
}

impl std::ops::Deref for Plan {
    type Target = [PlannedStep];

    fn deref(&self) -> &[PlannedStep] {
        &self.steps
    }
}

impl Plan {
    /// For `--check`: every step, then what a failure would run.
    pub(crate) fn display(&self) -> Vec<String> {
        let mut shown: Vec<String> = self.steps.iter().map(PlannedStep::display).collect();
        for step in &self.on_failure {
            shown.push(format!(
                "# if a step fails: {}",
                step.display().replace('\n', "\n#   ")
            ));
        }
        shown
    }
}

fn template_environment(shell: bool) -> Environment<'static> {
    let mut env = crate::template::environment();
    // A rendered file (a systemd unit, a .env) ends as its template does.
    if !shell {
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
    }
    env.add_filter("quote", |value: Value| {
        Value::from_safe_string(quote(&value.to_string()))
    });
    if shell {
        // In a `run` line every value is quoted as one shell word (a leading
        // `~/` still meaning the remote home), unless marked `| safe`.
        env.set_formatter(|out, _state, value| {
            let text = if value.is_none() {
                String::new()
            } else {
                value.to_string()
            };
            if value.is_safe() {
                out.write_str(&text)
            } else {
                out.write_str(&quote_path(&text))
            }
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write"))
        });
    }
    env
}

struct Renderer<'a> {
    playbook: &'a Playbook,
    task: &'a Task,
    context: Map<String, serde_json::Value>,
    /// Vars left out of the context, to explain a template that needs one.
    unrendered: crate::template::Unrendered,
    /// Set when a template failed for want of the server's home.
    needs_home: std::cell::Cell<bool>,
    shell: Environment<'static>,
    plain: Environment<'static>,
}

impl Renderer<'_> {
    fn error(&self, line: Option<u64>, message: &str) -> PlaybookError {
        PlaybookError {
            place: Some((self.playbook.origin.clone(), line)),
            column: None,
            message: format!("task {}: {message}", self.task.name),
        }
    }

    /// `text` with the values of the server's `.env` that look secret
    /// masked, for showing.
    fn masked(&self, text: &str) -> String {
        let mut shown = text.to_owned();
        if let Some(env) = self
            .context
            .get("env")
            .and_then(serde_json::Value::as_object)
        {
            for (key, value) in env {
                if let Some(value) = value.as_str().filter(|v| !v.is_empty())
                    && crate::dotenv::is_secret_key(key)
                {
                    shown = shown.replace(value, &crate::dotenv::mask(key, value));
                }
            }
        }
        shown
    }

    /// Whether the expression `source` (`when:`) is true.
    fn condition(&self, source: &Source, what: &str) -> Result<bool, PlaybookError> {
        let failed = |e: minijinja::Error| {
            self.error(
                Some(source.line),
                &format!("{what}: {}", e.detail().unwrap_or(&e.to_string())),
            )
        };
        let expression = self
            .plain
            .compile_expression(&source.text)
            .map_err(failed)?;
        let value = expression
            .eval(minijinja::value::Serde(&self.context))
            .map_err(failed)?;
        Ok(value.is_true())
    }

    /// A local template: `name` in the project directory, else one that
    /// ships with roadie (`deploy/...`). Returns where it came from and its text.
    fn template_file(&self, name: &str) -> Result<(String, String), String> {
        let path = match &self.playbook.dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((path.display().to_string(), text)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot read {}: {e}", path.display()));
            }
            Err(_) => {}
        }
        super::BUILT_IN_TEMPLATES
            .iter()
            .find(|(shipped, _)| *shipped == name)
            .map(|(shipped, text)| (format!("built-in:{shipped}"), (*text).to_owned()))
            .ok_or_else(|| {
                format!(
                    "no template {} (and roadie ships only {})",
                    path.display(),
                    super::BUILT_IN_TEMPLATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    fn render(&self, source: &Source, shell: bool, what: &str) -> Result<String, PlaybookError> {
        let env = if shell { &self.shell } else { &self.plain };
        env.render_str(&source.text, minijinja::value::Serde(&self.context))
            .map_err(|e| {
                let line = source.line + e.line().map_or(0, |l| l as u64).saturating_sub(1);
                if self.unrendered.needs_home(&source.text, &e, &self.context) {
                    self.needs_home.set(true);
                }
                let mut why = self.unrendered.explain(&source.text, &e, &self.context);
                if source.text.contains("${#") && why.contains("comment") {
                    why.push_str(
                        " (`{#` starts a template comment: write the shell's `${#var}` as \
                         `${{ '{#' | safe }}var}`)",
                    );
                }
                self.error(Some(line), &format!("{what}: {why}"))
            })
    }
}

/// The path of the `.env` a task applies on `host`: the environment's
/// `vars.env_file`, else the playbook's `env_file`, else none.
pub(crate) fn env_file_for(
    playbook: &Playbook,
    task: &Task,
    host: &Host,
) -> Result<Option<String>, PlaybookError> {
    let template = match host.vars.get("env_file").and_then(|v| v.as_str()) {
        Some(inventory) => Source {
            text: inventory.to_owned(),
            line: 0,
        },
        None => match &playbook.env_file {
            Some(source) => source.clone(),
            None => return Ok(None),
        },
    };
    renderer(playbook, task, host, None, None)
        .render(&template, false, "env_file")
        .map(Some)
}

/// The templates' context for `task` on `host`: with `extra` (the server's
/// home, the timestamp) and the server's `.env`; the parameters are added
/// by [`Renderer::add_params`].
fn renderer<'a>(
    playbook: &'a Playbook,
    task: &'a Task,
    host: &Host,
    dotenv: Option<&DotEnv>,
    extra: Option<&Extra>,
) -> Renderer<'a> {
    let mut known = Map::new();
    if let Some(extra) = extra {
        known.insert("timestamp".into(), extra.timestamp.clone().into());
        known.insert("run_id".into(), extra.run_id.clone().into());
        if let Some(home) = &extra.home {
            known.insert("home".into(), home.clone().into());
        }
    }
    let mut defaults = playbook.vars.clone();
    for (name, value) in &task.vars {
        defaults.retain(|(n, _)| n != name);
        defaults.push((name.clone(), value.clone()));
    }
    let crate::template::Context {
        values: mut context,
        unrendered,
    } = crate::template::host_context_with(host, &defaults, known);
    context.insert("task".into(), task.name.clone().into());
    if let Some(dotenv) = dotenv {
        let env: Map<String, serde_json::Value> = dotenv
            .entries()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        context.insert("env".into(), env.into());
    }
    Renderer {
        playbook,
        task,
        context,
        unrendered,
        needs_home: std::cell::Cell::new(false),
        shell: template_environment(true),
        plain: template_environment(false),
    }
}

impl Renderer<'_> {
    /// The task's parameters: `params` as given (data, never templates),
    /// the others' defaults (templates) rendered.
    fn add_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), PlaybookError> {
        check_params(self.task, params).map_err(|e| e.in_file(&self.playbook.origin))?;
        for param in &self.task.params {
            let value = match (params.get(&param.name), &param.default) {
                (Some(given), _) => given.clone(),
                (None, Some(default)) => self.render(
                    &Source {
                        text: default.clone(),
                        line: 0,
                    },
                    false,
                    &format!("default of {}", param.name),
                )?,
                (None, None) => unreachable!("check_params found every required parameter"),
            };
            self.context.insert(param.name.clone(), value.into());
        }
        Ok(())
    }
}

/// What a plan knows beyond the inventory and the playbook.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// The login user's home on the server (`{{ home }}`, `| absolute`),
    /// when the task needs it.
    pub home: Option<String>,
    /// When the job started, `YYYYMMDDHHMMSS` in UTC (`{{ timestamp }}`):
    /// the same for every host of a run.
    pub timestamp: String,
    /// This run of the task on this host, unlike any other
    /// (`{{ run_id }}`: a lock's owner, say).
    pub run_id: String,
    /// Fed to sudo by the steps that use it.
    pub sudo_password: Option<SecretString>,
}

/// The steps of `task` for `host`, with `params` given, the server's `.env`
/// as it is now (for `{{ env.KEY }}`), and `extra`.
pub(crate) fn plan_task(
    playbook: &Playbook,
    task: &Task,
    host: &Host,
    params: &BTreeMap<String, String>,
    dotenv: Option<&DotEnv>,
    extra: &Extra,
) -> Result<Plan, PlaybookError> {
    let mut renderer = renderer(playbook, task, host, dotenv, Some(extra));
    renderer.add_params(params)?;
    plan_with(&renderer, playbook, task, host, extra)
}

/// Whether planning `task` needs the server's home (`{{ home }}`, or
/// `| absolute` on a `~` path, in a template or in a var one uses): found
/// by planning without it, so it is fetched only when a template asks.
pub(crate) fn needs_home(
    playbook: &Playbook,
    task: &Task,
    host: &Host,
    params: &BTreeMap<String, String>,
    dotenv: Option<&DotEnv>,
    extra: &Extra,
) -> bool {
    let without = Extra {
        home: None,
        ..extra.clone()
    };
    let mut renderer = renderer(playbook, task, host, dotenv, Some(&without));
    let failed = renderer.add_params(params).is_err()
        || plan_with(&renderer, playbook, task, host, &without).is_err();
    failed && renderer.needs_home.get()
}

fn plan_with(
    renderer: &Renderer<'_>,
    playbook: &Playbook,
    task: &Task,
    host: &Host,
    extra: &Extra,
) -> Result<Plan, PlaybookError> {
    let env_file = env_file_for(playbook, task, host)?;
    let planner = Planner {
        renderer,
        env_file: env_file.as_deref(),
        sudo_password: extra.sudo_password.as_ref(),
    };
    Ok(Plan {
        steps: planner.steps(&task.steps, "step")?,
        on_failure: planner.steps(&task.on_failure, "on_failure")?,
    })
}

struct Planner<'a> {
    renderer: &'a Renderer<'a>,
    env_file: Option<&'a str>,
    sudo_password: Option<&'a SecretString>,
}

impl Planner<'_> {
    fn steps(&self, steps: &[Step], prefix: &str) -> Result<Vec<PlannedStep>, PlaybookError> {
        let mut plan = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let number = format!("{prefix} {}", index + 1);
            if let Some(when) = &step.when
                && !self.renderer.condition(when, &format!("{number} (when)"))?
            {
                continue;
            }
            let (label, action) = self.action(step, &number)?;
            plan.push(PlannedStep {
                label: step.name.clone().unwrap_or(label),
                action,
                capture: step.capture.clone(),
                on_failure: self.steps(&step.on_failure, &format!("{number}, on_failure"))?,
            });
        }
        Ok(plan)
    }

    fn action(&self, step: &Step, number: &str) -> Result<(String, Action), PlaybookError> {
        let r = self.renderer;
        let what = |part: &str| format!("{number} ({part})");
        let plain = |source: &Source, part: &str| r.render(source, false, &what(part));
        Ok(match &step.kind {
            StepKind::Run(source) => self.run_action(step, source, number)?,
            StepKind::Put { from, to } => {
                let local = PathBuf::from(plain(from, "put")?);
                let label = format!("put {}", local.display());
                let remote = plain(to, "to")?;
                (label, Action::Put { local, remote })
            }
            StepKind::Get { from, to } => {
                let remote = plain(from, "get")?;
                let local = PathBuf::from(plain(to, "to")?);
                (format!("get {remote}"), Action::Get { remote, local })
            }
            StepKind::Template { from, to, mode } => {
                self.template_action(from, to, mode.unwrap_or(0o644), number)?
            }
            StepKind::Archive { repo, git_ref, to } => {
                let repo = PathBuf::from(plain(repo, "archive")?);
                let git_ref = plain(git_ref, "ref")?;
                let remote = plain(to, "to")?;
                let label = format!("archive {git_ref} of {}", repo.display());
                (
                    label,
                    Action::Archive {
                        repo,
                        git_ref,
                        remote,
                    },
                )
            }
            StepKind::DotEnv {
                path,
                defaults,
                ensure_secret,
            } => self.dotenv_action(path, defaults.as_ref(), ensure_secret, number)?,
            StepKind::Http { .. } => self.http_action(&step.kind, number)?,
        })
    }

    fn run_action(
        &self,
        step: &Step,
        source: &Source,
        number: &str,
    ) -> Result<(String, Action), PlaybookError> {
        let r = self.renderer;
        let what = |part: &str| format!("{number} ({part})");
        let script = r.render(source, true, &what("run"))?;
        let mut command = RemoteCommand::shell(script.clone());
        if let Some(cwd) = &step.cwd {
            command = command.cwd(r.render(cwd, false, &what("cwd"))?);
        }
        for (name, value) in &step.env {
            let value = r.render(value, false, &what(&format!("env {name}")))?;
            command = command
                .env(name, &value)
                .map_err(|e| r.error(Some(step.line), &e.to_string()))?;
        }
        if step.sudo {
            command = command.sudo(Sudo {
                password: self.sudo_password.cloned(),
            });
        }
        let first = script.lines().next().unwrap_or_default().to_owned();
        let env_file = self.env_file.filter(|_| step.apply_env).map(str::to_owned);
        Ok((first, Action::Run { command, env_file }))
    }

    /// A local template file (`name` rendered first), rendered: its origin
    /// and text.
    fn template_text(
        &self,
        name: &Source,
        number: &str,
        part: &str,
    ) -> Result<(String, String), PlaybookError> {
        let r = self.renderer;
        let name_text = r.render(name, false, &format!("{number} ({part})"))?;
        let (origin, text) = r
            .template_file(&name_text)
            .map_err(|m| r.error(Some(name.line), &m))?;
        let rendered = r.render(
            &Source { text, line: 1 },
            false,
            &format!("{number} ({part} {origin})"),
        )?;
        Ok((origin, rendered))
    }

    fn template_action(
        &self,
        from: &Source,
        to: &Source,
        mode: u32,
        number: &str,
    ) -> Result<(String, Action), PlaybookError> {
        let (source, text) = self.template_text(from, number, "template")?;
        let remote = self.renderer.render(to, false, &format!("{number} (to)"))?;
        let label = format!("template {source}");
        let action = Action::Write {
            source,
            shown: self.renderer.masked(&text),
            contents: text.into_bytes(),
            remote,
            mode,
        };
        Ok((label, action))
    }

    fn dotenv_action(
        &self,
        path: &Source,
        defaults: Option<&Source>,
        ensure_secret: &[String],
        number: &str,
    ) -> Result<(String, Action), PlaybookError> {
        let r = self.renderer;
        let remote = r.render(path, false, &format!("{number} (dotenv)"))?;
        let defaults = match defaults {
            None => Vec::new(),
            Some(source) => {
                let (origin, text) = self.template_text(source, number, "defaults")?;
                let parsed = DotEnv::parse(&text);
                if let Some((line, why)) = parsed.malformed().next() {
                    return Err(r.error(Some(source.line), &format!("{origin}:{line}: {why}")));
                }
                parsed
                    .entries()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            }
        };
        let action = Action::DotEnv {
            remote: remote.clone(),
            defaults,
            ensure_secret: ensure_secret.to_vec(),
        };
        Ok((format!("dotenv {remote}"), action))
    }

    fn http_action(
        &self,
        kind: &StepKind,
        number: &str,
    ) -> Result<(String, Action), PlaybookError> {
        let StepKind::Http {
            path,
            target,
            host: host_header,
            expect,
            within,
            pid_file,
            log,
        } = kind
        else {
            unreachable!("only an http step is planned as one")
        };
        let r = self.renderer;
        let plain =
            |source: &Source, part: &str| r.render(source, false, &format!("{number} ({part})"));
        let via = match target {
            HttpTarget::Socket(socket) => HttpVia::Socket(plain(socket, "socket")?),
            HttpTarget::Port(port) => {
                let text = plain(port, "port")?;
                HttpVia::Port(text.trim().parse().map_err(|_| {
                    r.error(
                        Some(port.line),
                        &format!("port '{text}' is not a port number"),
                    )
                })?)
            }
        };
        let path = plain(path, "http")?;
        let within_text = plain(within, "within")?;
        let within = crate::duration::parse(within_text.trim())
            .map_err(|why| r.error(Some(within.line), &why))?;
        let host_header = plain(host_header, "host")?;
        let optional = |source: &Option<Source>, part: &str| {
            source.as_ref().map(|s| plain(s, part)).transpose()
        };
        let action = Action::Http {
            via,
            path: path.clone(),
            host_header,
            expect: *expect,
            within,
            pid_file: optional(pid_file, "pid_file")?,
            log: optional(log, "log")?,
        };
        Ok((format!("http GET {path}"), action))
    }
}

/// Every parameter given is declared, and every required one is given.
pub(crate) fn check_params(
    task: &Task,
    params: &BTreeMap<String, String>,
) -> Result<(), PlaybookError> {
    for name in params.keys() {
        if !task.params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = task.params.iter().map(|p| p.name.as_str()).collect();
            return Err(PlaybookError::new(format!(
                "task {}: no parameter '{name}' (it takes: {})",
                task.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    if let Some(missing) = task
        .params
        .iter()
        .find(|p| p.default.is_none() && !params.contains_key(&p.name))
    {
        let about = missing
            .description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(PlaybookError::new(format!(
            "task {}: needs --param {}=VALUE{about}",
            task.name, missing.name
        )));
    }
    Ok(())
}

/// `KEY=VALUE` parameters from the command line.
pub(crate) fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, String>, PlaybookError> {
    let mut params = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| PlaybookError::new(format!("--param '{pair}': expected NAME=VALUE")))?;
        params.insert(key.to_owned(), value.to_owned());
    }
    Ok(params)
}

/// A summary of a task's parameters for messages: `email, fixture=...`.
pub(crate) fn describe_params(task: &Task) -> String {
    let mut text = String::new();
    for (i, p) in task.params.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        match &p.default {
            Some(default) => write!(text, "{}={default}", p.name),
            None => write!(text, "{}", p.name),
        }
        .expect("writing to a String");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook(text: &str) -> Playbook {
        Playbook::parse("p", text, "playbooks/p.yaml").unwrap()
    }

    fn host() -> Host {
        let mut host = Host::for_tests("web1");
        host.environment = Some("staging".into());
        host
    }

    /// The first task of `p` planned for [`host`], without params or .env.
    fn plan_of(p: &Playbook) -> Result<Plan, PlaybookError> {
        plan_task(
            p,
            &p.tasks[0],
            &host(),
            &BTreeMap::new(),
            None,
            &Extra::default(),
        )
    }

    fn run_of(plan: &Plan, i: usize) -> &RemoteCommand {
        match &plan[i].action {
            Action::Run { command, .. } => command,
            other => panic!("not a run step: {other:?}"),
        }
    }

    #[test]
    fn values_are_quoted_in_run_lines_unless_safe() {
        let p = playbook(
            "vars:\n  python: virtualenv/bin/python\ntasks:\n  s:\n    params:\n      email: {}\n      args: {default: check --deploy}\n    steps:\n      - run: \"{{ python }} manage.py create_session {{ email }} {{ args | safe }} {{ site }}\"\n        cwd: \"{{ site }}\"\n",
        );
        let params = BTreeMap::from([(
            "email".to_owned(),
            "o'brien@example.com; rm -rf ~".to_owned(),
        )]);
        let plan = plan_task(&p, &p.tasks[0], &host(), &params, None, &Extra::default()).unwrap();
        let command = run_of(&plan, 0);
        assert_eq!(
            command.script,
            "virtualenv/bin/python manage.py create_session 'o'\\''brien@example.com; rm -rf ~' check --deploy \"$HOME\"/sites/web1"
        );
        assert_eq!(command.cwd.as_deref(), Some("~/sites/web1"));
    }

    #[test]
    fn a_shell_length_is_written_around_the_template_comment() {
        let p = playbook("tasks:\n  t:\n    steps:\n      - run: echo ${#HOME}\n");
        let e = plan_of(&p).unwrap_err();
        assert!(e.message.contains("${{ '{#' | safe }}var}"), "{e}");
        let p =
            playbook("tasks:\n  t:\n    steps:\n      - run: \"echo ${{ '{#' | safe }}HOME}\"\n");
        let plan = plan_of(&p).unwrap();
        assert_eq!(run_of(&plan, 0).script, "echo ${#HOME}");
    }

    #[test]
    fn inventory_vars_override_playbook_vars_and_params_are_not_templates() {
        let p = playbook(
            "vars:\n  site: /default/{{ host }}\ntasks:\n  t:\n    params: {x: {}}\n    steps:\n      - run: echo {{ site }} {{ x }}\n",
        );
        let mut h = host();
        h.vars
            .insert("site".into(), "/srv/{{ environment }}".into());
        let params = BTreeMap::from([("x".to_owned(), "{{ site }}".to_owned())]);
        let plan = plan_task(&p, &p.tasks[0], &h, &params, None, &Extra::default()).unwrap();
        assert_eq!(run_of(&plan, 0).script, "echo /srv/staging '{{ site }}'");
    }

    #[test]
    fn dotenv_is_applied_as_secret_variables_and_visible_as_env() {
        let p = playbook(
            "env_file: /srv/site/.env\ntasks:\n  t:\n    steps:\n      - run: echo \"$SITENAME\"\n        cwd: /srv/{{ env.SITENAME }}\n",
        );
        let dotenv = DotEnv::parse("SITENAME=staging.example.org\nDJANGO_SECRET_KEY=s3cret\n");
        let plan = plan_task(
            &p,
            &p.tasks[0],
            &host(),
            &BTreeMap::new(),
            Some(&dotenv),
            &Extra::default(),
        )
        .unwrap();
        let command = run_of(&plan, 0);
        assert_eq!(command.cwd.as_deref(), Some("/srv/staging.example.org"));
        assert!(!command.render().contains("s3cret"));
        // Applied when the step runs (read again then), never planned in.
        assert!(command.stdin().is_none());
        assert!(matches!(
            &plan[0].action,
            Action::Run { env_file: Some(path), .. } if path == "/srv/site/.env"
        ));
        let shown = plan[0].display();
        assert!(
            shown.contains("/srv/site/.env applied") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn when_on_failure_templates_and_the_other_step_kinds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
        std::fs::write(
            dir.path().join("deploy/unit"),
            "WorkingDirectory={{ site | absolute }}/current\nUser={{ user }}\n",
        )
        .unwrap();
        let mut p = playbook(
            "vars: {user: elspeth, repo_url: ''}\ntasks:\n  t:\n    steps:\n      - archive: .\n        to: \"{{ site }}/releases/{{ timestamp }}\"\n      - run: git clone {{ repo_url }}\n        when: repo_url\n      - template: deploy/unit\n        to: /etc/unit\n        mode: \"0640\"\n      - http: /\n        socket: /run/app.sock\n        within: 5s\n        on_failure:\n          - run: echo rolling back\n      - dotenv: \"{{ site }}/.env\"\n        ensure_secret: [DJANGO_SECRET_KEY]\n",
        );
        p.dir = Some(dir.path().to_owned());
        let extra = Extra {
            home: Some("/home/elspeth".into()),
            timestamp: "20261122010203".into(),
            run_id: "r1".into(),
            sudo_password: None,
        };
        let plan = plan_task(&p, &p.tasks[0], &host(), &BTreeMap::new(), None, &extra).unwrap();
        assert_eq!(
            plan.len(),
            4,
            "the `when: repo_url` step is left out: {plan:?}"
        );
        assert!(matches!(
            &plan[0].action,
            Action::Archive { git_ref, remote, .. }
                if git_ref == "HEAD" && remote == "~/sites/web1/releases/20261122010203"
        ));
        match &plan[1].action {
            Action::Write {
                contents,
                mode,
                remote,
                ..
            } => {
                assert_eq!(
                    String::from_utf8_lossy(contents),
                    "WorkingDirectory=/home/elspeth/sites/web1/current\nUser=elspeth\n"
                );
                assert_eq!((*mode, remote.as_str()), (0o640, "/etc/unit"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &plan[2].action,
            Action::Http { via: HttpVia::Socket(s), host_header, within, .. }
                if s == "/run/app.sock" && host_header == "web1" && within.as_secs() == 5
        ));
        assert_eq!(plan[2].on_failure.len(), 1);
        assert!(
            plan[2]
                .display()
                .contains("# on failure: echo rolling back")
        );
        // Without the server's home, `absolute` says what it lacks.
        let e = plan_of(&p).unwrap_err();
        assert!(e.message.contains("home"), "{e}");
    }

    #[test]
    fn errors_name_the_file_line_and_what_is_missing() {
        let p = playbook(
            "tasks:\n  t:\n    params: {email: {description: who}}\n    steps:\n      - run: echo {{ emial }}\n",
        );
        let e = plan_of(&p).unwrap_err();
        assert!(e.message.contains("needs --param email=VALUE (who)"), "{e}");
        let params = BTreeMap::from([("email".to_owned(), "a@b".to_owned())]);
        let e = plan_task(&p, &p.tasks[0], &host(), &params, None, &Extra::default()).unwrap_err();
        assert!(e.to_string().starts_with("playbooks/p.yaml:5:"), "{e}");
        assert!(e.message.contains("emial"), "{e}");
        let params = BTreeMap::from([("nope".to_owned(), "1".to_owned())]);
        let e = plan_task(&p, &p.tasks[0], &host(), &params, None, &Extra::default()).unwrap_err();
        assert!(
            e.message.contains("no parameter 'nope' (it takes: email)"),
            "{e}"
        );
    }

    /// The shipped rollback with the default site (`~/sites/{{ host }}`):
    /// its own `vars:` (`site_root: "{{ site | absolute }}"`) need the
    /// server's home, and the error without it names the var and why.
    #[test]
    fn rollback_with_the_default_site_asks_for_the_home() {
        let playbooks =
            super::super::Playbooks::load(std::path::Path::new("/nonexistent")).unwrap();
        let (p, rollback) = playbooks.find("rollback").unwrap();
        let mut h = host();
        h.vars.insert("wsgi".into(), "app.wsgi:application".into());
        let extra = Extra::default();
        assert!(needs_home(p, rollback, &h, &BTreeMap::new(), None, &extra));
        let e = plan_task(p, rollback, &h, &BTreeMap::new(), None, &extra).unwrap_err();
        assert!(
            e.message
                .contains("var 'site_root' ('{{ site | absolute }}')")
                && e.message.contains("needs the server's home"),
            "{e}"
        );
        let with_home = Extra {
            home: Some("/home/elspeth".into()),
            ..Extra::default()
        };
        let plan = plan_task(p, rollback, &h, &BTreeMap::new(), None, &with_home).unwrap();
        assert!(
            run_of(&plan, 0)
                .script
                .contains("/home/elspeth/sites/web1/shared"),
            "{}",
            run_of(&plan, 0).script
        );
        // A task that uses no home does not ask for it.
        let (p, flush) = playbooks.find("flush").unwrap();
        assert!(!needs_home(p, flush, &h, &BTreeMap::new(), None, &extra));
    }

    /// minijinja names an undefined variable only in debug builds; the
    /// names come from the template itself, so a release build says them too.
    #[test]
    fn an_undefined_variable_is_named_through_the_vars_that_use_it() {
        let p = playbook(
            "vars:\n  root: \"{{ site }}/{{ sitename }}\"\n  release: \"{{ root }}/releases\"\ntasks:\n  t:\n    steps:\n      - run: |\n          set -e\n          cd {{ release }}\n",
        );
        let e = plan_of(&p).unwrap_err();
        assert!(
            e.message.contains(
                "var 'release' ('{{ root }}/releases'): var 'root' ('{{ site }}/{{ sitename }}'): undefined variable 'sitename'"
            ),
            "{e}"
        );
        assert!(!needs_home(
            &p,
            &p.tasks[0],
            &host(),
            &BTreeMap::new(),
            None,
            &Extra::default()
        ));
    }

    #[test]
    fn captures() {
        assert_eq!(
            Capture::Stdout("k".into()).extract("  abc\n").unwrap(),
            "abc"
        );
        let pattern = Capture::Pattern {
            name: "k".into(),
            regex: regex::Regex::new("key=(?P<key>[a-z0-9]+)").unwrap(),
            group: Some("key".into()),
        };
        assert_eq!(pattern.extract("noise\nkey=abc123\n").unwrap(), "abc123");
        assert!(pattern.extract("nothing").is_err());
    }
}
