//! Templates (minijinja, Jinja-compatible): `{{ host }}` and friends in
//! inventory values such as `env_file: "~/sites/{{ host }}/.env"`, and in
//! playbooks.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::host::Host;

/// Where a site lives on its server unless `vars.site` says otherwise: the
/// layout of the classic Django deployment (`~/sites/HOST`).
pub(crate) const DEFAULT_SITE: &str = "~/sites/{{ host }}";
/// The site's `.env`, unless `vars.env_file` says otherwise.
pub(crate) const DEFAULT_ENV_FILE: &str = "{{ site }}/.env";
/// The live site's log, where the shipped deploy's default restart has
/// gunicorn write it.
pub(crate) const SITE_LOG: &str = "{{ site }}/shared/gunicorn.log";

/// A template environment that refuses undefined variables, with the
/// filters `basename` (`{{ path | basename }}`) and `absolute`. Its errors
/// read the same in every build (minijinja names an undefined variable
/// only in debug builds): `missing` finds the names from the template.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_debug(false);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("absolute", absolute);
    env.add_filter("int", integer);
    env.add_filter("basename", |path: String| {
        path.rsplit('/')
            .find(|part| !part.is_empty())
            .unwrap_or_default()
            .to_owned()
    });
    env
}

/// Why `| absolute` failed: the plan was made without the server's home.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NeedsHome;

impl std::fmt::Display for NeedsHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("`absolute` needs the server's home, which this plan does not know")
    }
}

impl std::error::Error for NeedsHome {}

/// `{{ n | int }}`: the value if it is an integer (as a number or as
/// text), else an error naming it. Unlike minijinja's own `int`, nothing is
/// made 0 or rounded: a value for shell arithmetic is an integer or nothing.
fn integer(value: &minijinja::Value) -> Result<minijinja::Value, minijinja::Error> {
    let text = value.to_string();
    let number = if value.is_number() || value.kind() == minijinja::value::ValueKind::String {
        text.parse::<i64>().ok()
    } else {
        None
    };
    number.map(minijinja::Value::from).ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{text:?} is not an integer"),
        )
    })
}

/// `{{ path | absolute }}`: a leading `~` made the server's home, for
/// files (systemd units, nginx sites) that cannot expand it themselves.
fn absolute(state: &minijinja::State, path: String) -> Result<String, minijinja::Error> {
    if path != "~" && !path.starts_with("~/") {
        return Ok(path);
    }
    let home = state
        .lookup("home")
        .filter(|h| !h.is_undefined())
        .ok_or_else(|| {
            minijinja::Error::new(minijinja::ErrorKind::UndefinedError, NeedsHome.to_string())
                .with_source(NeedsHome)
        })?;
    Ok(format!("{home}{}", &path[1..]))
}

/// Whether `error` came from `| absolute` without the server's home.
fn is_needs_home(error: &minijinja::Error) -> bool {
    std::error::Error::source(error).is_some_and(<dyn std::error::Error>::is::<NeedsHome>)
}

/// Render `template` with `context`.
pub fn render(template: &str, context: &Map<String, Value>) -> Result<String, minijinja::Error> {
    environment().render_str(template, minijinja::value::Serde(context))
}

/// The variables `template` uses that `context` lacks (`env.KEY` when
/// `env` has no `KEY`), sorted: as the template itself declares them.
/// Empty if it does not parse.
pub(crate) fn missing(template: &str, context: &Map<String, Value>) -> Vec<String> {
    let env = environment();
    let Ok(parsed) = env.template_from_str(template) else {
        return Vec::new();
    };
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let mut names: Vec<String> = parsed
        .undeclared_variables(true)
        .into_iter()
        .filter(|name| {
            let mut path = name.split('.');
            let root = path.next().unwrap_or_default();
            if globals.contains(&root) {
                return false;
            }
            let mut value = context.get(root);
            for part in path {
                value = value.and_then(|v| v.get(part));
            }
            value.is_none()
        })
        .collect();
    names.sort();
    names
}

/// How far an explanation follows vars that need other vars.
const CHAIN_LIMIT: usize = 8;

/// A var that could not be rendered.
#[derive(Debug, Clone)]
struct Left {
    name: String,
    template: String,
    /// The variables its template uses that were not there.
    missing: Vec<String>,
    /// Why, in words, when not for want of other vars.
    why: String,
    /// Its own template used the server's home, which was not known.
    home: bool,
}

/// Vars that could not be rendered: left out of the context, so that only
/// a template that uses one fails (and says why).
#[derive(Debug, Clone, Default)]
pub(crate) struct Unrendered(Vec<Left>);

impl Unrendered {
    /// The var left out that `name` (`var` or `var.key`) is.
    fn get(&self, name: &str) -> Option<&Left> {
        let root = name.split('.').next().unwrap_or_default();
        self.0.iter().find(|left| left.name == root)
    }

    /// Why rendering `template` gave `error`, with `context`: the var left
    /// out that it needs, and why that one was (following the chain to
    /// its root), or the undefined variables it names, or the error itself.
    pub(crate) fn explain(
        &self,
        template: &str,
        error: &minijinja::Error,
        context: &Map<String, Value>,
    ) -> String {
        self.explain_missing(
            &undefined_in(template, error, context),
            &detail(error),
            CHAIN_LIMIT,
        )
    }

    fn explain_missing(&self, missing: &[String], why: &str, depth: usize) -> String {
        if depth > 0
            && let Some(left) = missing.iter().find_map(|name| self.get(name))
        {
            let root = self.explain_missing(&left.missing, &left.why, depth - 1);
            return format!("var '{}' ('{}'): {root}", left.name, left.template);
        }
        if missing.is_empty() {
            return why.to_owned();
        }
        let names: Vec<String> = missing.iter().map(|name| format!("'{name}'")).collect();
        format!("undefined variable {}", names.join(", "))
    }

    /// Whether rendering `template` failed (with `error`) for want of the
    /// server's home: `| absolute` on a `~` path, `{{ home }}`, or a var
    /// that needs one of those.
    pub(crate) fn needs_home(
        &self,
        template: &str,
        error: &minijinja::Error,
        context: &Map<String, Value>,
    ) -> bool {
        is_needs_home(error)
            || self.any_needs_home(&undefined_in(template, error, context), CHAIN_LIMIT)
    }

    fn any_needs_home(&self, missing: &[String], depth: usize) -> bool {
        missing.iter().any(|name| {
            name.split('.').next() == Some("home")
                || self.get(name).is_some_and(|left| {
                    left.home || depth > 0 && self.any_needs_home(&left.missing, depth - 1)
                })
        })
    }
}

/// The variables `template` lacks in `context`, when `error` is about an
/// undefined value (not for `| absolute` without the home: that is the
/// filter's own, and says so).
fn undefined_in(
    template: &str,
    error: &minijinja::Error,
    context: &Map<String, Value>,
) -> Vec<String> {
    if error.kind() == minijinja::ErrorKind::UndefinedError && !is_needs_home(error) {
        missing(template, context)
    } else {
        Vec::new()
    }
}

/// An error's own words.
fn detail(error: &minijinja::Error) -> String {
    error
        .detail()
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// A context and the vars it had to leave out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// The vars, ready to render with.
    pub values: Map<String, Value>,
    /// The vars left out, and why.
    pub unrendered: Unrendered,
}

impl Context {
    /// Render `template` with this context; an error names the template
    /// and, when a var it needs could not be rendered, that var and why.
    pub(crate) fn render(&self, template: &str) -> Result<String, String> {
        render(template, &self.values)
            .map_err(|e| self.unrendered.explain(template, &e, &self.values))
    }
}

/// What a host's templates see: `host` (its name), `user` (the login
/// user), `environment`, and the environment's `vars`, rendered (a var may
/// use `host` and other vars), with `site` defaulting to [`DEFAULT_SITE`].
pub(crate) fn host_context(host: &Host) -> Context {
    host_context_with(host, &[], Map::new())
}

/// Like [`host_context`], with `defaults` (a playbook's vars, say) that the
/// environment's `vars` override, and `known` values (not templates) the
/// vars may use.
pub(crate) fn host_context_with(
    host: &Host,
    defaults: &[(String, Value)],
    known: Map<String, Value>,
) -> Context {
    let mut values = known;
    values.insert("host".into(), host.name.clone().into());
    values.insert("user".into(), host.user.clone().into());
    values.insert(
        "environment".into(),
        host.environment.clone().unwrap_or_default().into(),
    );
    let mut vars: Vec<(String, Value)> = defaults
        .iter()
        .filter(|(k, _)| !host.vars.contains_key(k))
        .cloned()
        .collect();
    vars.extend(host.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    if !vars.iter().any(|(k, _)| k == "site") {
        vars.push(("site".into(), DEFAULT_SITE.into()));
    }
    let unrendered = render_vars(&mut values, vars);
    Context { values, unrendered }
}

/// Add `vars` to `context`, rendering string values, in whatever order
/// their references to each other need. Those that cannot be rendered are
/// left out, and returned.
pub(crate) fn render_vars(
    context: &mut Map<String, Value>,
    vars: Vec<(String, Value)>,
) -> Unrendered {
    let mut pending = vars;
    loop {
        let mut waiting = Vec::new();
        let mut failures = Vec::new();
        let before = pending.len();
        for (key, value) in pending {
            match &value {
                Value::String(template) => match render(template, context) {
                    Ok(text) => {
                        context.insert(key, Value::String(text));
                    }
                    Err(e) => {
                        failures.push(Left {
                            name: key.clone(),
                            template: template.clone(),
                            missing: undefined_in(template, &e, context),
                            why: detail(&e),
                            home: is_needs_home(&e),
                        });
                        waiting.push((key, value));
                    }
                },
                _ => {
                    context.insert(key, value);
                }
            }
        }
        if waiting.is_empty() || waiting.len() == before {
            return Unrendered(failures);
        }
        pending = waiting;
    }
}

fn render_for(host: &Host, template: &str, context: &Context) -> Result<String, Error> {
    context
        .render(template)
        .map_err(|why| Error::Usage(format!("{}: template '{template}': {why}", host.label)))
}

/// Render `template` for `host` (see [`host_context`]).
pub(crate) fn render_host(template: &str, host: &Host) -> Result<String, Error> {
    render_for(host, template, &host_context(host))
}

/// The path of `host`'s `.env`: `explicit`, else `vars.env_file`, else
/// [`DEFAULT_ENV_FILE`].
pub(crate) fn env_file(host: &Host, explicit: Option<&str>) -> Result<String, Error> {
    let context = host_context(host);
    let template = explicit
        .map(str::to_owned)
        .or_else(|| {
            context
                .values
                .get("env_file")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| DEFAULT_ENV_FILE.to_owned());
    render_for(host, &template, &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_and_env_file_defaults_and_overrides() {
        let mut host = Host::for_tests("web1");
        assert_eq!(env_file(&host, None).unwrap(), "~/sites/web1/.env");
        host.vars.insert("site".into(), "/srv/{{ host }}".into());
        assert_eq!(env_file(&host, None).unwrap(), "/srv/web1/.env");
        host.vars
            .insert("env_file".into(), "{{ site }}/config/env".into());
        assert_eq!(env_file(&host, None).unwrap(), "/srv/web1/config/env");
        assert_eq!(
            env_file(&host, Some("/x/{{ host }}.env")).unwrap(),
            "/x/web1.env"
        );
        let e = env_file(&host, Some("{{ nope }}")).unwrap_err();
        assert!(e.to_string().contains("web1"), "{e}");
    }
}
