//! No module circles inside the engine: among the modules under one parent (the top-level
//! modules of `engine/src`, the files of `tool/`, of `run/steps/` …), what one uses must not,
//! through any chain, use it back. A circle means two modules are one job split badly, or that a
//! fact lives in the wrong one; it is cut by moving the shared part below both.
//!
//! The check reads the sources as text: every `use` and every `crate::`/`super::` path outside
//! comments and `#[cfg(test)]` modules, each resolved to the module it names (through a parent's
//! `pub use` re-exports). A use of one's own ancestor's items is not a circle (a parent lists
//! its children; a child may use what the parent defines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// The engine and the desktop shell are held to the same rule.
#[test]
fn no_module_uses_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, src) in [
        ("engine/src", root.join("src")),
        ("src-tauri/src", root.join("../src-tauri/src")),
    ] {
        let circles = circles_in(&src);
        assert!(
            circles.is_empty(),
            "module circles in {name}:\n{}",
            circles.join("\n")
        );
    }
}

/// Every circle among sibling modules of the crate whose sources are under `src`, one line each.
fn circles_in(src: &Path) -> Vec<String> {
    let modules = modules_under(src);
    let known: BTreeSet<ModPath> = modules.keys().cloned().collect();
    let reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = modules
        .iter()
        .map(|(m, file)| (m.clone(), reexports_of(m, &code_of(file), &known)))
        .collect();
    // Edges between siblings: (parent, from child, to child) → one file that makes it.
    let mut edges: BTreeMap<(ModPath, String, String), String> = BTreeMap::new();
    for (m, file) in &modules {
        for used in uses_of(m, &code_of(file)) {
            let target = resolve(&used, &known, &reexports);
            let common = m.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common >= m.len() || common >= target.len() {
                continue; // itself, an ancestor, or a descendant
            }
            edges
                .entry((
                    m[..common].to_vec(),
                    m[common].clone(),
                    target[common].clone(),
                ))
                .or_insert_with(|| file.display().to_string());
        }
    }
    let mut circles = Vec::new();
    let parents: BTreeSet<&ModPath> = edges.keys().map(|(p, _, _)| p).collect();
    for parent in parents {
        let graph: BTreeMap<&str, Vec<&str>> = edges.keys().filter(|(p, _, _)| p == parent).fold(
            BTreeMap::new(),
            |mut g, (_, a, b)| {
                g.entry(a.as_str()).or_default().push(b.as_str());
                g
            },
        );
        for circle in cycles(&graph) {
            let shown: Vec<String> = circle
                .windows(2)
                .map(|w| {
                    let at = &edges[&(parent.clone(), w[0].to_string(), w[1].to_string())];
                    format!("{} → {} (in {at})", w[0], w[1])
                })
                .collect();
            circles.push(format!(
                "under `crate::{}`: {}",
                parent.join("::"),
                shown.join(", ")
            ));
        }
    }
    circles
}

/// Every module file under `src`, by module path (`tool/mcp/mod.rs` → `[tool, mcp]`). The
/// binaries under `src/bin` are crates of their own and left out.
fn modules_under(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel: Vec<String> = path
                .strip_prefix(src)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if rel.first().is_some_and(|f| f == "bin") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut m = rel.clone();
                let last = m.pop().unwrap();
                let stem = last.trim_end_matches(".rs");
                if !(stem == "mod" || (m.is_empty() && stem == "lib")) {
                    m.push(stem.to_string());
                }
                out.insert(m, path);
            }
        }
    }
    out
}

/// The file's code: comments and everything from the first `#[cfg(test)]` on left out.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            // `//` inside a string (an address) is rare in use lines; comments are what matter.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code uses, absolute from the crate root (`use super::x::Y` in `[tool, a]` →
/// `[tool, x, Y]`). `pub use` lines count: a re-export is a use.
fn uses_of(m: &ModPath, code: &str) -> Vec<ModPath> {
    let mut out = Vec::new();
    for tree in use_trees(code) {
        for path in expand(&tree) {
            if let Some(abs) = absolute(m, &path) {
                out.push(abs);
            }
        }
    }
    // Paths written in full in the code: `crate::event::ErrorKind::Auth`, `super::prompt::x`.
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts = ["crate::", "super::"].iter().any(|s| rest.starts_with(s));
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts && boundary && !preceded_by_use(code, i) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(abs) = absolute(m, &path) {
                out.push(abs);
            }
            i += end.max(1);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Whether byte `i` is inside a `use …;` statement (those are read as trees).
fn preceded_by_use(code: &str, i: usize) -> bool {
    let before = &code[..i];
    let stmt_start = before.rfind([';', '{', '}']).map_or(0, |j| j + 1);
    let stmt = before[stmt_start..].trim_start();
    let stmt = stmt.strip_prefix("pub(crate) ").unwrap_or(stmt);
    let stmt = stmt.strip_prefix("pub(super) ").unwrap_or(stmt);
    let stmt = stmt.strip_prefix("pub ").unwrap_or(stmt);
    stmt.starts_with("use ") || {
        // Inside the braces of a use tree: find the statement's real start.
        let mut depth = 0i32;
        for (j, c) in before.char_indices().rev() {
            match c {
                '}' => depth += 1,
                '{' if depth > 0 => depth -= 1,
                '{' => {
                    let head = before[..j].trim_end();
                    return head.ends_with("::")
                        && head
                            .rfind(';')
                            .map_or(head, |k| &head[k + 1..])
                            .contains("use ");
                }
                ';' => return false,
                _ => {}
            }
        }
        false
    }
}

/// The text of each `use …;` statement, after `use`.
fn use_trees(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let boundary = i == 0 || {
            let b = rest.as_bytes()[i - 1];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        let after = &rest[i + 4..];
        match after.find(';') {
            // Only a path tree: "… cannot use it;" in a string is not a use.
            Some(end)
                if boundary
                    && after[..end].chars().all(|c| {
                        c.is_ascii_alphanumeric() || c.is_whitespace() || "_:{},*".contains(c)
                    }) =>
            {
                out.push(
                    after[..end]
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out
}

/// `a::{b, c::{d, e as f}, self}` → `a::b`, `a::c::d`, `a::c::e`, `a`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts.into_iter().filter(|p| !p.is_empty()).collect()
    }
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            // `C as D` names C.
            let tree = tree.split(" as ").next().unwrap_or(tree);
            let path: Vec<String> = tree
                .split("::")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s != "self")
                .collect();
            vec![path]
        }
        Some(open) => {
            let prefix: Vec<String> = tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            split_top(inner)
                .into_iter()
                .flat_map(|part| {
                    expand(part).into_iter().map(|p| {
                        let mut full = prefix.clone();
                        full.extend(p);
                        full
                    })
                })
                .collect()
        }
    }
}

/// A path made absolute from module `m`; none for another crate's path.
fn absolute(m: &ModPath, path: &[String]) -> Option<ModPath> {
    let mut at: ModPath = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "super" | "self" => m.clone(),
        _ => return None,
    };
    let mut rest = path;
    if rest[0] == "crate" {
        rest = &rest[1..];
    } else {
        while let Some(first) = rest.first() {
            match first.as_str() {
                "super" => {
                    at.pop()?;
                }
                "self" => {}
                _ => break,
            }
            rest = &rest[1..];
        }
    }
    at.extend(rest.iter().cloned());
    Some(at)
}

/// The module a path names: its longest known prefix, followed through re-exports.
fn resolve(
    path: &ModPath,
    known: &BTreeSet<ModPath>,
    reexports: &BTreeMap<ModPath, BTreeMap<String, ModPath>>,
) -> ModPath {
    let mut m: ModPath = Vec::new();
    for (depth, part) in path.iter().enumerate() {
        let mut next = m.clone();
        next.push(part.clone());
        if known.contains(&next) {
            m = next;
            continue;
        }
        // An item: where it really lives, if this module only re-exports it.
        if let Some(source) = reexports.get(&m).and_then(|r| r.get(part))
            && source != &m
            && depth < 8
        {
            return source.clone();
        }
        break;
    }
    m
}

/// What a module re-exports (`pub use child::{A, B}`), by name → the module it comes from.
fn reexports_of(m: &ModPath, code: &str, known: &BTreeSet<ModPath>) -> BTreeMap<String, ModPath> {
    let mut out = BTreeMap::new();
    for line in code.split(';') {
        let t = line.trim_start();
        let Some(tree) = t
            .strip_prefix("pub use ")
            .or_else(|| t.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
        for path in expand(&tree) {
            let full = match path.first().map(String::as_str) {
                Some("crate" | "super" | "self") => absolute(m, &path),
                Some(_) => {
                    let mut p = m.clone();
                    p.extend(path.iter().cloned());
                    Some(p)
                }
                None => None,
            };
            let (Some(full), Some(name)) = (full, path.last()) else {
                continue;
            };
            let source = resolve(&full, known, &BTreeMap::new());
            out.insert(name.clone(), source);
        }
    }
    out
}

/// Every elementary circle's nodes, first node repeated at the end (one per set of nodes).
fn cycles<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    let mut found: Vec<Vec<&str>> = Vec::new();
    let mut seen_sets: BTreeSet<BTreeSet<&str>> = BTreeSet::new();
    for &start in graph.keys() {
        let mut stack = vec![(start, vec![start])];
        while let Some((node, path)) = stack.pop() {
            for &next in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                if next == start {
                    let set: BTreeSet<&str> = path.iter().copied().collect();
                    if seen_sets.insert(set) {
                        let mut circle = path.clone();
                        circle.push(start);
                        found.push(circle);
                    }
                } else if !path.contains(&next) && next > start && path.len() < 6 {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    found
}

#[test]
fn the_check_sees_a_circle_and_a_clean_tree() {
    let a = |s: &str| vec![s.to_string()];
    let m = vec!["tool".to_string(), "fetch_page".to_string()];
    assert_eq!(
        absolute(&m, &["super".into(), "web_search".into(), "X".into()]),
        Some(vec!["tool".into(), "web_search".into(), "X".into()])
    );
    assert_eq!(
        expand("super::{a::{B, C as D}, self}"),
        vec![
            vec!["super".to_string(), "a".into(), "B".into()],
            vec!["super".to_string(), "a".into(), "C".into()],
            vec!["super".to_string()],
        ]
    );
    let mut g: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    g.insert("event", vec!["workflow"]);
    g.insert("workflow", vec!["model_ref"]);
    g.insert("model_ref", vec!["event"]);
    assert_eq!(cycles(&g).len(), 1, "{:?}", cycles(&g));
    g.insert("model_ref", vec![]);
    assert!(cycles(&g).is_empty());
    let _ = a;
}
