//! The `vars` of the sandbox environments (`sandbox` and the `--production`
//! one): a `site` of the sandbox's own (the sandbox logs in as the local
//! user, so `~/sites/HOST` would be shared by every sandbox on the machine),
//! and the user's own vars, which every `roadie sandbox up` keeps.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::Error;
use crate::inventory::Inventory;

/// How every sandbox's default `site` ends, after its own directory.
const SITE_TAIL: &str = "sites/{{ host }}";

/// The sandbox's default site: `DIR/sites/{{ host }}`, under its own
/// `.roadie/sandbox/` directory `dir`.
pub(super) fn default_site(dir: &Path) -> String {
    format!("{}/{SITE_TAIL}", dir.display())
}

/// Create the default site directory of each host (named by its address,
/// as `{{ host }}` is), so that the site can be used at once.
pub(super) fn create_default_sites(dir: &Path, hosts: &[std::net::Ipv4Addr]) -> Result<(), Error> {
    for host in hosts {
        let site = dir.join("sites").join(host.to_string());
        std::fs::create_dir_all(&site)
            .map_err(|e| Error::io(format!("cannot create {}", site.display()), e))?;
    }
    Ok(())
}

/// The vars to write for `environment`: those it has in `inventory` now
/// (not the ones it only inherits from the top-level `vars`), `extra` on
/// top, and the default site unless the user chose one. A default site of
/// another directory (an inventory copied from another project) is replaced.
pub(super) fn sandbox_vars(
    inventory: &Path,
    dir: &Path,
    environment: &str,
    extra: &[(String, String)],
) -> Result<BTreeMap<String, Value>, Error> {
    let mut vars = current_vars(inventory, environment)?;
    vars.extend(
        extra
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone()))),
    );
    let site = default_site(dir);
    let chosen = vars
        .get("site")
        .is_some_and(|v| v.as_str() != Some(&site) && !is_a_default_site(v));
    if !chosen {
        vars.insert("site".into(), Value::String(site));
    }
    Ok(vars)
}

/// `environment`'s own vars in the inventory, if there is one.
fn current_vars(inventory: &Path, environment: &str) -> Result<BTreeMap<String, Value>, Error> {
    if !inventory.is_file() {
        return Ok(BTreeMap::new());
    }
    let parsed = Inventory::load(inventory)?;
    let Some(environment) = parsed.environment(environment) else {
        return Ok(BTreeMap::new());
    };
    Ok(environment
        .vars
        .iter()
        .filter(|(name, value)| parsed.vars.get(*name) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect())
}

/// A site some sandbox wrote by default: `.../.roadie/sandbox/sites/{{ host }}`.
fn is_a_default_site(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|s| s.strip_suffix(SITE_TAIL))
        .is_some_and(|dir| dir.ends_with("/.roadie/sandbox/"))
}

/// `vars:` lines for an environment whose keys are indented by `indent`;
/// values (and names other than identifiers) are written as JSON, which is
/// quoted, valid YAML.
pub(super) fn vars_lines(vars: &BTreeMap<String, Value>, indent: &str, step: &str) -> Vec<String> {
    if vars.is_empty() {
        return Vec::new();
    }
    let key = |name: &str| {
        if crate::dotenv::is_env_name(name) {
            name.to_owned()
        } else {
            Value::from(name).to_string()
        }
    };
    let mut lines = vec![format!("{indent}vars:")];
    lines.extend(
        vars.iter()
            .map(|(name, value)| format!("{indent}{step}{}: {value}", key(name))),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_site_of_another_sandbox_is_recognised() {
        let other = Value::from(default_site(Path::new("/elsewhere/.roadie/sandbox")));
        assert!(is_a_default_site(&other));
        assert!(!is_a_default_site(&Value::from("/srv/sites/{{ host }}")));
        assert!(!is_a_default_site(&Value::from(3)));
    }

    #[test]
    fn vars_lines_quote_names_and_values() {
        let vars = BTreeMap::from([
            ("site".to_owned(), Value::from("/a b/it's: {{ host }}")),
            ("n".to_owned(), Value::from(3)),
            ("odd: name".to_owned(), Value::from(true)),
        ]);
        let lines = vars_lines(&vars, "    ", "  ");
        let text = format!("environments:\n  e:\n{}\n", lines.join("\n"));
        let inv = Inventory::parse(&text, Path::new("t.yaml"), Path::new(".")).unwrap();
        assert_eq!(inv.environment("e").unwrap().vars, vars);
        assert!(vars_lines(&BTreeMap::new(), "", "").is_empty());
    }
}
