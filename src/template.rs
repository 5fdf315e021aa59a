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

/// A template environment that refuses undefined variables, with a
/// `basename` filter (`{{ path | basename }}`).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("basename", |path: String| {
        path.rsplit('/')
            .find(|part| !part.is_empty())
            .unwrap_or_default()
            .to_owned()
    });
    env
}

/// Render `template` with `context`.
pub fn render(template: &str, context: &Map<String, Value>) -> Result<String, minijinja::Error> {
    environment().render_str(template, minijinja::value::Serde(context))
}

/// What a host's templates see: `host` (its name), `environment`, and the
/// environment's `vars`, rendered (a var may use `host` and other vars),
/// with `site` defaulting to [`DEFAULT_SITE`].
pub fn host_context(host: &Host) -> Result<Map<String, Value>, Error> {
    host_context_with(host, &[]).map_err(|(template, e)| {
        Error::Usage(format!("{}: template '{template}': {e}", host.label))
    })
}

/// Like [`host_context`], with `defaults` (a playbook's vars, say) that the
/// environment's `vars` override. On error: the template and why.
pub fn host_context_with(
    host: &Host,
    defaults: &[(String, Value)],
) -> Result<Map<String, Value>, (String, minijinja::Error)> {
    let mut context = Map::new();
    context.insert("host".into(), host.name.clone().into());
    context.insert(
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
    render_vars(&mut context, vars)?;
    Ok(context)
}

/// Add `vars` to `context`, rendering string values, in whatever order
/// their references to each other need; the first that cannot be rendered
/// is the error (its template and why).
pub fn render_vars(
    context: &mut Map<String, Value>,
    vars: Vec<(String, Value)>,
) -> Result<(), (String, minijinja::Error)> {
    let mut pending = vars;
    loop {
        let mut waiting = Vec::new();
        let mut first_error = None;
        let before = pending.len();
        for (key, value) in pending {
            match &value {
                Value::String(template) => match render(template, context) {
                    Ok(text) => {
                        context.insert(key, Value::String(text));
                    }
                    Err(e) => {
                        first_error.get_or_insert((template.clone(), e));
                        waiting.push((key, value));
                    }
                },
                _ => {
                    context.insert(key, value);
                }
            }
        }
        match first_error {
            None => return Ok(()),
            Some(error) if waiting.len() == before => return Err(error),
            Some(_) => pending = waiting,
        }
    }
}

fn render_for(host: &Host, template: &str, context: &Map<String, Value>) -> Result<String, Error> {
    render(template, context)
        .map_err(|e| Error::Usage(format!("{}: template '{template}': {e}", host.label)))
}

/// Render `template` for `host` (see [`host_context`]).
pub fn render_host(template: &str, host: &Host) -> Result<String, Error> {
    render_for(host, template, &host_context(host)?)
}

/// The path of `host`'s `.env`: `explicit`, else `vars.env_file`, else
/// [`DEFAULT_ENV_FILE`].
pub fn env_file(host: &Host, explicit: Option<&str>) -> Result<String, Error> {
    let context = host_context(host)?;
    let template = explicit
        .map(str::to_owned)
        .or_else(|| {
            context
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
