//! `sluice plugin new`: write a ready renderer project in Rust, JavaScript
//! or Python.
//!
//! The templates live in `cli/templates/` and are compiled into the binary
//! (`include_str!`), so a project can be generated anywhere; the WIT copy is
//! the repository's own `wit/plugin.wit`, so a generated project always
//! targets the contract this sluice speaks. Every project renders the same
//! thing (one ConfigMap with the app directory's files) and ships the same
//! golden case, which it passes as generated (`sluice plugin test`).

use super::{EXIT_OK, EXIT_USAGE};
use std::path::{Path, PathBuf};

/// Languages a project can be generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, built with cargo for wasm32-wasip2 (wit-bindgen).
    Rust,
    /// JavaScript, built with componentize-js (npm).
    Js,
    /// Python, built with componentize-py (PyPI).
    Python,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        }
    }
}

/// Arguments of `sluice plugin new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name: lowercase letters, digits and `-`, starting with a
    /// letter. Also the directory written (unless --dir) and the .wasm name.
    pub name: String,
    /// The language of the project.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Where to write the project (default: ./NAME). Must not exist, or be
    /// an empty directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const WIT: &str = include_str!("../../../wit/plugin.wit");

/// (path in the project, content, executable).
type File = (&'static str, &'static str, bool);

const COMMON: &[File] = &[
    (
        "README.md",
        include_str!("templates/common/README.md"),
        false,
    ),
    (
        ".gitignore",
        include_str!("templates/common/gitignore"),
        false,
    ),
    ("wit/plugin.wit", WIT, false),
    (
        "tests/hello/context.yaml",
        include_str!("templates/common/tests/hello/context.yaml"),
        false,
    ),
    (
        "tests/hello/params.yaml",
        include_str!("templates/common/tests/hello/params.yaml"),
        false,
    ),
    (
        "tests/hello/expected.yaml",
        include_str!("templates/common/tests/hello/expected.yaml"),
        false,
    ),
    (
        "tests/hello/input/app/greeting.txt",
        include_str!("templates/common/tests/hello/input/app/greeting.txt"),
        false,
    ),
    (
        "tests/hello/input/app/settings.yaml",
        include_str!("templates/common/tests/hello/input/app/settings.yaml"),
        false,
    ),
];

const RUST: &[File] = &[
    (
        "Cargo.toml",
        include_str!("templates/rust/Cargo.toml"),
        false,
    ),
    (
        "src/lib.rs",
        include_str!("templates/rust/src/lib.rs"),
        false,
    ),
    ("build.sh", include_str!("templates/rust/build.sh"), true),
];

const JS: &[File] = &[
    (
        "package.json",
        include_str!("templates/js/package.json"),
        false,
    ),
    (
        "renderer.js",
        include_str!("templates/js/renderer.js"),
        false,
    ),
    ("build.sh", include_str!("templates/js/build.sh"), true),
];

const PYTHON: &[File] = &[
    ("app.py", include_str!("templates/python/app.py"), false),
    ("build.sh", include_str!("templates/python/build.sh"), true),
];

/// Whether `name` is usable as a plugin, crate, package and file name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// The files of a `lang` project called `name`, placeholders filled in.
pub fn files(name: &str, lang: Lang) -> Vec<(&'static str, String, bool)> {
    let specific = match lang {
        Lang::Rust => RUST,
        Lang::Js => JS,
        Lang::Python => PYTHON,
    };
    COMMON
        .iter()
        .chain(specific)
        .map(|(path, text, exec)| {
            let text = text
                .replace("__NAME__", name)
                .replace("__CRATE__", &name.replace('-', "_"))
                .replace("__LANG__", lang.as_str());
            (*path, text, *exec)
        })
        .collect()
}

fn write_file(dir: &Path, rel: &str, text: &str, exec: bool) -> std::io::Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, text)?;
    #[cfg(unix)]
    if exec {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    #[cfg(not(unix))]
    let _ = exec;
    Ok(())
}

/// Run `sluice plugin new`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    if !valid_name(&args.name) {
        eprintln!(
            "error: plugin name {:?} is not usable: use lowercase letters, digits and '-', starting with a letter (e.g. my-renderer)",
            args.name
        );
        return Ok(EXIT_USAGE);
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        let empty = std::fs::read_dir(&dir).map(|mut d| d.next().is_none());
        if !matches!(empty, Ok(true)) {
            eprintln!(
                "error: {} already exists and is not an empty directory; choose another --dir",
                dir.display()
            );
            return Ok(EXIT_USAGE);
        }
    }
    for (rel, text, exec) in files(&args.name, args.lang) {
        write_file(&dir, rel, &text, exec)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.join(rel).display()))?;
    }
    let build = match args.lang {
        Lang::Rust => "rustup target add wasm32-wasip2   # once",
        Lang::Js => "npm install                        # once",
        Lang::Python => "pip install componentize-py==0.25.1   # once",
    };
    println!(
        "wrote a {} renderer plugin in {}",
        args.lang.as_str(),
        dir.display()
    );
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  {build}");
    println!("  ./build.sh");
    println!("  sluice plugin test ./{}.wasm tests", args.name);
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("my-renderer2"));
        assert!(!valid_name("My"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a_b"));
        assert!(!valid_name("a-"));
        assert!(!valid_name(""));
    }

    #[test]
    fn placeholders_are_all_filled_and_the_wit_is_the_contract() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            let files = files("my-plugin", lang);
            for (path, text, _) in &files {
                for placeholder in ["__NAME__", "__CRATE__", "__LANG__"] {
                    assert!(
                        !text.contains(placeholder),
                        "{path} ({lang:?}) keeps {placeholder}"
                    );
                }
            }
            let wit = files.iter().find(|f| f.0 == "wit/plugin.wit").expect("wit");
            assert!(wit.1.contains("package sluice:plugin@0.3.0;"));
            assert!(files.iter().any(|f| f.0 == "build.sh" && f.2));
        }
        let rust = files("my-plugin", Lang::Rust);
        let build = rust.iter().find(|f| f.0 == "build.sh").expect("build.sh");
        assert!(build.1.contains("release/my_plugin.wasm"), "{}", build.1);
    }
}
