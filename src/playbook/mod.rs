//! Playbooks: named tasks in YAML, each a list of steps run on a host.
//!
//! ```yaml
//! vars:
//!   site: "~/sites/{{ host }}"
//!   python: virtualenv/bin/python
//! env_file: "{{ site }}/.env"          # applied to every step
//! tasks:
//!   create_session:
//!     class: destroy                    # read | change | destroy (default destroy)
//!     params:
//!       email: {description: "the user to log in"}   # no default: required
//!     steps:
//!       - run: "{{ python }} manage.py create_session {{ email }}"
//!         cwd: "{{ site }}"
//!         capture: session_key          # trimmed stdout
//! ```
//!
//! Playbooks are read from `playbooks/` next to roadie.yaml, and roadie ships
//! its own (`django`); a project file of the same name replaces the shipped
//! one. Every value a template puts into a `run` line is shell-quoted unless
//! the author writes `| safe`.

mod render;
mod shell_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::PlaybookError;
use crate::safety::SafetyClass;

pub(crate) use render::{
    Action, Capture, Extra, HttpVia, Plan, PlannedStep, check_params, describe_params,
    env_file_for, needs_home, parse_params, plan_task,
};

/// The playbooks that ship with roadie: (name, source).
pub(crate) const BUILT_IN: &[(&str, &str)] =
    &[("django", include_str!("../../playbooks/django.yaml"))];

/// The server-side templates that ship with roadie (`deploy/`), used when the
/// project has no file of the same name: (name, source).
pub(crate) const BUILT_IN_TEMPLATES: &[(&str, &str)] = &[
    (
        "deploy/gunicorn.service",
        include_str!("../../deploy/gunicorn.service"),
    ),
    ("deploy/nginx.conf", include_str!("../../deploy/nginx.conf")),
    ("deploy/env", include_str!("../../deploy/env")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    env_file: Option<Spanned<String>>,
    #[serde(default)]
    tasks: BTreeMap<String, TaskSchema>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSchema {
    description: Option<String>,
    class: Option<SafetyClass>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    params: BTreeMap<String, Option<ParamSchema>>,
    steps: Vec<Spanned<StepSchema>>,
    #[serde(default)]
    on_failure: Vec<Spanned<StepSchema>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamSchema {
    description: Option<String>,
    default: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSchema {
    name: Option<String>,
    // What the step does: exactly one of these.
    run: Option<Spanned<String>>,
    put: Option<Spanned<String>>,
    get: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
    archive: Option<Spanned<String>>,
    dotenv: Option<Spanned<String>>,
    http: Option<Spanned<String>>,
    // Their settings.
    to: Option<Spanned<String>>,
    #[serde(rename = "ref")]
    git_ref: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    defaults: Option<Spanned<String>>,
    ensure_secret: Option<Vec<String>>,
    socket: Option<Spanned<String>>,
    port: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    expect: Option<u16>,
    within: Option<Spanned<String>>,
    pid_file: Option<Spanned<String>>,
    log: Option<Spanned<String>>,
    sudo: Option<bool>,
    apply_env: Option<bool>,
    cwd: Option<Spanned<String>>,
    env: Option<BTreeMap<String, Spanned<String>>>,
    capture: Option<CaptureSchema>,
    // When it runs.
    when: Option<Spanned<String>>,
    on_failure: Option<Vec<Spanned<StepSchema>>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CaptureSchema {
    Stdout(String),
    Pattern {
        name: String,
        regex: String,
        group: Option<String>,
    },
}

/// A template and the line of the playbook it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub text: String,
    pub line: u64,
}

impl From<Spanned<String>> for Source {
    fn from(s: Spanned<String>) -> Source {
        Source {
            line: s.referenced.line(),
            text: s.value,
        }
    }
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub description: Option<String>,
    /// `None`: the parameter must be given.
    pub default: Option<String>,
}

/// Where an HTTP check connects, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpTarget {
    /// A Unix socket (gunicorn's `--bind unix:PATH`).
    Socket(Source),
    /// A TCP port on the server's loopback.
    Port(Source),
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// A shell command line (a template; values are quoted).
    Run(Source),
    /// Copy a local file or directory (`put`) to the server (`to`).
    Put { from: Source, to: Source },
    /// Copy a file or directory from the server (`get`) to here (`to`).
    Get { from: Source, to: Source },
    /// Render a local template and write the result on the server.
    Template {
        from: Source,
        to: Source,
        mode: Option<u32>,
    },
    /// `git archive` a ref of a local repository into a server directory.
    Archive {
        repo: Source,
        git_ref: Source,
        to: Source,
    },
    /// Give the server's `.env` the keys it lacks (from a template of
    /// defaults, and generated secrets), never changing a value it has.
    DotEnv {
        path: Source,
        defaults: Option<Source>,
        ensure_secret: Vec<String>,
    },
    /// An HTTP GET on the server, retried until it answers `expect` or
    /// `within` (a template, e.g. `30s`) runs out.
    Http {
        path: Source,
        target: HttpTarget,
        /// The `Host` header (a template; by default the host's name).
        host: Source,
        expect: u16,
        within: Source,
        /// The process the check waits for: when the pid this file names
        /// has exited, the check fails at once.
        pid_file: Option<Source>,
        /// A log whose end the failed check shows.
        log: Option<Source>,
    },
}

/// One step of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: Option<String>,
    pub kind: StepKind,
    pub sudo: bool,
    /// Whether the playbook's `env_file` is applied (`apply_env: false`:
    /// not, for steps that run before the file exists).
    pub apply_env: bool,
    pub cwd: Option<Source>,
    pub env: Vec<(String, Source)>,
    pub capture: Option<Capture>,
    /// An expression: the step is left out where it is false.
    pub when: Option<Source>,
    /// Steps run when this one fails (before the task stops).
    pub on_failure: Vec<Step>,
    pub line: u64,
}

/// A task: steps with a safety class and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    pub description: Option<String>,
    pub class: SafetyClass,
    /// Its own vars, over the playbook's (the inventory's win over both).
    pub vars: Vec<(String, serde_json::Value)>,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    /// Run when any step fails (after that step's own `on_failure`), to
    /// clean up: a lock released, a trial process stopped.
    pub on_failure: Vec<Step>,
}

/// A playbook file.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    /// Where it came from (a path, or `built-in:NAME`), for messages.
    pub origin: String,
    pub description: Option<String>,
    pub vars: Vec<(String, serde_json::Value)>,
    pub env_file: Option<Source>,
    pub tasks: Vec<Task>,
    /// The project directory: where `template:` files are looked up first.
    pub dir: Option<PathBuf>,
}

impl Playbook {
    /// Parse playbook text; `origin` names it in errors.
    pub fn parse(name: &str, text: &str, origin: &str) -> Result<Playbook, PlaybookError> {
        let at = |line: Option<u64>, message: String| PlaybookError {
            place: Some((origin.to_owned(), line)),
            column: None,
            message,
        };
        let schema: FileSchema = serde_saphyr::from_str(text).map_err(|e| {
            let (place, message) = crate::yaml::error_parts(&e);
            PlaybookError {
                column: place.map(|(_, column)| column),
                ..at(place.map(|(line, _)| line), message)
            }
        })?;
        let mut tasks = Vec::new();
        for (task_name, task) in schema.tasks {
            let mut params = Vec::new();
            for (param_name, param) in task.params {
                let param = param.unwrap_or(ParamSchema {
                    description: None,
                    default: None,
                });
                params.push(Param {
                    name: param_name,
                    description: param.description,
                    default: param.default,
                });
            }
            let mut steps = Vec::new();
            for spanned in task.steps {
                let line = spanned.referenced.line();
                steps.push(
                    step(spanned.value, line)
                        .map_err(|(line, m)| at(Some(line), format!("task {task_name}: {m}")))?,
                );
            }
            if steps.is_empty() {
                return Err(at(None, format!("task {task_name} has no steps")));
            }
            let mut on_failure = Vec::new();
            for spanned in task.on_failure {
                let line = spanned.referenced.line();
                on_failure.push(
                    step(spanned.value, line)
                        .map_err(|(line, m)| at(Some(line), format!("task {task_name}: {m}")))?,
                );
            }
            tasks.push(Task {
                name: task_name,
                description: task.description,
                // A task that does not say what it does is taken at its worst.
                class: task.class.unwrap_or(SafetyClass::Destroy),
                vars: task.vars.into_iter().collect(),
                params,
                steps,
                on_failure,
            });
        }
        Ok(Playbook {
            name: name.to_owned(),
            origin: origin.to_owned(),
            description: schema.description,
            vars: schema.vars.into_iter().collect(),
            env_file: schema.env_file.map(Source::from),
            tasks,
            dir: None,
        })
    }
}

/// How long an HTTP check keeps trying unless `within:` says otherwise.
const HTTP_WITHIN: &str = "30s";

/// A step's problem: the line, and what is wrong.
type StepError = (u64, String);

fn step(mut schema: StepSchema, line: u64) -> Result<Step, StepError> {
    let at = |message: String| (line, message);
    let kind_name = one_kind(&schema).map_err(at)?;
    check_fields(&schema, kind_name).map_err(at)?;
    let kind = step_kind(&mut schema, kind_name, line)?;
    let capture = schema.capture.map(capture).transpose().map_err(at)?;
    let env = schema.env.unwrap_or_default();
    if let Some(key) = env.keys().find(|k| !crate::dotenv::is_env_name(k)) {
        return Err(at(format!("'{key}' is not a valid variable name")));
    }
    let mut on_failure = Vec::new();
    for spanned in schema.on_failure.unwrap_or_default() {
        let line = spanned.referenced.line();
        on_failure.push(step(spanned.value, line)?);
    }
    Ok(Step {
        name: schema.name,
        kind,
        sudo: schema.sudo.unwrap_or(false),
        apply_env: schema.apply_env.unwrap_or(true),
        cwd: schema.cwd.map(Source::from),
        env: env.into_iter().map(|(k, v)| (k, v.into())).collect(),
        capture,
        when: schema.when.map(Source::from),
        on_failure,
        line,
    })
}

/// The one thing a step does.
fn one_kind(schema: &StepSchema) -> Result<&'static str, String> {
    let kinds: Vec<&str> = [
        ("run", schema.run.is_some()),
        ("put", schema.put.is_some()),
        ("get", schema.get.is_some()),
        ("template", schema.template.is_some()),
        ("archive", schema.archive.is_some()),
        ("dotenv", schema.dotenv.is_some()),
        ("http", schema.http.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect();
    match kinds.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "a step does one thing: `run`, `put`, `get`, `template`, `archive`, `dotenv` or `http`{}",
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" (this one has {})", kinds.join(", "))
            }
        )),
    }
}

/// Every setting given belongs to the step's kind.
fn check_fields(schema: &StepSchema, kind: &str) -> Result<(), String> {
    let fields: &[(&str, bool, &[&str])] = &[
        (
            "to",
            schema.to.is_some(),
            &["put", "get", "template", "archive"],
        ),
        ("ref", schema.git_ref.is_some(), &["archive"]),
        ("mode", schema.mode.is_some(), &["template"]),
        ("defaults", schema.defaults.is_some(), &["dotenv"]),
        ("ensure_secret", schema.ensure_secret.is_some(), &["dotenv"]),
        ("socket", schema.socket.is_some(), &["http"]),
        ("port", schema.port.is_some(), &["http"]),
        ("host", schema.host.is_some(), &["http"]),
        ("expect", schema.expect.is_some(), &["http"]),
        ("within", schema.within.is_some(), &["http"]),
        ("pid_file", schema.pid_file.is_some(), &["http"]),
        ("log", schema.log.is_some(), &["http"]),
        ("sudo", schema.sudo.is_some(), &["run"]),
        ("apply_env", schema.apply_env.is_some(), &["run"]),
        ("cwd", schema.cwd.is_some(), &["run"]),
        ("env", schema.env.is_some(), &["run"]),
        ("capture", schema.capture.is_some(), &["run"]),
    ];
    match fields
        .iter()
        .find(|(_, given, kinds)| *given && !kinds.contains(&kind))
    {
        None => Ok(()),
        Some((field, _, kinds)) => Err(format!(
            "`{field}:` does not go with a `{kind}` step (only with {})",
            kinds
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The step's kind with its settings, taken out of `schema`.
fn step_kind(schema: &mut StepSchema, kind: &str, line: u64) -> Result<StepKind, StepError> {
    let at = |message: String| (line, message);
    let take = |field: &mut Option<Spanned<String>>| field.take().map(Source::from);
    let to = take(&mut schema.to);
    let to = || {
        to.clone()
            .ok_or_else(|| at(format!("a `{kind}` step needs `to:`")))
    };
    Ok(match kind {
        "run" => {
            let run = take(&mut schema.run).expect("the kind's field is given");
            shell_check::check_value_quoting(&run.text).map_err(at)?;
            StepKind::Run(run)
        }
        "put" => StepKind::Put {
            from: take(&mut schema.put).expect("the kind's field is given"),
            to: to()?,
        },
        "get" => StepKind::Get {
            from: take(&mut schema.get).expect("the kind's field is given"),
            to: to()?,
        },
        "template" => {
            let mode = match &schema.mode {
                None => None,
                Some(mode) => Some(
                    u32::from_str_radix(mode.value.trim_start_matches("0o"), 8).map_err(|_| {
                        at(format!(
                            "mode '{}' is not an octal mode like \"0640\"",
                            mode.value
                        ))
                    })?,
                ),
            };
            StepKind::Template {
                from: take(&mut schema.template).expect("the kind's field is given"),
                to: to()?,
                mode,
            }
        }
        "archive" => StepKind::Archive {
            repo: take(&mut schema.archive).expect("the kind's field is given"),
            git_ref: take(&mut schema.git_ref).unwrap_or(Source {
                text: "HEAD".into(),
                line,
            }),
            to: to()?,
        },
        "dotenv" => {
            let ensure_secret = schema.ensure_secret.take().unwrap_or_default();
            if let Some(bad) = ensure_secret
                .iter()
                .find(|k| !crate::dotenv::is_env_name(k))
            {
                return Err(at(format!("'{bad}' is not a valid variable name")));
            }
            StepKind::DotEnv {
                path: take(&mut schema.dotenv).expect("the kind's field is given"),
                defaults: take(&mut schema.defaults),
                ensure_secret,
            }
        }
        _ => {
            let target = match (take(&mut schema.socket), take(&mut schema.port)) {
                (Some(socket), None) => HttpTarget::Socket(socket),
                (None, Some(port)) => HttpTarget::Port(port),
                _ => {
                    return Err(at("an `http` step needs `socket:` (a Unix socket on the server) or `port:`, one of them".into()));
                }
            };
            let within = take(&mut schema.within).unwrap_or(Source {
                text: HTTP_WITHIN.into(),
                line,
            });
            StepKind::Http {
                path: take(&mut schema.http).expect("the kind's field is given"),
                target,
                host: take(&mut schema.host).unwrap_or(Source {
                    text: "{{ host }}".into(),
                    line,
                }),
                expect: schema.expect.unwrap_or(200),
                within,
                pid_file: take(&mut schema.pid_file),
                log: take(&mut schema.log),
            }
        }
    })
}

fn capture(schema: CaptureSchema) -> Result<Capture, String> {
    Ok(match schema {
        CaptureSchema::Stdout(name) => Capture::Stdout(name),
        CaptureSchema::Pattern { name, regex, group } => {
            let compiled =
                regex::Regex::new(&regex).map_err(|e| format!("capture {name}: bad regex: {e}"))?;
            if let Some(group) = &group
                && !compiled.capture_names().flatten().any(|n| n == group)
            {
                return Err(format!(
                    "capture {name}: the regex has no group named '{group}'"
                ));
            }
            Capture::Pattern {
                name,
                regex: compiled,
                group,
            }
        }
    })
}

/// Every playbook available to a project.
#[derive(Debug, Clone, Default)]
pub struct Playbooks {
    pub playbooks: Vec<Playbook>,
}

impl Playbooks {
    /// The shipped playbooks, replaced or joined by those in
    /// `project_dir/playbooks/` (`*.yaml`, `*.yml`).
    pub fn load(project_dir: &Path) -> Result<Playbooks, PlaybookError> {
        let mut playbooks: Vec<Playbook> = Vec::new();
        let dir = project_dir.join("playbooks");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let origin = file.display().to_string();
            let bytes = std::fs::read(&file).map_err(|e| PlaybookError {
                place: Some((origin.clone(), None)),
                column: None,
                message: format!("cannot read: {e}"),
            })?;
            let text = crate::yaml::utf8_text(bytes, "a playbook").map_err(
                |((line, column), message)| PlaybookError {
                    place: Some((origin.clone(), Some(line))),
                    column: Some(column),
                    message,
                },
            )?;
            playbooks.push(Playbook::parse(&name, &text, &origin)?);
        }
        for (name, text) in BUILT_IN {
            if !playbooks.iter().any(|p| p.name == *name) {
                playbooks.push(Playbook::parse(name, text, &format!("built-in:{name}"))?);
            }
        }
        for playbook in &mut playbooks {
            playbook.dir = Some(project_dir.to_owned());
        }
        Ok(Playbooks { playbooks })
    }

    /// Every task, as `PLAYBOOK:TASK`.
    pub fn task_names(&self) -> Vec<String> {
        self.playbooks
            .iter()
            .flat_map(|p| {
                p.tasks
                    .iter()
                    .map(move |t| format!("{}:{}", p.name, t.name))
            })
            .collect()
    }

    /// The task `TASK` or `PLAYBOOK:TASK`, with its playbook.
    pub fn find(&self, name: &str) -> Result<(&Playbook, &Task), PlaybookError> {
        let (playbook, task) = match name.split_once(':') {
            Some((playbook, task)) => (Some(playbook), task),
            None => (None, name),
        };
        let found: Vec<(&Playbook, &Task)> = self
            .playbooks
            .iter()
            .filter(|p| playbook.is_none_or(|name| p.name == name))
            .flat_map(|p| {
                p.tasks
                    .iter()
                    .filter(|t| t.name == task)
                    .map(move |t| (p, t))
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(PlaybookError::new(format!(
                "no task '{name}'; known tasks: {}",
                self.task_names().join(", ")
            ))),
            many => Err(PlaybookError::new(format!(
                "task '{name}' is in several playbooks: {}; name it as PLAYBOOK:TASK",
                many.iter()
                    .map(|(p, t)| format!("{}:{}", p.name, t.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Playbook, PlaybookError> {
        Playbook::parse("p", text, "playbooks/p.yaml")
    }

    #[test]
    fn a_playbook_that_is_not_utf8_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("playbooks")).unwrap();
        let file = dir.path().join("playbooks/p.yaml");
        std::fs::write(
            &file,
            b"tasks:\n  t:\n    steps:\n      - run: echo caf\xe9\n",
        )
        .unwrap();
        let e = Playbooks::load(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:4:22: not UTF-8 text (byte 0xe9); a playbook must be UTF-8",
                file.display()
            )
        );
    }

    #[test]
    fn shipped_playbook_parses_and_classes_default_to_destroy() {
        let playbooks = Playbooks::load(Path::new("/nonexistent")).unwrap();
        let (_, flush) = playbooks.find("flush").unwrap();
        assert_eq!(flush.class, SafetyClass::Destroy);
        let (_, migrate) = playbooks.find("django:migrate").unwrap();
        assert_eq!(migrate.class, SafetyClass::Change);
        // Any management command may be flush: taken at its worst.
        let (_, manage) = playbooks.find("manage").unwrap();
        assert_eq!(manage.class, SafetyClass::Destroy);
        let p = parse("tasks:\n  t:\n    steps:\n      - run: echo\n").unwrap();
        assert_eq!(p.tasks[0].class, SafetyClass::Destroy);
        let e = playbooks.find("nope").unwrap_err();
        assert!(
            e.message.contains("known tasks") && e.message.contains("django:flush"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("tasks:\n  t:\n    steps:\n      - run: echo\n        cdw: x\n").unwrap_err();
        assert!(e.to_string().starts_with("playbooks/p.yaml:5:"), "{e}");
        let e = parse("tasks:\n  t:\n    steps:\n      - put: a\n").unwrap_err();
        assert!(
            e.to_string().contains("playbooks/p.yaml:4:") && e.message.contains("to:"),
            "{e}"
        );
        let e = parse("tasks:\n  t:\n    steps:\n      - run: a\n        put: b\n").unwrap_err();
        assert!(e.message.contains("this one has run, put"), "{e}");
        let e =
            parse("tasks:\n  t:\n    steps:\n      - put: a\n        to: b\n        sudo: true\n")
                .unwrap_err();
        assert!(
            e.message.contains("`sudo:` does not go with a `put` step"),
            "{e}"
        );
        let e = parse(
            "tasks:\n  t:\n    steps:\n      - run: a\n        on_failure:\n          - http: /\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("p.yaml:6:") && e.message.contains("socket:"),
            "{e}"
        );
        let e = parse("tasks:\n  t:\n    steps:\n      - run: x\n        capture: {name: k, regex: '(', group: g}\n")
            .unwrap_err();
        assert!(e.message.contains("bad regex"), "{e}");
        let e = parse("tasks:\n  t:\n    class: nuke\n    steps: []\n").unwrap_err();
        assert!(e.to_string().contains("p.yaml:3"), "{e}");
    }

    #[test]
    fn values_inside_shell_quotes_are_refused() {
        for bad in [
            r#"echo "hello {{ name }}""#,
            "echo 'hello {{ name }}'",
            "# don't forget\necho '{{ name }}'",
            "cat <<EOF\n{{ name }}\nEOF",
            "echo {{ env.DJANGO_SECRET_KEY }}",
            r#"echo "a \" {{ name }}""#,
            r#"echo "{{- name -}}""#,
        ] {
            let text = format!("tasks:\n  t:\n    steps:\n      - run: {bad:?}\n");
            let e = parse(&text).unwrap_err();
            assert!(
                e.to_string().starts_with("playbooks/p.yaml:4:")
                    && (e.message.contains("inside") || e.message.contains("`ps`")),
                "{bad}: {e}"
            );
        }
        for good in [
            r#"echo "hello "{{ name }}"#,
            "echo 'it''s' {{ name }} \\' {{ other }}",
            r#"echo "{{ name | safe }}" '{% if x %}' "{# note #}""#,
            r#"echo \"{{ name }}\""#,
            "echo it#s {{ name }} # a 'comment'\necho {{ name }}",
            "cat <<<{{ name }}",
        ] {
            let text = format!("tasks:\n  t:\n    steps:\n      - run: {good:?}\n");
            parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }
}
