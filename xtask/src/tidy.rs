//! `cargo xtask tidy`: the source rules a lint cannot check, over every `.rs`
//! file under `crates/`, `examples/`, `benches/` and `xtask/` (any `target/`
//! and hidden directories skipped). The `workspace_is_tidy` test runs the same
//! check, so `cargo test --workspace` enforces it.
//!
//! The rules:
//! - the first non-empty line of every file is a `//!` module doc;
//! - files stay short: a file over 800 lines gets a warning (printed, not a
//!   failure: look for a seam where a concept ends), one over 1,500 lines is
//!   a violation. The soft limit flags growth without forcing splits by size
//!   rather than by concept;
//! - the OS-selecting `cfg` key (target + `_os`) appears only in files under a
//!   directory named `sys` (OS-specific code lives in `sys/` modules);
//! - no placeholder macros (to-do, unimplemented);
//! - every unsafe block and unsafe impl has a `SAFETY` comment (the word and a
//!   colon) on one of the 3 lines above it, in the comment block directly above
//!   it, or earlier on its own line. Plain `//` comments and doc-comment prose
//!   are not code; code blocks in doc comments are;
//! - the docs users read go through the facade: no doc-comment line of
//!   `crates/*/src` and `examples/src` (code blocks with their hidden `# `
//!   lines, prose and intra-doc link targets alike) names a layer crate's
//!   path (`tulip_streams::` and the like), only `tulip::`.
//!
//! Violations fail the check; warnings are printed and counted.
//!
//! The rule words are assembled with `concat!` so that this file obeys itself.

use crate::cmd::workspace_root;
use std::fmt;
use std::path::{Path, PathBuf};

/// The top-level directories that are checked.
const DIRS: &[&str] = &["crates", "examples", "benches", "xtask"];

/// Above this many lines a file gets a warning.
const WARN_LINES: usize = 800;

/// The longest a file may be, in lines.
const MAX_LINES: usize = 1500;

/// The layer crates that doc examples must not name: users depend on the
/// `tulip` facade, which re-exports them.
const LAYER_CRATES: &[&str] = &[
    "tulip_executor",
    "tulip_transport",
    "tulip_streams",
    "tulip_sync",
    "tulip_process",
    "tulip_reactor",
];

/// The cfg key that must stay in `sys/` directories.
const OS_CFG: &str = concat!("target", "_os");

/// Macros that must not be committed.
const PLACEHOLDERS: &[&str] = &[concat!("to", "do!("), concat!("unimple", "mented!(")];

/// The marker an unsafe block or impl needs above it.
const SAFETY: &str = concat!("SAFETY", ":");

/// The keyword of the unsafe rule.
const UNSAFE: &str = concat!("un", "safe");

/// How many lines above an unsafe block or impl may hold its SAFETY comment.
const SAFETY_WINDOW: usize = 3;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Printed and counted; the check still passes.
    Warning,
    /// A broken rule: the check fails.
    Violation,
}

/// One finding at a place in a file: a broken rule or a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// Whether it fails the check.
    pub level: Level,
    /// What is wrong.
    pub message: String,
}

impl Violation {
    /// Whether this finding fails the check.
    pub fn fails(&self) -> bool {
        self.level == Level::Violation
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warning = match self.level {
            Level::Warning => "warning: ",
            Level::Violation => "",
        };
        write!(
            f,
            "{}:{}: {warning}{}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

/// Runs the check on the workspace and prints the violations and warnings.
pub fn run() -> Result<(), String> {
    let (files, findings) = check_tree(&workspace_root(), DIRS)?;
    for finding in &findings {
        println!("{finding}");
    }
    let summary = summary(files, &findings);
    if findings.iter().any(Violation::fails) {
        Err(summary)
    } else {
        println!("{summary}");
        Ok(())
    }
}

/// One line: files checked, violations, warnings, and how many of the
/// findings are doc lines through a layer crate.
pub fn summary(files: usize, findings: &[Violation]) -> String {
    let violations = findings.iter().filter(|f| f.fails()).count();
    let warnings = findings.len() - violations;
    let layer_docs = findings
        .iter()
        .filter(|f| f.message.starts_with(LAYER_DOC_MESSAGE))
        .count();
    format!(
        "tidy: {files} files checked: {violations} violation(s), {warnings} warning(s); \
         {layer_docs} doc line(s) through a layer crate"
    )
}

/// Checks every `.rs` file under `root/<dir>` for each of `dirs`; returns the
/// number of files checked and the violations, sorted by path and line.
pub fn check_tree(root: &Path, dirs: &[&str]) -> Result<(usize, Vec<Violation>), String> {
    let mut files = Vec::new();
    for dir in dirs {
        let dir = root.join(dir);
        if dir.is_dir() {
            rs_files(&dir, &mut files).map_err(|e| format!("walking {}: {e}", dir.display()))?;
        }
    }
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let path = file.strip_prefix(root).unwrap_or(file);
        match std::fs::read_to_string(file) {
            Ok(text) => violations.extend(check_file(path, &text)),
            Err(e) => violations.push(Violation {
                path: path.into(),
                line: 1,
                level: Level::Violation,
                message: format!("unreadable: {e}"),
            }),
        }
    }
    Ok((files.len(), violations))
}

/// Collects the `.rs` files under `dir`, skipping `target` and hidden directories.
fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rs_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Checks one file's text; `path` is relative to the workspace root.
pub fn check_file(path: &Path, text: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut report = |level: Level, line: usize, message: String| {
        violations.push(Violation {
            path: path.to_path_buf(),
            line,
            level,
            message,
        });
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();

    match lines.iter().position(|line| !line.trim().is_empty()) {
        Some(i) if lines[i].trim_start().starts_with("//!") => {}
        Some(i) => report(
            Level::Violation,
            i + 1,
            "the first non-empty line must be a `//!` module doc".into(),
        ),
        None => report(
            Level::Violation,
            1,
            "empty file: it needs a `//!` module doc".into(),
        ),
    }
    if lines.len() > MAX_LINES {
        report(
            Level::Violation,
            MAX_LINES + 1,
            format!(
                "file has {} lines; the limit is {MAX_LINES}: split it where a concept ends",
                lines.len()
            ),
        );
    } else if lines.len() > WARN_LINES {
        report(
            Level::Warning,
            WARN_LINES + 1,
            format!(
                "file has {} lines, over {WARN_LINES} (the limit is {MAX_LINES}): \
                 is there a seam where a concept ends?",
                lines.len()
            ),
        );
    }
    let facade_docs = user_facing_docs(path);
    let in_sys = path
        .parent()
        .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "sys"));
    let mut in_doc_code = false;
    for (i, line) in lines.iter().enumerate() {
        if !in_sys && line.contains(OS_CFG) {
            report(
                Level::Violation,
                i + 1,
                format!("`{OS_CFG}` outside a `sys/` directory"),
            );
        }
        for placeholder in PLACEHOLDERS {
            if line.contains(placeholder) {
                report(
                    Level::Violation,
                    i + 1,
                    format!("`{placeholder}` left in the code"),
                );
            }
        }
        let user_doc = doc_text(line).filter(|_| facade_docs);
        if let Some(doc) = user_doc {
            for name in layer_paths(doc) {
                report(
                    Level::Violation,
                    i + 1,
                    format!("{LAYER_DOC_MESSAGE} `{name}::`: write `tulip::` as a user does"),
                );
            }
        }
        let Some(code) = code_of(line, &mut in_doc_code) else {
            continue;
        };
        for (offset, what) in unsafe_uses(code) {
            let before = &code[..offset];
            if !before.contains(SAFETY) && !safety_above(&lines, i) {
                report(
                    Level::Violation,
                    i + 1,
                    format!(
                        "`{what}` without a `{SAFETY}` comment in the {SAFETY_WINDOW} lines above"
                    ),
                );
            }
        }
    }
    violations
}

/// How a doc line through a layer crate is reported (the start of the
/// message, which [`summary`] counts by).
const LAYER_DOC_MESSAGE: &str = "doc line through a layer crate:";

/// Whether the doc comments of the file at `path` (relative to the workspace
/// root) are read by users: library and example sources, not tests, benches
/// or build tools.
fn user_facing_docs(path: &Path) -> bool {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str()).collect();
    match parts.as_slice() {
        [first, _, src, ..] if *first == "crates" && *src == "src" => true,
        [first, src, ..] if *first == "examples" && *src == "src" => true,
        _ => false,
    }
}

/// The layer crates whose paths (`name::`) `code` uses, in order, one entry
/// per use; a longer identifier that ends in a crate's name does not count.
fn layer_paths(code: &str) -> Vec<&'static str> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found: Vec<(usize, &'static str)> = Vec::new();
    for name in LAYER_CRATES {
        for (offset, _) in code.match_indices(name) {
            let before_ok = !code[..offset].chars().next_back().is_some_and(is_ident);
            let after = &code[offset + name.len()..];
            if before_ok && after.trim_start().starts_with("::") {
                found.push((offset, *name));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, name)| name).collect()
}

/// The text of a doc-comment line (after `///` or `//!`), `None` for any
/// other line.
fn doc_text(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix("///")
        .or_else(|| trimmed.strip_prefix("//!"))
}

/// The part of a line that is code: the whole line for code, the text after
/// `///` or `//!` inside a fenced block of a doc comment, `None` for other
/// comments. `in_doc_code` carries the fence state from line to line.
fn code_of<'a>(line: &'a str, in_doc_code: &mut bool) -> Option<&'a str> {
    let trimmed = line.trim_start();
    let doc = trimmed
        .strip_prefix("///")
        .or_else(|| trimmed.strip_prefix("//!"));
    match doc {
        Some(doc) if doc.trim_start().starts_with("```") => {
            *in_doc_code = !*in_doc_code;
            None
        }
        Some(doc) => in_doc_code.then_some(doc),
        None => {
            *in_doc_code = false;
            (!trimmed.starts_with("//")).then_some(line)
        }
    }
}

/// The byte offsets of each unsafe block or unsafe impl in `code`, with the
/// kind found.
fn unsafe_uses(code: &str) -> Vec<(usize, String)> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    for (offset, _) in code.match_indices(UNSAFE) {
        let before_ok = !code[..offset].chars().next_back().is_some_and(is_ident);
        let rest = &code[offset + UNSAFE.len()..];
        if !before_ok || rest.chars().next().is_some_and(is_ident) {
            continue;
        }
        let rest = rest.trim_start();
        if rest.starts_with('{') {
            found.push((offset, format!("{UNSAFE} {{")));
        } else if let Some(after) = rest.strip_prefix("impl") {
            if !after.chars().next().is_some_and(is_ident) {
                found.push((offset, format!("{UNSAFE} impl")));
            }
        }
    }
    found
}

/// Whether a SAFETY comment is within the window above line `i`, or in the
/// block of `//` comment lines that ends right above it.
fn safety_above(lines: &[&str], i: usize) -> bool {
    let window = lines[i.saturating_sub(SAFETY_WINDOW)..i].iter();
    let block = lines[..i]
        .iter()
        .rev()
        .take_while(|line| line.trim_start().starts_with("//"));
    window.chain(block).any(|line| line.contains(SAFETY))
}

#[cfg(test)]
mod tests;
