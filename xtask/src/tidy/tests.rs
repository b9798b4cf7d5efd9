//! Tests of the tidy rules on made-up files, and the check of the real
//! workspace. Fixtures spell the rule words as placeholders (`UNSAFE`,
//! `SAFE_MARK`, `OS_KEY`, `TODO_MACRO`, `UNIMPL_MACRO`) that `fill` replaces,
//! so this file obeys the rules itself. (It lives under `xtask/`, whose doc
//! comments the facade rule does not read.)

use super::*;

/// Replaces the placeholders of a fixture with the real rule words.
fn fill(text: &str) -> String {
    text.replace("UNSAFE", UNSAFE)
        .replace("SAFE_MARK", SAFETY)
        .replace("OS_KEY", OS_CFG)
        .replace("TODO_MACRO", PLACEHOLDERS[0])
        .replace("UNIMPL_MACRO", PLACEHOLDERS[1])
}

/// The line of each finding (violation or warning) in a fixture at `path`.
fn lines_of(path: &str, fixture: &str) -> Vec<usize> {
    check_file(Path::new(path), &fill(fixture))
        .iter()
        .map(|v| v.line)
        .collect()
}

/// A fixture of `lines` lines: a module doc and then code.
fn file_of(lines: usize) -> String {
    format!("//! Doc.\n{}", "fn f() {}\n".repeat(lines - 1))
}

#[test]
fn workspace_is_tidy() {
    let (files, findings) = check_tree(&workspace_root(), DIRS).unwrap();
    assert!(files > 0, "no .rs files found under {DIRS:?}");
    let list: Vec<String> = findings
        .iter()
        .filter(|f| f.fails())
        .map(|v| v.to_string())
        .collect();
    assert!(
        list.is_empty(),
        "{}:\n{}",
        summary(files, &findings),
        list.join("\n")
    );
}

#[test]
fn module_doc_comes_first() {
    assert_eq!(
        lines_of("a.rs", "\n\n//! Doc.\nfn f() {}\n"),
        Vec::<usize>::new()
    );
    assert_eq!(
        lines_of("a.rs", "  //! Indented doc.\n"),
        Vec::<usize>::new()
    );
    assert_eq!(
        lines_of("a.rs", "\u{feff}//! After a BOM.\n"),
        Vec::<usize>::new()
    );
    assert_eq!(lines_of("a.rs", "\n// A comment.\n//! Doc.\n"), [2]);
    assert_eq!(lines_of("a.rs", "#![forbid(unsafe_code)]\n//! Doc.\n"), [1]);
    assert_eq!(lines_of("a.rs", "/// Item doc.\nfn f() {}\n"), [1]);
    assert_eq!(lines_of("a.rs", "\n  \n"), [1]);
}

#[test]
fn files_stay_short() {
    // Up to the soft limit: nothing.
    assert!(check_file(Path::new("a.rs"), &file_of(WARN_LINES)).is_empty());
    // Over it: a warning that does not fail, up to the hard limit.
    for lines in [WARN_LINES + 1, MAX_LINES] {
        let findings = check_file(Path::new("a.rs"), &file_of(lines));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].level, Level::Warning);
        assert!(!findings[0].fails());
        assert_eq!(findings[0].line, WARN_LINES + 1);
        assert!(
            findings[0].message.contains(&format!("{lines} lines")),
            "{}",
            findings[0].message
        );
        assert!(findings[0].to_string().starts_with("a.rs:801: warning: "));
    }
    // Over the hard limit: one violation, no warning beside it.
    let findings = check_file(Path::new("a.rs"), &file_of(MAX_LINES + 1));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].fails());
    assert_eq!(findings[0].line, MAX_LINES + 1);
    assert!(
        findings[0].message.contains("1501 lines"),
        "{}",
        findings[0].message
    );
    assert!(findings[0].to_string().starts_with("a.rs:1501: file has"));
}

#[test]
fn limits_are_the_agreed_ones() {
    assert_eq!((WARN_LINES, MAX_LINES), (800, 1500));
}

/// The layer crates named by each finding of the facade rule in a fixture.
fn layer_uses(path: &str, fixture: &str) -> Vec<(usize, String)> {
    check_file(Path::new(path), fixture)
        .iter()
        .filter(|f| f.message.starts_with(LAYER_DOC_MESSAGE))
        .map(|f| {
            assert_eq!(f.level, Level::Violation, "{f}");
            (f.line, f.message.clone())
        })
        .collect()
}

#[test]
fn doc_examples_go_through_the_facade() {
    let fixture = "\
//! Front page: [`Loop`](tulip_executor::Loop), a link target users read.
//!
//! ```
//! use tulip::prelude::*;
//! use tulip_streams::open_connection;
//! # let _ = tulip_executor::run(async {});
//! ```
//! After the block, tulip_sync::Lock in prose is a path users read too.

/// An item.
///
/// ```no_run
/// let a = tulip_transport::Error::Closed; let b = tulip_process::Command::new(\"ls\");
/// #   tulip_reactor :: Reactor::new();
/// use my_tulip_sync::Lock;
/// use tulip::sync::Lock;
/// ```
pub fn f() {
    // tulip_sync::Lock in a plain comment, and in code:
    let _ = tulip_sync::Lock::new();
}
";
    let found = layer_uses("crates/tulip-streams/src/lib.rs", fixture);
    let lines: Vec<usize> = found.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [1, 5, 6, 8, 13, 13, 14], "{found:?}");
    let named: Vec<&str> = found
        .iter()
        .map(|(_, m)| m.split('`').nth(1).unwrap())
        .collect();
    assert_eq!(
        named,
        [
            "tulip_executor::",
            "tulip_streams::",
            "tulip_executor::",
            "tulip_sync::",
            "tulip_transport::",
            "tulip_process::",
            "tulip_reactor::"
        ]
    );
    // Library and example sources are read by users; tests, benches and
    // build tools are not.
    assert_eq!(layer_uses("examples/src/bin/echo.rs", fixture).len(), 7);
    assert_eq!(layer_uses("examples/src/lib.rs", fixture).len(), 7);
    for other in [
        "crates/tulip-streams/tests/streams_read.rs",
        "crates/tulip-streams/build.rs",
        "examples/tests/outputs.rs",
        "benches/src/lib.rs",
        "xtask/src/tidy.rs",
        "lib.rs",
    ] {
        assert_eq!(layer_uses(other, fixture), [], "{other}");
    }
}

#[test]
fn facade_rule_is_counted_in_the_summary() {
    let fixture = "//! Doc.\n//! ```\n//! tulip_sync::Lock::new();\n//! ```\n";
    let findings = check_file(Path::new("crates/tulip-sync/src/lib.rs"), fixture);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].fails());
    let line = summary(7, &findings);
    assert!(
        line.contains("1 doc line(s) through a layer crate"),
        "{line}"
    );
    assert!(line.starts_with("tidy: 7 files checked: "), "{line}");
}

#[test]
fn os_cfg_only_under_sys() {
    let fixture = "//! Doc.\n#[cfg(OS_KEY = \"linux\")]\nfn f() {}\n";
    assert_eq!(lines_of("crates/r/src/lib.rs", fixture), [2]);
    assert_eq!(lines_of("crates/r/src/sysx/lib.rs", fixture), [2]);
    assert_eq!(lines_of("crates/r/src/sys.rs", fixture), [2]);
    assert_eq!(
        lines_of("crates/r/src/sys/mod.rs", fixture),
        Vec::<usize>::new()
    );
    assert_eq!(
        lines_of("crates/r/src/sys/linux/epoll.rs", fixture),
        Vec::<usize>::new()
    );
}

#[test]
fn no_placeholder_macros() {
    let fixture = "//! Doc.\nfn f() { TODO_MACRO) }\nfn g() { UNIMPL_MACRO\"later\") }\n// TODO_MACRO) in a comment\n";
    assert_eq!(lines_of("a.rs", fixture), [2, 3, 4]);
    assert_eq!(
        lines_of("a.rs", "//! Doc.\n// todo: later; unimplemented for now\n"),
        Vec::<usize>::new()
    );
}

#[test]
fn unsafe_needs_a_safety_comment() {
    let fixture = "\
//! Doc.
fn f() {
    // SAFE_MARK the pointer is valid.
    let a = UNSAFE { *p };
    let b = UNSAFE { *p };
}
// SAFE_MARK Send is fine: no shared state.
UNSAFE impl Send for T {}

struct U;

UNSAFE impl Sync for U {}
";
    assert_eq!(lines_of("a.rs", fixture), [12]);
    // Line 5 passes because line 3 is within the window; move it further.
    let far =
        "//! Doc.\n// SAFE_MARK x\nfn a() {}\nfn b() {}\nfn c() {}\nfn d() { UNSAFE { x() } }\n";
    assert_eq!(lines_of("a.rs", far), [6]);
}

#[test]
fn unsafe_rule_details() {
    // A long comment block directly above counts, however long.
    let block = "//! Doc.\n// SAFE_MARK a\n// b\n// c\n// d\n// e\nUNSAFE impl Send for T {}\n";
    assert_eq!(lines_of("a.rs", block), Vec::<usize>::new());
    // Earlier on the same line counts; later does not.
    let same = "//! Doc.\nlet a = /* SAFE_MARK x */ UNSAFE { y() };\n\n\n\nlet b = UNSAFE { y() }; // SAFE_MARK late\n";
    assert_eq!(lines_of("a.rs", same), [6]);
    // Other uses of the keyword are not blocks or impls.
    let others = "//! Doc.\nUNSAFE fn f() {}\nUNSAFE extern \"C\" {}\nfn not_UNSAFE() {}\nlet s = UNSAFE_impl;\nUNSAFE trait T {}\n";
    assert_eq!(lines_of("a.rs", others), Vec::<usize>::new());
    // `UNSAFE{` without a space is a block too.
    assert_eq!(lines_of("a.rs", "//! Doc.\nlet a = UNSAFE{ y() };\n"), [2]);
    // Comments and doc prose are not code; doc code blocks are.
    let docs = "\
//! Doc, UNSAFE { in prose }.
// UNSAFE impl in a comment.
/// An UNSAFE impl in prose.
/// ```
/// let a = UNSAFE { y() };
/// ```
/// UNSAFE { prose again }
fn f() {}
";
    assert_eq!(lines_of("a.rs", docs), [5]);
}

#[test]
fn tree_walk_skips_target_and_hidden_dirs() {
    let root = std::env::temp_dir().join(format!("xtask-tidy-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fill(text)).unwrap();
    };
    write("crates/a/src/lib.rs", "//! Doc.\n");
    write(
        "crates/a/src/sys/unix.rs",
        "//! Doc.\n#[cfg(OS_KEY = \"linux\")]\nfn f() {}\n",
    );
    write("crates/a/src/bad.rs", "fn f() { TODO_MACRO) }\n");
    write("crates/a/src/notes.txt", "no doc\n");
    write("crates/a/target/debug/build/out.rs", "no doc\n");
    write("crates/a/.hidden/x.rs", "no doc\n");
    write("docs/x.rs", "no doc\n");
    let (files, violations) = check_tree(&root, DIRS).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(files, 3);
    let shown: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    let bad = Path::new("crates/a/src/bad.rs").display().to_string();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with(&format!("{bad}:1: the first non-empty line")),
        "{shown:?}"
    );
    assert!(shown[1].starts_with(&format!("{bad}:1: `")), "{shown:?}");
}
