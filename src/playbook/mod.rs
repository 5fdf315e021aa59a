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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::guard::SafetyClass;

pub use render::{
    Action, Capture, Plan, PlannedStep, check_params, describe_params, env_file_for, parse_params,
    plan_task,
};

/// The playbooks that ship with roadie: (name, source).
pub const BUILT_IN: &[(&str, &str)] = &[("django", include_str!("../../playbooks/django.yaml"))];

/// A problem with a playbook or with how a task was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookError {
    /// The file, and the line when known.
    pub place: Option<(String, Option<u64>)>,
    pub message: String,
}

impl fmt::Display for PlaybookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some((file, Some(line))) => write!(f, "{file}:{line}: {}", self.message),
            Some((file, None)) => write!(f, "{file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PlaybookError {}

impl PlaybookError {
    fn new(message: impl Into<String>) -> PlaybookError {
        PlaybookError {
            place: None,
            message: message.into(),
        }
    }

    /// The same error, placed in `file` if it has no place yet.
    #[must_use]
    pub fn in_file(self, file: &str) -> PlaybookError {
        PlaybookError {
            place: self.place.or_else(|| Some((file.to_owned(), None))),
            message: self.message,
        }
    }
}

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
    params: BTreeMap<String, Option<ParamSchema>>,
    steps: Vec<Spanned<StepSchema>>,
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
    run: Option<Spanned<String>>,
    upload: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    #[serde(default)]
    sudo: bool,
    cwd: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    capture: Option<CaptureSchema>,
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

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// A shell command line (a template; values are quoted).
    Run(Source),
    /// Upload a local file (`upload`) to the server (`to`).
    Upload { from: Source, to: Source },
}

/// One step of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: Option<String>,
    pub kind: StepKind,
    pub sudo: bool,
    pub cwd: Option<Source>,
    pub env: Vec<(String, Source)>,
    pub capture: Option<Capture>,
    pub line: u64,
}

/// A task: steps with a safety class and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    pub description: Option<String>,
    pub class: SafetyClass,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
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
}

impl Playbook {
    /// Parse playbook text; `origin` names it in errors.
    pub fn parse(name: &str, text: &str, origin: &str) -> Result<Playbook, PlaybookError> {
        let at = |line: Option<u64>, message: String| PlaybookError {
            place: Some((origin.to_owned(), line)),
            message,
        };
        let schema: FileSchema = serde_saphyr::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            let column = e.location().map(|l| l.column()).unwrap_or_default();
            let message = e.to_string();
            let first = message.lines().next().unwrap_or_default().trim();
            at(line, format!("column {column}: {first}"))
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
                        .map_err(|m| at(Some(line), format!("task {task_name}: {m}")))?,
                );
            }
            if steps.is_empty() {
                return Err(at(None, format!("task {task_name} has no steps")));
            }
            tasks.push(Task {
                name: task_name,
                description: task.description,
                // A task that does not say what it does is taken at its worst.
                class: task.class.unwrap_or(SafetyClass::Destroy),
                params,
                steps,
            });
        }
        Ok(Playbook {
            name: name.to_owned(),
            origin: origin.to_owned(),
            description: schema.description,
            vars: schema.vars.into_iter().collect(),
            env_file: schema.env_file.map(Source::from),
            tasks,
        })
    }
}

fn step(schema: StepSchema, line: u64) -> Result<Step, String> {
    let kind = match (schema.run, schema.upload, schema.to) {
        (Some(run), None, None) => {
            render::check_value_quoting(&run.value)?;
            StepKind::Run(run.into())
        }
        (None, Some(from), Some(to)) => StepKind::Upload {
            from: from.into(),
            to: to.into(),
        },
        (None, Some(_), None) => {
            return Err("an upload step needs `to:` (where it goes on the server)".into());
        }
        (None, None, _) => return Err("a step needs `run:` or `upload:`".into()),
        (Some(_), _, _) => return Err("a step has either `run:` or `upload:`, not both".into()),
    };
    let capture = match schema.capture {
        None => None,
        Some(_) if !matches!(kind, StepKind::Run(_)) => {
            return Err("only a `run` step can capture".into());
        }
        Some(CaptureSchema::Stdout(name)) => Some(Capture::Stdout(name)),
        Some(CaptureSchema::Pattern { name, regex, group }) => {
            let compiled =
                regex::Regex::new(&regex).map_err(|e| format!("capture {name}: bad regex: {e}"))?;
            if let Some(group) = &group
                && !compiled.capture_names().flatten().any(|n| n == group)
            {
                return Err(format!(
                    "capture {name}: the regex has no group named '{group}'"
                ));
            }
            Some(Capture::Pattern {
                name,
                regex: compiled,
                group,
            })
        }
    };
    for key in schema.env.keys() {
        if !crate::command::is_env_name(key) {
            return Err(format!("'{key}' is not a valid variable name"));
        }
    }
    Ok(Step {
        name: schema.name,
        kind,
        sudo: schema.sudo,
        cwd: schema.cwd.map(Source::from),
        env: schema.env.into_iter().map(|(k, v)| (k, v.into())).collect(),
        capture,
        line,
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
            let text = std::fs::read_to_string(&file).map_err(|e| PlaybookError {
                place: Some((origin.clone(), None)),
                message: format!("cannot read: {e}"),
            })?;
            playbooks.push(Playbook::parse(&name, &text, &origin)?);
        }
        for (name, text) in BUILT_IN {
            if !playbooks.iter().any(|p| p.name == *name) {
                playbooks.push(Playbook::parse(name, text, &format!("built-in:{name}"))?);
            }
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
        let e = parse("tasks:\n  t:\n    steps:\n      - upload: a\n").unwrap_err();
        assert!(
            e.to_string().contains("playbooks/p.yaml:4:") && e.message.contains("to:"),
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
            r#"echo "a \" {{ name }}""#,
            r#"echo "{{- name -}}""#,
        ] {
            let text = format!("tasks:\n  t:\n    steps:\n      - run: {bad:?}\n");
            let e = parse(&text).unwrap_err();
            assert!(
                e.to_string().starts_with("playbooks/p.yaml:4:") && e.message.contains("inside"),
                "{bad}: {e}"
            );
        }
        for good in [
            r#"echo "hello "{{ name }}"#,
            "echo 'it''s' {{ name }} \\' {{ other }}",
            r#"echo "{{ name | safe }}" '{% if x %}' "{# note #}""#,
            r#"echo \"{{ name }}\""#,
        ] {
            let text = format!("tasks:\n  t:\n    steps:\n      - run: {good:?}\n");
            parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }
}
