//! The README's shell blocks, run as they are written. Every ```sh block is marked
//! with a comment just above it: `<!-- readme-test: recipe NAME -->`, which this file
//! runs, or `<!-- readme-test: example (why not) -->` for those that need something a
//! test cannot have (a server on the internet, an installation, a session someone
//! types in). An unmarked block, or a recipe nobody runs, fails.
//!
//! What is changed, and only that: the commands run in a scratch folder with the
//! repository's `scripts/` linked into it (the recipes start from the top folder),
//! with this build's `natter` and `natterd` first on `PATH` (what `cargo install`
//! would give), and natterd's port 7878 becomes 0 (a free one), which the next
//! recipe's 7878 then names.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

#[derive(Debug, PartialEq)]
enum Mark {
    Recipe(String),
    Example,
}

/// Every ```sh block of the README with its mark, in order; the block's lines
/// without the fence's indentation.
fn blocks() -> Vec<(Mark, String)> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).expect("read README.md");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i];
        if fence.trim() != "```sh" {
            i += 1;
            continue;
        }
        let indent = fence.len() - fence.trim_start().len();
        let mark = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .and_then(|l| l.strip_prefix("<!-- readme-test: "))
            .and_then(|l| l.strip_suffix(" -->"))
            .unwrap_or_else(|| {
                panic!(
                    "README.md line {}: a ```sh block without a readme-test mark above it",
                    i + 1
                )
            });
        let mark = match mark.strip_prefix("recipe ") {
            Some(name) => Mark::Recipe(name.to_string()),
            None if mark.starts_with("example (") && mark.ends_with(')') => Mark::Example,
            None => panic!("README.md line {}: unknown mark {mark:?}", i),
        };
        let mut body = String::new();
        i += 1;
        while i < lines.len() && lines[i].trim() != "```" {
            body.push_str(lines[i].get(indent..).unwrap_or("").trim_end());
            body.push('\n');
            i += 1;
        }
        out.push((mark, body));
        i += 1;
    }
    out
}

fn recipes() -> BTreeMap<String, String> {
    let mut by_name = BTreeMap::new();
    for (mark, body) in blocks() {
        if let Mark::Recipe(name) = mark {
            assert!(
                by_name.insert(name.clone(), body).is_none(),
                "two recipes named {name}"
            );
        }
    }
    by_name
}

/// A scratch folder laid out as the repository's top folder is for the recipes,
/// and a `PATH` with this build first.
struct Place {
    dir: TempPath,
    path: String,
}

impl Place {
    fn new() -> Place {
        let dir = TempPath::new("readme");
        let bin = dir.0.join(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
        std::os::unix::fs::symlink(scripts.canonicalize().unwrap(), dir.0.join("scripts")).unwrap();
        std::os::unix::fs::symlink(natter_bin(), bin.join("natter")).unwrap();
        std::os::unix::fs::symlink(natter_testkit::natterd_bin(), bin.join("natterd")).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Place { dir, path }
    }

    fn sh(&self, script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-ec")
            .arg(script)
            .current_dir(&self.dir.0)
            .env("PATH", &self.path)
            .env("XDG_STATE_HOME", self.dir.0.join(".state"))
            .env_remove("NATTER_SECRET")
            .env_remove("SERVER_SHARED_FILES")
            .env_remove("SERVERSHAREDFILES");
        c
    }

    /// Runs `script` to its end (with a deadline), `input` on its stdin.
    fn run(&self, script: &str, input: &str) -> std::process::Output {
        run_cmd(self.sh(script), input)
    }

    /// Starts a recipe that runs natterd, with port 0; returns it and its port.
    fn natterd(&self, recipe: &str) -> (Running, u16) {
        let line = one_command(recipe);
        let line = line
            .strip_suffix(" 7878")
            .unwrap_or_else(|| panic!("the natterd recipe does not end with its port: {line}"));
        let mut child = self
            .sh(&format!("exec {line} 0"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the natterd recipe");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("natterd said {first:?}"));
        (Running(child), port)
    }
}

/// The recipe's one command, its comment dropped.
fn one_command(recipe: &str) -> String {
    let lines: Vec<&str> = recipe
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one command expected: {recipe}");
    lines[0].to_string()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_shell_block_is_a_recipe_run_here_or_says_why_not() {
    let names: Vec<String> = recipes().into_keys().collect();
    assert_eq!(
        names,
        ["load-bots", "tls-client", "tls-server", "tls-setup"],
        "a new recipe needs a test here that runs it"
    );
    assert!(blocks().iter().any(|(m, _)| *m == Mark::Example));
}

#[test]
fn the_tls_recipe_runs_as_written() {
    let r = recipes();
    let place = Place::new();
    let out = place.run(&r["tls-setup"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for made in ["dev-cert/cert.pem", "dev-cert/key.pem", "secret.txt"] {
        assert!(place.dir.0.join(made).exists(), "the setup made no {made}");
    }
    let (_server, port) = place.natterd(&r["tls-server"]);
    let client = one_command(&r["tls-client"]);
    let client = client
        .strip_suffix(" 7878")
        .map(|c| format!("{c} {port}"))
        .expect("the natter recipe ends with the port");
    let out = place.run(&client, "/echo the recipe works\n");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("* echo: the recipe works"), "{stdout}");
}

#[test]
fn the_load_recipe_runs_as_written() {
    let server = Natterd::start(&[]);
    let mut watcher = server.join("watcher");
    let place = Place::new();
    let script = recipes()["load-bots"].replace("7878", &server.port());
    let out = place.run(&script, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < 50 {
        let line = watcher.line().expect("the watcher stays connected");
        if let Some(rest) = line.strip_prefix("FROM ") {
            heard.insert(rest.to_string());
        }
    }
    assert!(heard.contains("bot7 hello from bot 7"), "{heard:?}");
}
