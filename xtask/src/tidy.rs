//! `cargo xtask tidy`: the source rules a lint cannot check, over every `.rs`
//! file under `crates/`, `examples/`, `benches/` and `xtask/` (any `target/`
//! and hidden directories skipped). The `workspace_is_tidy` test runs the same
//! check, so `cargo test --workspace` enforces it.
//!
//! The rules:
//! - the first non-empty line of every file is a `//!` module doc;
//! - no file is longer than 1,000 lines;
//! - the OS-selecting `cfg` key (target + `_os`) appears only in files under a
//!   directory named `sys` (OS-specific code lives in `sys/` modules);
//! - no placeholder macros (to-do, unimplemented);
//! - every unsafe block and unsafe impl has a `SAFETY` comment (the word and a
//!   colon) on one of the 3 lines above it, in the comment block directly above
//!   it, or earlier on its own line. Plain `//` comments and doc-comment prose
//!   are not code; code blocks in doc comments are.
//!
//! The rule words are assembled with `concat!` so that this file obeys itself.

use crate::cmd::workspace_root;
use std::fmt;
use std::path::{Path, PathBuf};

/// The top-level directories that are checked.
const DIRS: &[&str] = &["crates", "examples", "benches", "xtask"];

/// The longest a file may be, in lines.
const MAX_LINES: usize = 1000;

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

/// One broken rule at a place in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// Runs the check on the workspace and prints the violations.
pub fn run() -> Result<(), String> {
    let (files, violations) = check_tree(&workspace_root(), DIRS)?;
    for violation in &violations {
        println!("{violation}");
    }
    if violations.is_empty() {
        println!("tidy: {files} files checked, no violations");
        Ok(())
    } else {
        Err(format!(
            "tidy: {} violation(s) in {files} files checked",
            violations.len()
        ))
    }
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
    let mut report = |line: usize, message: String| {
        violations.push(Violation {
            path: path.to_path_buf(),
            line,
            message,
        });
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();

    match lines.iter().position(|line| !line.trim().is_empty()) {
        Some(i) if lines[i].trim_start().starts_with("//!") => {}
        Some(i) => report(
            i + 1,
            "the first non-empty line must be a `//!` module doc".into(),
        ),
        None => report(1, "empty file: it needs a `//!` module doc".into()),
    }
    if lines.len() > MAX_LINES {
        report(
            MAX_LINES + 1,
            format!("file has {} lines; the limit is {MAX_LINES}", lines.len()),
        );
    }
    let in_sys = path
        .parent()
        .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "sys"));
    let mut in_doc_code = false;
    for (i, line) in lines.iter().enumerate() {
        if !in_sys && line.contains(OS_CFG) {
            report(i + 1, format!("`{OS_CFG}` outside a `sys/` directory"));
        }
        for placeholder in PLACEHOLDERS {
            if line.contains(placeholder) {
                report(i + 1, format!("`{placeholder}` left in the code"));
            }
        }
        let Some(code) = code_of(line, &mut in_doc_code) else {
            continue;
        };
        for (offset, what) in unsafe_uses(code) {
            let before = &code[..offset];
            if !before.contains(SAFETY) && !safety_above(&lines, i) {
                report(
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
