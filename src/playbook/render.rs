//! Turning a task into the steps for one host: the context (host, vars,
//! params, the server's `.env`), the templates rendered, every value that a
//! `run` line interpolates shell-quoted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Value;
use serde_json::Map;

use super::{Playbook, PlaybookError, Source, StepKind, Task};
use crate::command::{RemoteCommand, Sudo, quote, quote_path};
use crate::dotenv::DotEnv;
use crate::resolve::Host;

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

/// What a planned step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(RemoteCommand),
    /// A local file to put on the server (atomically).
    Upload {
        local: PathBuf,
        remote: String,
    },
}

/// A step ready to run on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub label: String,
    pub action: Action,
    pub capture: Option<Capture>,
}

impl PlannedStep {
    /// For `--check`: what would be done (secret values not shown).
    pub fn display(&self) -> String {
        match &self.action {
            Action::Run(command) => command.render_for_display(),
            Action::Upload { local, remote } => format!("upload {} -> {remote}", local.display()),
        }
    }
}

/// The steps of a task for one host.
pub type Plan = Vec<PlannedStep>;

fn template_environment(shell: bool) -> Environment<'static> {
    let mut env = crate::template::environment();
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

/// A `run` template must not put a value inside shell quotes: each value is
/// quoted as one word, and inside `"..."` (or `'...'`) those quotes would be
/// literal text, leaving `$(...)` in the value live. `| safe` says the
/// author quotes it.
pub(super) fn check_value_quoting(template: &str) -> Result<(), String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Quotes {
        None,
        Single,
        Double,
    }
    let mut state = Quotes::None;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let block_end = match rest.get(..2) {
            Some("{{") => Some("}}"),
            Some("{%") => Some("%}"),
            Some("{#") => Some("#}"),
            _ => None,
        };
        if let Some(close) = block_end {
            let end = rest.find(close).map_or(rest.len(), |i| i + 2);
            let block = &rest[..end];
            if close == "}}" && state != Quotes::None && !marked_safe(block) {
                let (what, example) = if state == Quotes::Double {
                    ("\"...\"", "echo \"hello \"{{ name }}")
                } else {
                    ("'...'", "echo 'hello '{{ name }}")
                };
                return Err(format!(
                    "`{block}` is inside {what}: roadie quotes each value as a shell word, \
                     which inside quotes would not protect it. Put it outside the quotes \
                     (`{example}`), or mark it `| safe` if you quote it yourself"
                ));
            }
            rest = &rest[end..];
            continue;
        }
        let mut step = c.len_utf8();
        match (state, c) {
            (Quotes::None | Quotes::Double, '\\') => {
                step += rest[step..].chars().next().map_or(0, char::len_utf8);
            }
            (Quotes::None, '\'') => state = Quotes::Single,
            (Quotes::None, '"') => state = Quotes::Double,
            (Quotes::Single, '\'') | (Quotes::Double, '"') => state = Quotes::None,
            _ => {}
        }
        rest = &rest[step..];
    }
    Ok(())
}

/// Does the expression `{{ ... }}` end with the `safe` filter?
fn marked_safe(block: &str) -> bool {
    let inner = block
        .trim_start_matches("{{")
        .trim_end_matches("}}")
        .trim_matches(['-', '+'])
        .trim();
    inner
        .rsplit_once('|')
        .is_some_and(|(_, filter)| filter.trim() == "safe")
}

struct Renderer<'a> {
    playbook: &'a Playbook,
    task: &'a Task,
    context: Map<String, serde_json::Value>,
    shell: Environment<'static>,
    plain: Environment<'static>,
}

impl Renderer<'_> {
    fn error(&self, line: Option<u64>, message: &str) -> PlaybookError {
        PlaybookError {
            place: Some((self.playbook.origin.clone(), line)),
            message: format!("task {}: {message}", self.task.name),
        }
    }

    fn render(&self, source: &Source, shell: bool, what: &str) -> Result<String, PlaybookError> {
        let env = if shell { &self.shell } else { &self.plain };
        env.render_str(&source.text, minijinja::value::Serde(&self.context))
            .map_err(|e| {
                let line = source.line + e.line().map_or(0, |l| l as u64).saturating_sub(1);
                self.error(
                    Some(line),
                    &format!("{what}: {}", e.detail().unwrap_or(&e.to_string())),
                )
            })
    }
}

/// The path of the `.env` a task applies on `host`: the environment's
/// `vars.env_file`, else the playbook's `env_file`, else none.
pub fn env_file_for(
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
    let renderer = renderer(playbook, task, host, &BTreeMap::new(), None, true)?;
    renderer.render(&template, false, "env_file").map(Some)
}

fn renderer<'a>(
    playbook: &'a Playbook,
    task: &'a Task,
    host: &Host,
    params: &BTreeMap<String, String>,
    dotenv: Option<&DotEnv>,
    skip_params: bool,
) -> Result<Renderer<'a>, PlaybookError> {
    let at = |message: String| PlaybookError {
        place: Some((playbook.origin.clone(), None)),
        message: format!("task {}: {message}", task.name),
    };
    let mut context =
        crate::template::host_context_with(host, &playbook.vars).map_err(|(template, e)| {
            at(format!(
                "var '{template}': {}",
                e.detail().unwrap_or(&e.to_string())
            ))
        })?;
    context.insert("task".into(), task.name.clone().into());
    let mut renderer = Renderer {
        playbook,
        task,
        context,
        shell: template_environment(true),
        plain: template_environment(false),
    };
    if !skip_params {
        check_params(task, params).map_err(|e| e.in_file(&playbook.origin))?;
        for param in &task.params {
            // Given values are data, never templates; defaults are templates.
            let value = match (params.get(&param.name), &param.default) {
                (Some(given), _) => given.clone(),
                (None, Some(default)) => renderer.render(
                    &Source {
                        text: default.clone(),
                        line: 0,
                    },
                    false,
                    &format!("default of {}", param.name),
                )?,
                (None, None) => unreachable!("check_params found every required parameter"),
            };
            renderer.context.insert(param.name.clone(), value.into());
        }
    }
    if let Some(dotenv) = dotenv {
        let env: Map<String, serde_json::Value> = dotenv
            .entries()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        renderer.context.insert("env".into(), env.into());
    }
    Ok(renderer)
}

/// The steps of `task` for `host`, with `params` given and the server's
/// `.env` (when the task applies one).
pub fn plan_task(
    playbook: &Playbook,
    task: &Task,
    host: &Host,
    params: &BTreeMap<String, String>,
    dotenv: Option<&DotEnv>,
) -> Result<Plan, PlaybookError> {
    let renderer = renderer(playbook, task, host, params, dotenv, false)?;
    let sudo_password = std::env::var(crate::SUDO_PASSWORD_VAR).ok();
    let mut plan = Vec::new();
    for (index, step) in task.steps.iter().enumerate() {
        let what = |part: &str| format!("step {} ({part})", index + 1);
        let (label, action) = match &step.kind {
            StepKind::Run(source) => {
                let script = renderer.render(source, true, &what("run"))?;
                let mut command = RemoteCommand::shell(script.clone());
                if let Some(cwd) = &step.cwd {
                    command = command.cwd(renderer.render(cwd, false, &what("cwd"))?);
                }
                for (name, value) in &step.env {
                    let value = renderer.render(value, false, &what(&format!("env {name}")))?;
                    command = command
                        .env(name, &value)
                        .map_err(|e| renderer.error(Some(step.line), &e.to_string()))?;
                }
                if let Some(dotenv) = dotenv {
                    command = command.secret_env(dotenv.entries());
                }
                if step.sudo {
                    command = command.sudo(Sudo {
                        password: sudo_password.clone(),
                    });
                }
                let first = script.lines().next().unwrap_or_default().to_owned();
                (step.name.clone().unwrap_or(first), Action::Run(command))
            }
            StepKind::Upload { from, to } => {
                let local = PathBuf::from(renderer.render(from, false, &what("upload"))?);
                let remote = renderer.render(to, false, &what("to"))?;
                let label = step
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("upload {}", local.display()));
                (label, Action::Upload { local, remote })
            }
        };
        plan.push(PlannedStep {
            label,
            action,
            capture: step.capture.clone(),
        });
    }
    Ok(plan)
}

/// Every parameter given is declared, and every required one is given.
pub fn check_params(task: &Task, params: &BTreeMap<String, String>) -> Result<(), PlaybookError> {
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
pub fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, String>, PlaybookError> {
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
pub fn describe_params(task: &Task) -> String {
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

    fn run_of(plan: &Plan, i: usize) -> &RemoteCommand {
        match &plan[i].action {
            Action::Run(c) => c,
            Action::Upload { .. } => panic!("not a run step"),
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
        let plan = plan_task(&p, &p.tasks[0], &host(), &params, None).unwrap();
        let command = run_of(&plan, 0);
        assert_eq!(
            command.script,
            "virtualenv/bin/python manage.py create_session 'o'\\''brien@example.com; rm -rf ~' check --deploy \"$HOME\"/sites/web1"
        );
        assert_eq!(command.cwd.as_deref(), Some("~/sites/web1"));
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
        let plan = plan_task(&p, &p.tasks[0], &h, &params, None).unwrap();
        assert_eq!(run_of(&plan, 0).script, "echo /srv/staging '{{ site }}'");
    }

    #[test]
    fn dotenv_is_applied_as_secret_variables_and_visible_as_env() {
        let p = playbook("tasks:\n  t:\n    steps:\n      - run: echo {{ env.SITENAME }}\n");
        let dotenv = DotEnv::parse("SITENAME=staging.example.org\nDJANGO_SECRET_KEY=s3cret\n");
        let plan = plan_task(&p, &p.tasks[0], &host(), &BTreeMap::new(), Some(&dotenv)).unwrap();
        let command = run_of(&plan, 0);
        assert_eq!(command.script, "echo staging.example.org");
        assert!(!command.render().contains("s3cret"));
        assert!(!plan[0].display().contains("s3cret"));
        assert!(
            String::from_utf8(command.stdin().unwrap())
                .unwrap()
                .contains("DJANGO_SECRET_KEY=s3cret")
        );
    }

    #[test]
    fn errors_name_the_file_line_and_what_is_missing() {
        let p = playbook(
            "tasks:\n  t:\n    params: {email: {description: who}}\n    steps:\n      - run: echo {{ emial }}\n",
        );
        let e = plan_task(&p, &p.tasks[0], &host(), &BTreeMap::new(), None).unwrap_err();
        assert!(e.message.contains("needs --param email=VALUE (who)"), "{e}");
        let params = BTreeMap::from([("email".to_owned(), "a@b".to_owned())]);
        let e = plan_task(&p, &p.tasks[0], &host(), &params, None).unwrap_err();
        assert!(e.to_string().starts_with("playbooks/p.yaml:5:"), "{e}");
        assert!(e.message.contains("emial"), "{e}");
        let params = BTreeMap::from([("nope".to_owned(), "1".to_owned())]);
        let e = plan_task(&p, &p.tasks[0], &host(), &params, None).unwrap_err();
        assert!(
            e.message.contains("no parameter 'nope' (it takes: email)"),
            "{e}"
        );
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
