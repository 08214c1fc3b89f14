//! Running the real `communs` binary against a throw-away data directory.

#![allow(dead_code)] // each test file uses a different subset

pub(crate) mod browser;
pub(crate) mod daemon;
pub(crate) mod http;
pub(crate) mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example designs of this checkout (see [`package_dir`]).
pub(crate) fn examples_dir() -> PathBuf {
    package_dir().join("../examples/designs")
}

/// The package's folder as cargo names it when it runs the test, rather
/// than when it built it: checkouts that share one target folder can be
/// handed a test binary another checkout built.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

pub(crate) struct Node {
    pub home: PathBuf,
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub(crate) fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }

    #[track_caller]
    pub(crate) fn fails_with(self, code: i32, message: &str) -> Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        assert!(self.stderr.contains(message), "stderr lacks {message:?}: {self:?}");
        self
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_communs")
}

impl Node {
    /// A node with its identity created in `dir/name`.
    pub(crate) fn init(dir: &Path, name: &str) -> Node {
        let node = Node { home: dir.join(name) };
        node.run(&["init"]).ok();
        node
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command.arg("--home").arg(&self.home).args(args).env_remove("COMMUNS_HOME").env_remove("COMMUNS_CONFIG");
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let output: Output = self.command(args).output().expect("communs runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs with `--json` and returns the parsed output of a success.
    #[track_caller]
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        self.run(&with_json).ok().json()
    }

    /// Publishes `folder` and returns (design, revision).
    #[track_caller]
    pub(crate) fn publish(&self, folder: &Path, extra: &[&str]) -> (String, String) {
        let mut args = vec!["publish", folder.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        let out = self.json(&args);
        (out["design"].as_str().expect("design").to_owned(), out["revision"].as_str().expect("revision").to_owned())
    }
}

/// Deterministic, incompressible bytes.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Writes files (path, contents) under `root`.
pub(crate) fn write_files(root: &Path, files: &[(&str, &[u8])]) {
    for (path, contents) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
    }
}

/// A small design folder with an okh.toml.
pub(crate) fn small_design(root: &Path, name: &str) -> PathBuf {
    let folder = root.join(name);
    write_files(
        &folder,
        &[
            (
                "okh.toml",
                format!("okhv = \"OKH-LOSHv1.0\"\nname = \"{name}\"\nlicense = \"CERN-OHL-S-2.0\"\n").as_bytes(),
            ),
            ("README.md", b"# A design\n\nSomething useful.\n"),
            ("cad/part.scad", b"cube([10, 20, 3]);\n"),
        ],
    );
    folder
}

/// Every file under `root` (relative path -> contents), `.communs` excluded.
pub(crate) fn snapshot(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path);
            } else if entry.file_name() != ".communs" {
                let relative = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                out.insert(relative, std::fs::read(&path).expect("readable"));
            }
        }
    }
    out
}

/// The iroh-blobs data file of a blob (blobs over 16 KiB live in files).
pub(crate) fn blob_data_file(home: &Path, blob: &str) -> PathBuf {
    let path = home.join("store/blobs/data").join(format!("{blob}.data"));
    assert!(path.exists(), "no data file for blob {blob} at {}", path.display());
    path
}

/// A binary STL of a 20 mm cube: 12 triangles.
pub(crate) fn stl_cube() -> Vec<u8> {
    let s = 20.0f32;
    let v = |x: u8, y: u8, z: u8| [f32::from(x) * s, f32::from(y) * s, f32::from(z) * s];
    // Each face as two triangles, counter-clockwise seen from outside.
    let quads = [
        [v(0, 0, 0), v(0, 1, 0), v(1, 1, 0), v(1, 0, 0)], // bottom
        [v(0, 0, 1), v(1, 0, 1), v(1, 1, 1), v(0, 1, 1)], // top
        [v(0, 0, 0), v(1, 0, 0), v(1, 0, 1), v(0, 0, 1)], // front
        [v(0, 1, 0), v(0, 1, 1), v(1, 1, 1), v(1, 1, 0)], // back
        [v(0, 0, 0), v(0, 0, 1), v(0, 1, 1), v(0, 1, 0)], // left
        [v(1, 0, 0), v(1, 1, 0), v(1, 1, 1), v(1, 0, 1)], // right
    ];
    let mut out = Vec::with_capacity(84 + 12 * 50);
    let mut header = [b' '; 80];
    header[..18].copy_from_slice(b"communs test cube ");
    out.extend_from_slice(&header);
    out.extend_from_slice(&12u32.to_le_bytes());
    for [a, b, c, d] in quads {
        for triangle in [[a, b, c], [a, c, d]] {
            out.extend_from_slice(&[0u8; 12]); // normal: computed by readers
            for vertex in triangle {
                for coordinate in vertex {
                    out.extend_from_slice(&coordinate.to_le_bytes());
                }
            }
            out.extend_from_slice(&0u16.to_le_bytes());
        }
    }
    assert_eq!(out.len(), 84 + 12 * 50);
    out
}

/// A copy of an example design in `to` (publishing marks the folder it
/// publishes, and the checkout's examples stay as they are).
pub(crate) fn example(name: &str, to: &Path) -> PathBuf {
    let folder = to.join(name);
    for (path, contents) in snapshot(&examples_dir().join(name)) {
        write_files(&folder, &[(path.as_str(), contents.as_slice())]);
    }
    folder
}

/// Bytes of the files under `dir`, as allocated on disk: how much of a
/// fetch a node's store holds so far.
pub(crate) fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => allocated_bytes(&entry.path()),
            Ok(meta) => meta.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
