//! Templates (minijinja, Jinja-compatible): `{{ host }}` and friends in
//! inventory values such as `env_file: "~/sites/{{ host }}/.env"`, and in
//! playbooks.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::resolve::Host;

/// Where a site lives on its server unless `vars.site` says otherwise: the
/// layout of the classic Django deployment (`~/sites/HOST`).
pub const DEFAULT_SITE: &str = "~/sites/{{ host }}";
/// The site's `.env`, unless `vars.env_file` says otherwise.
pub const DEFAULT_ENV_FILE: &str = "{{ site }}/.env";

/// A template environment that refuses undefined variables, with the
/// filters `basename` (`{{ path | basename }}`) and `absolute`.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
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
            minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                "`absolute` needs the server's home, which this plan does not know",
            )
        })?;
    Ok(format!("{home}{}", &path[1..]))
}

/// Render `template` with `context`.
pub fn render(template: &str, context: &Map<String, Value>) -> Result<String, minijinja::Error> {
    environment().render_str(template, minijinja::value::Serde(context))
}

/// Vars that could not be rendered: left out of the context, so that only
/// a template that uses one fails (and says why). (name, template, why)
#[derive(Debug, Clone, Default)]
pub struct Unrendered(Vec<(String, String, String)>);

impl Unrendered {
    /// When `error` is about a var left out, why that var was: following
    /// the chain to the var at its root.
    pub fn explain(&self, error: &minijinja::Error) -> Option<String> {
        let text = error.to_string();
        let (name, template, why) = self
            .0
            .iter()
            .find(|(name, _, _)| text.contains(&format!("`{name}` is undefined")))?;
        let root = self.explain_text(why, 8);
        Some(format!(
            "var '{name}' ('{template}'): {}",
            root.unwrap_or_else(|| why.clone())
        ))
    }

    fn explain_text(&self, why: &str, depth: usize) -> Option<String> {
        let (name, template, deeper) = self
            .0
            .iter()
            .find(|(name, _, _)| why.contains(&format!("`{name}` is undefined")))?;
        let root = if depth == 0 {
            None
        } else {
            self.explain_text(deeper, depth - 1)
        };
        Some(format!(
            "var '{name}' ('{template}'): {}",
            root.unwrap_or_else(|| deeper.clone())
        ))
    }
}

/// A context and the vars it had to leave out.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub values: Map<String, Value>,
    pub unrendered: Unrendered,
}

impl Context {
    /// Render `template` with this context; an error names the template
    /// and, when a var it needs could not be rendered, that var and why.
    pub fn render(&self, template: &str) -> Result<String, String> {
        render(template, &self.values).map_err(|e| self.why(&e))
    }

    /// `error`, in words, explained by the var behind it if there is one.
    pub fn why(&self, error: &minijinja::Error) -> String {
        self.unrendered.explain(error).unwrap_or_else(|| {
            error
                .detail()
                .map_or_else(|| error.to_string(), str::to_owned)
        })
    }
}

/// What a host's templates see: `host` (its name), `user` (the login
/// user), `environment`, and the environment's `vars`, rendered (a var may
/// use `host` and other vars), with `site` defaulting to [`DEFAULT_SITE`].
pub fn host_context(host: &Host) -> Context {
    host_context_with(host, &[], Map::new())
}

/// Like [`host_context`], with `defaults` (a playbook's vars, say) that the
/// environment's `vars` override, and `known` values (not templates) the
/// vars may use.
pub fn host_context_with(
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
pub fn render_vars(context: &mut Map<String, Value>, vars: Vec<(String, Value)>) -> Unrendered {
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
                        let why = e.detail().map_or_else(|| e.to_string(), str::to_owned);
                        failures.push((key.clone(), template.clone(), why));
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
pub fn render_host(template: &str, host: &Host) -> Result<String, Error> {
    render_for(host, template, &host_context(host))
}

/// The path of `host`'s `.env`: `explicit`, else `vars.env_file`, else
/// [`DEFAULT_ENV_FILE`].
pub fn env_file(host: &Host, explicit: Option<&str>) -> Result<String, Error> {
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
