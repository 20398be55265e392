//! Bad input never panics and always says where and what: a corpus of broken
//! files with the exact error each must give, then every truncation and many
//! random corruptions of valid files.

use std::fs;
use std::path::{Path, PathBuf};

use pde_mesh::io::gmsh;
use pde_mesh::MeshError;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn corpus_of_broken_files_gives_located_errors() {
    let dir = data("broken");
    let expected = fs::read_to_string(dir.join("EXPECTED")).unwrap();
    let mut checked = 0;
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (file, position, text) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let path = dir.join(file);
        let err = gmsh::read(&path).expect_err(file);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&path.display().to_string()),
            "{file}: message does not name the file: {msg}"
        );
        assert!(
            msg.contains(position),
            "{file}: expected position '{position}' in: {msg}"
        );
        assert!(msg.contains(text), "{file}: expected '{text}' in: {msg}");
        checked += 1;
    }
    let files = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "msh")
        })
        .count();
    assert_eq!(
        checked, files,
        "every file in the corpus has an expectation"
    );
}

#[test]
fn missing_file_names_the_path() {
    let err = gmsh::read("no/such/file.msh").unwrap_err();
    assert!(matches!(err, MeshError::Io { .. }));
    assert!(err.to_string().starts_with("no/such/file.msh: "), "{err}");
}

/// Parses `bytes`; the only acceptable outcomes are a mesh or an error that
/// names the file. (A panic fails the test.)
fn parse_is_total(bytes: &[u8], label: &str) -> bool {
    match gmsh::parse(bytes, Path::new("fuzzed.msh")) {
        Ok(_) => true,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzzed.msh"), "{label}: {e}");
            false
        }
    }
}

const FIXTURES: [&str; 6] = [
    "square_v41_ascii.msh",
    "square_v41_binary.msh",
    "square_v22_ascii.msh",
    "square_v22_binary.msh",
    "square_tri6_v41.msh",
    "cube_hex_v22_binary.msh",
];

#[test]
fn every_truncation_is_an_error() {
    for name in FIXTURES {
        let bytes = fs::read(data(name)).unwrap();
        // The last `$EndElements\n` may lose its newline and still be whole.
        let whole_from = bytes.len() - 1;
        for len in 0..bytes.len() {
            let ok = parse_is_total(&bytes[..len], &format!("{name} cut at {len}"));
            assert_eq!(
                ok,
                len >= whole_from,
                "{name} cut at {len} of {}",
                bytes.len()
            );
        }
    }
}

#[test]
fn random_corruptions_never_panic() {
    // xorshift: deterministic, no dependency.
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in FIXTURES {
        let original = fs::read(data(name)).unwrap();
        for round in 0..400 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 4 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes[at] = b"0123456789 -.e\n$"[(next() % 16) as usize],
                    2 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, next() as u8),
                }
            }
            parse_is_total(&bytes, &format!("{name} round {round}"));
        }
    }
}

/// A sparse file of 64 GiB whose header announces 2·10⁹ nodes is refused
/// with a located error: the reader's pre-allocation trusts neither the
/// count nor the file's length (it once asked for 48 GB and aborted).
#[test]
fn a_huge_sparse_file_is_refused_without_exhausting_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hole.msh");
    fs::write(
        &path,
        "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2000000000 1 2000000000\n2 1 0 2000000000\n",
    )
    .unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let err = gmsh::read(&path).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("line 7"), "{err}");
}
