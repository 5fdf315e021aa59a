//! The crate's layers, kept: every module imports only from its own layer
//! or those below, and never in a cycle. The table is the layer list of
//! `lib.rs`; a new module must be put in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and its layer (see the list in `lib.rs`).
const LAYERS: &[(&str, u8)] = &[
    ("certificate", 1),
    ("command", 1),
    ("dotenv", 1),
    ("duration", 1),
    ("error", 1),
    ("event", 1),
    ("host", 1),
    ("inventory", 1),
    ("known_hosts", 1),
    ("playbook", 1),
    ("safety", 1),
    ("ssh_config", 1),
    ("stage", 1),
    ("stderr", 1),
    ("template", 1),
    ("timings", 1),
    ("tunnel_spec", 1),
    ("yaml", 1),
    ("guard", 2),
    ("resolve", 2),
    ("ssh", 3),
    ("debug", 4),
    ("debug_publish", 4),
    ("diagnose", 4),
    ("health", 4),
    ("job", 4),
    ("memory", 4),
    ("remote_env", 4),
    ("stacks", 4),
    ("transfer", 4),
    ("tunnel", 4),
    ("verify", 4),
    ("audit", 5),
    ("blocking", 5),
    ("project", 5),
    ("outcome", 5),
    ("runner", 5),
    ("output", 6),
    ("cli", 7),
    ("demo", 7),
    ("sandbox", 7),
];

/// The top-level modules each module's code names through `crate::`
/// (comments left out: a doc link is not an import).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = Path::new(first)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if ["lib", "main", "layers"].contains(&module.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let names = found.entry(module.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                names.extend(crate_names(line).filter(|n| *n != module));
            }
        }
    }
    found
}

/// The modules after each `crate::` in `line`, groups (`crate::{a, b::c}`)
/// included.
fn crate_names(line: &str) -> impl Iterator<Item = String> + '_ {
    line.match_indices("crate::").flat_map(move |(at, _)| {
        let rest = &line[at + "crate::".len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            Some(group) => group
                .split(['}', ';'])
                .next()
                .unwrap_or_default()
                .split(',')
                .map(|item| leading_name(item.trim()))
                .collect(),
            None => vec![leading_name(rest)],
        };
        names.into_iter().filter(|n| !n.is_empty())
    })
}

fn leading_name(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn layer(module: &str) -> u8 {
    LAYERS.iter().find(|(name, _)| *name == module).map_or_else(
        || panic!("module {module} is not in the layer table of src/layers.rs"),
        |(_, layer)| *layer,
    )
}

#[test]
fn every_module_has_a_layer_and_every_layer_entry_a_module() {
    let found = imports();
    for module in found.keys() {
        layer(module);
    }
    for (name, _) in LAYERS {
        assert!(
            found.contains_key(*name),
            "{name} is in the table but not in src/"
        );
    }
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (module, names) in imports() {
        for name in names.iter().filter(|n| LAYERS.iter().any(|(m, _)| m == n)) {
            if layer(name) > layer(&module) {
                upward.push(format!(
                    "{module} (layer {}) imports {name} (layer {})",
                    layer(&module),
                    layer(name)
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports going up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let graph = imports();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle: {cycle}");
        }
    }
}

/// Depth-first search from `module`: a module met again on the current
/// path closes a cycle, which is returned.
fn visit<'a>(
    module: &'a str,
    graph: &'a BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<String> {
    if let Some(start) = path.iter().position(|m| *m == module) {
        let mut cycle = path[start..].to_vec();
        cycle.push(module);
        return Some(cycle.join(" -> "));
    }
    if !done.insert(module) {
        return None;
    }
    path.push(module);
    for next in graph.get(module).into_iter().flatten() {
        if let Some(cycle) = visit(next, graph, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}
