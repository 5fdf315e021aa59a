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
/// (comments left out: a doc link is not an import), through a name the
/// crate root re-exports (`crate::Session` is `ssh`), or through a macro of
/// the root's (`stderr_line!` writes with `stderr`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reexports = root_reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
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
            let code = without_comments(&text);
            let names = found.entry(module.clone()).or_default();
            names.extend(
                crate_names(&code)
                    .map(|name| reexports.get(&name).cloned().unwrap_or(name))
                    .filter(|n| *n != module),
            );
            if code.contains("stderr_line!") && module != "stderr" {
                names.insert("stderr".to_owned());
            }
        }
    }
    found
}

/// `text` without its `//` comment lines.
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names `lib.rs` re-exports (`pub use ssh::{Session, Output};`), each
/// with the module it comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in lib.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = leading_name(path);
        let rest = path.trim_end_matches(';');
        let items = match rest.split_once('{') {
            Some((_, group)) => top_level_items(group.trim_end_matches('}')),
            None => vec![rest.rsplit("::").next().unwrap_or_default()],
        };
        for item in items {
            let name = item.rsplit("::").next().unwrap_or_default().trim();
            names.insert(leading_name(name), module.clone());
        }
    }
    names
}

/// The first name after each `crate::` in `code`, or, for a group
/// (`crate::{a, b::{C, D}}`, which may span lines), the first name of each
/// of its items.
fn crate_names(code: &str) -> impl Iterator<Item = String> + '_ {
    code.match_indices("crate::").flat_map(move |(at, _)| {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            Some(group) => top_level_items(group)
                .into_iter()
                .map(|item| leading_name(item.trim()))
                .collect(),
            None => vec![leading_name(rest)],
        };
        names.into_iter().filter(|n| !n.is_empty())
    })
}

/// The comma-separated items of a group whose opening brace is just before
/// `group`, up to its closing brace; nested groups stay inside their item.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..at]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
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

#[test]
fn imports_are_found_across_lines_through_reexports_and_macros() {
    let code = without_comments(
        "use crate::{\n    error::Error,\n    ssh::{Session, Output},\n    // crate::cli in a comment\n    Inventory,\n};\nlet x = crate::job::run();",
    );
    let reexports = root_reexports("pub use inventory::Inventory;\npub use ssh::{Chunk, Session};");
    let names: BTreeSet<String> = crate_names(&code)
        .map(|n| reexports.get(&n).cloned().unwrap_or(n))
        .collect();
    let expected: BTreeSet<String> = ["error", "ssh", "inventory", "job"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(names, expected);
    assert_eq!(reexports["Chunk"], "ssh");
}
