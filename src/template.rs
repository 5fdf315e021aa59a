//! Templates (minijinja, Jinja-compatible): `{{ host }}` and friends in
//! inventory values such as `env_file: "~/sites/{{ host }}/.env"`.

use minijinja::{Environment, UndefinedBehavior};

use crate::error::Error;
use crate::resolve::Host;

/// A template environment that refuses undefined variables.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Render `template` for `host`: `{{ host }}` (its name), `{{ environment }}`
/// and the environment's `vars`.
pub fn render_host(template: &str, host: &Host) -> Result<String, Error> {
    let mut context = serde_json::Map::new();
    for (key, value) in &host.vars {
        context.insert(key.clone(), value.clone());
    }
    context.insert("host".into(), host.name.clone().into());
    context.insert(
        "environment".into(),
        host.environment.clone().unwrap_or_default().into(),
    );
    environment()
        .render_str(template, minijinja::value::Serde(context))
        .map_err(|e| Error::Usage(format!("{}: template '{template}': {e}", host.label)))
}
