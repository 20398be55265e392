//! Matrix Market files (<https://math.nist.gov/MatrixMarket/formats.html>):
//! sparse matrices as `coordinate real general` (1-based, every entry),
//! vectors and point lists as `array real general` (column-major).
//!
//! Values are written in Rust's shortest round-trip form, so a matrix read
//! back equals the one written to the last bit. The reader also takes
//! `symmetric` matrices (the lower triangle, expanded), `integer` values,
//! comments and blank lines; duplicate entries are summed. Bad input is an
//! error naming the file and line, never a panic. Writes are atomic: a
//! file is either complete or absent.
//!
//! ```
//! use pde_engine::linalg::matrix_market::{read_vector, write_vector};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("b.mtx");
//! write_vector(&path, &[1.0, 0.1, -2.5e-300]).unwrap();
//! assert_eq!(read_vector(&path).unwrap(), [1.0, 0.1, -2.5e-300]);
//! ```

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use faer::sparse::{SparseRowMat, SymbolicSparseRowMat};
use pde_mesh::io::vtk::write_atomically;

use super::SparseMatrix;

/// Writes `a` as `coordinate real general`, row by row.
pub fn write_matrix(path: &Path, a: &SparseMatrix) -> Result<()> {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    write_atomically(path, |w| {
        writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
        writeln!(w, "{} {} {}", a.nrows(), a.ncols(), val.len())?;
        for i in 0..a.nrows() {
            for k in ptr[i]..ptr[i + 1] {
                writeln!(w, "{} {} {:e}", i + 1, col[k] + 1, val[k])?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes `v` as an `n × 1` array.
pub fn write_vector(path: &Path, v: &[f64]) -> Result<()> {
    write_array(path, v.len(), 1, |_, j| v[j])
}

/// Writes points as an `n × 3` array (all x, then all y, then all z).
pub fn write_points(path: &Path, points: &[[f64; 3]]) -> Result<()> {
    write_array(path, points.len(), 3, |c, j| points[j][c])
}

/// Writes a `rows × cols` array, column-major: `value(c, r)`.
fn write_array(
    path: &Path,
    rows: usize,
    cols: usize,
    value: impl Fn(usize, usize) -> f64,
) -> Result<()> {
    write_atomically(path, |w| {
        writeln!(w, "%%MatrixMarket matrix array real general")?;
        writeln!(w, "{rows} {cols}")?;
        for c in 0..cols {
            for r in 0..rows {
                writeln!(w, "{:e}", value(c, r))?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Reads a `coordinate` matrix (`general` or `symmetric`, `real` or
/// `integer`) into CSR: columns sorted, duplicates summed, a symmetric
/// file's lower triangle mirrored.
pub fn read_matrix(path: &Path) -> Result<SparseMatrix> {
    let text = read(path)?;
    let mut lines = Lines::new(path, &text);
    let header = lines.header(Format::Coordinate)?;
    let [rows, cols, count] = lines.sizes::<3>()?;
    if header.symmetric && rows != cols {
        bail!(lines.at(format!(
            "a symmetric matrix must be square, not {rows} × {cols}"
        )));
    }
    let mut entries = Vec::with_capacity(if header.symmetric { 2 * count } else { count });
    for _ in 0..count {
        let fields = lines.entry(3, count)?;
        let index = |f: &str, n: usize, what: &str| -> Result<usize> {
            match f.parse::<usize>() {
                Ok(i) if (1..=n).contains(&i) => Ok(i - 1),
                _ => bail!(lines.at(format!("{what} index '{f}' is not in 1..={n}"))),
            }
        };
        let (i, j) = (
            index(fields[0], rows, "row")?,
            index(fields[1], cols, "column")?,
        );
        let v = lines.value(fields[2])?;
        if header.symmetric && i < j {
            bail!(lines.at(format!(
                "entry ({}, {}) above the diagonal of a symmetric matrix (only the lower triangle is stored)",
                i + 1,
                j + 1
            )));
        }
        entries.push((i, j, v));
        if header.symmetric && i != j {
            entries.push((j, i, v));
        }
    }
    lines.end(count)?;
    Ok(csr(rows, cols, entries))
}

/// Reads an `n × 1` array.
pub fn read_vector(path: &Path) -> Result<Vec<f64>> {
    let (_, cols, values) = read_array(path)?;
    if cols != 1 {
        bail!("{}: a vector has 1 column, not {cols}", path.display());
    }
    Ok(values)
}

/// Reads an `n × 3` array of points.
pub fn read_points(path: &Path) -> Result<Vec<[f64; 3]>> {
    let (rows, cols, values) = read_array(path)?;
    if cols != 3 {
        bail!("{}: points have 3 columns, not {cols}", path.display());
    }
    Ok((0..rows)
        .map(|r| std::array::from_fn(|c| values[c * rows + r]))
        .collect())
}

/// Reads an `array real general` file: rows, columns and the values,
/// column-major.
fn read_array(path: &Path) -> Result<(usize, usize, Vec<f64>)> {
    let text = read(path)?;
    let mut lines = Lines::new(path, &text);
    let header = lines.header(Format::Array)?;
    if header.symmetric {
        bail!(lines.at("symmetric arrays are not read; write them general".into()));
    }
    let [rows, cols] = lines.sizes::<2>()?;
    let count = rows
        .checked_mul(cols)
        .with_context(|| lines.at(format!("{rows} × {cols} is too large")))?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let fields = lines.entry(1, count)?;
        values.push(lines.value(fields[0])?);
    }
    lines.end(count)?;
    Ok((rows, cols, values))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// A CSR matrix from `(row, column, value)` triplets, in any order,
/// duplicates summed.
fn csr(rows: usize, cols: usize, mut entries: Vec<(usize, usize, f64)>) -> SparseMatrix {
    entries.sort_by_key(|&(i, j, _)| (i, j));
    let mut ptr = vec![0; rows + 1];
    let mut col: Vec<usize> = Vec::with_capacity(entries.len());
    let mut val: Vec<f64> = Vec::with_capacity(entries.len());
    let mut last = None;
    for (i, j, v) in entries {
        if last == Some((i, j)) {
            *val.last_mut().expect("a previous entry") += v;
        } else {
            ptr[i + 1] += 1;
            col.push(j);
            val.push(v);
            last = Some((i, j));
        }
    }
    for i in 0..rows {
        ptr[i + 1] += ptr[i];
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(rows, cols, ptr, None, col),
        val,
    )
}

/// The two layouts of a Matrix Market matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Coordinate,
    Array,
}

/// What a header line says beyond the format.
struct Header {
    symmetric: bool,
}

/// The lines of a file with their numbers, skipping comments and blank
/// lines after the header; every error names the file and line.
struct Lines<'a> {
    path: &'a Path,
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    /// Number (1-based) of the last line read.
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(path: &'a Path, text: &'a str) -> Lines<'a> {
        Lines {
            path,
            lines: text.lines().enumerate(),
            line: 0,
        }
    }

    /// `message` at the current line.
    fn at(&self, message: String) -> String {
        format!("{}: line {}: {message}", self.path.display(), self.line)
    }

    /// The next line that is not blank or a comment.
    fn next_data(&mut self) -> Option<&'a str> {
        for (n, l) in self.lines.by_ref() {
            self.line = n + 1;
            let l = l.trim();
            if !l.is_empty() && !l.starts_with('%') {
                return Some(l);
            }
        }
        None
    }

    /// Reads the banner `%%MatrixMarket matrix FORMAT FIELD SYMMETRY`.
    fn header(&mut self, expected: Format) -> Result<Header> {
        let first = self.lines.next().map(|(_, l)| l);
        self.line = 1;
        let words: Vec<String> = first
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let [banner, object, format, field, symmetry] = &words[..] else {
            bail!(self.at(
                "expected the header '%%MatrixMarket matrix <coordinate|array> real general'"
                    .into()
            ));
        };
        if banner != "%%matrixmarket" || object != "matrix" {
            bail!(self.at(format!(
                "expected '%%MatrixMarket matrix ...', found '{}'",
                first.unwrap_or_default()
            )));
        }
        let found = match format.as_str() {
            "coordinate" => Format::Coordinate,
            "array" => Format::Array,
            other => bail!(self.at(format!("unknown format '{other}'"))),
        };
        if found != expected {
            bail!(self.at(format!(
                "{format} file where {} is expected",
                match expected {
                    Format::Coordinate => "a coordinate file (a sparse matrix)",
                    Format::Array => "an array file (a vector or points)",
                }
            )));
        }
        if field != "real" && field != "integer" {
            bail!(self.at(format!(
                "field '{field}' is not read (only real and integer values)"
            )));
        }
        let symmetric = match symmetry.as_str() {
            "general" => false,
            "symmetric" => true,
            other => bail!(self.at(format!(
                "symmetry '{other}' is not read (only general and symmetric)"
            ))),
        };
        Ok(Header { symmetric })
    }

    /// The size line: `N` non-negative integers.
    fn sizes<const N: usize>(&mut self) -> Result<[usize; N]> {
        let Some(l) = self.next_data() else {
            bail!(self.at("the size line is missing".into()));
        };
        let sizes: Vec<usize> = l
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()
            .filter(|s: &Vec<usize>| s.len() == N)
            .with_context(|| self.at(format!("expected {N} sizes, found '{l}'")))?;
        Ok(std::array::from_fn(|k| sizes[k]))
    }

    /// The next entry line, split into exactly `fields` fields; `count` is
    /// the number of entries the size line announced.
    fn entry(&mut self, fields: usize, count: usize) -> Result<Vec<&'a str>> {
        let Some(l) = self.next_data() else {
            bail!(self.at(format!(
                "the file ends before the {count} entries the size line announces"
            )));
        };
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != fields {
            bail!(self.at(format!("expected {fields} fields, found '{l}'")));
        }
        Ok(f)
    }

    /// A value field.
    fn value(&self, field: &str) -> Result<f64> {
        field
            .parse()
            .with_context(|| self.at(format!("'{field}' is not a number")))
    }

    /// Checks that no entry follows the `count` announced.
    fn end(&mut self, count: usize) -> Result<()> {
        if let Some(l) = self.next_data() {
            bail!(self.at(format!(
                "'{l}' after the {count} entries the size line announces"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Draws;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("m.mtx");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A random sparse matrix with values of every magnitude and sign,
    /// written and read back, is the same to the last bit.
    #[test]
    fn a_random_sparse_matrix_round_trips_exactly() {
        let mut draws = Draws::new(3);
        let (rows, cols) = (40, 30);
        let entries: Vec<(usize, usize, f64)> = (0..200)
            .map(|_| {
                let v = draws.normal() * 10f64.powf(draws.uniform([-300.0, 300.0]));
                (draws.index(rows), draws.index(cols), v)
            })
            .collect();
        let a = csr(rows, cols, entries);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mtx");
        write_matrix(&path, &a).unwrap();
        let b = read_matrix(&path).unwrap();
        assert_eq!((b.nrows(), b.ncols()), (rows, cols));
        assert_eq!(b.symbolic().row_ptr(), a.symbolic().row_ptr());
        assert_eq!(b.symbolic().col_idx(), a.symbolic().col_idx());
        let bits = |m: &SparseMatrix| m.val().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&b), bits(&a));
        let points: Vec<[f64; 3]> = (0..7)
            .map(|_| std::array::from_fn(|_| draws.normal() / 3.0))
            .collect();
        write_points(&path, &points).unwrap();
        assert_eq!(read_points(&path).unwrap(), points);
    }

    /// A symmetric file's lower triangle is mirrored; duplicates add up.
    #[test]
    fn symmetric_files_are_expanded_and_duplicates_summed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "%%MatrixMarket matrix coordinate real symmetric\n% a comment\n\n\
             3 3 5\n1 1 4\n2 1 -1\n3 3 2\n3 2 0.5\n3 2 0.25\n",
        );
        let a = read_matrix(&path).unwrap();
        assert_eq!(a.symbolic().row_ptr(), [0, 2, 4, 6]);
        assert_eq!(a.symbolic().col_idx(), [0, 1, 0, 2, 1, 2]);
        assert_eq!(a.val(), [4.0, -1.0, -1.0, 0.75, 0.75, 2.0]);
    }

    /// Malformed files are refused with the file and the line at fault.
    #[test]
    fn malformed_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in [
            (
                "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n",
                "line 1: field 'complex' is not read",
            ),
            (
                "%%MatrixMarket matrix coordinate real general\n% c\n2 2 2\n1 1 1\n1 x 1\n",
                "line 5: column index 'x' is not in 1..=2",
            ),
            (
                "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n3 1 1\n",
                "line 4: row index '3' is not in 1..=2",
            ),
            (
                "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 1\n",
                "line 4: the file ends before the 3 entries",
            ),
            (
                "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 1\n",
                "line 4: '2 2 1' after the 1 entries",
            ),
            (
                "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n",
                "line 3: entry (1, 2) above the diagonal",
            ),
            (
                "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 one\n",
                "line 3: 'one' is not a number",
            ),
        ] {
            let path = write(dir.path(), text);
            let err = format!("{:#}", read_matrix(&path).unwrap_err());
            assert!(
                err.contains(&format!("{}: {expected}", path.display())),
                "{expected}: {err}"
            );
        }
        let path = write(
            dir.path(),
            "%%MatrixMarket matrix array real general\n3 1\n1\n2\n",
        );
        let err = format!("{:#}", read_vector(&path).unwrap_err());
        assert!(
            err.contains("line 4: the file ends before the 3 entries"),
            "{err}"
        );
        let err = format!("{:#}", read_matrix(&path).unwrap_err());
        assert!(
            err.contains("line 1: array file where a coordinate file"),
            "{err}"
        );
    }
}
