//! A reader of gmsh's mixed text/binary files that remembers where it is, so
//! that every error can name the line (text) or byte offset (binary).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::{MeshError, Position, Result};

/// Byte order of the binary parts of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// Tokeniser over a `BufRead` that switches between text and binary values.
pub(super) struct Scanner<R> {
    inner: R,
    path: PathBuf,
    /// Line of the next unread byte (1-based).
    line: usize,
    /// Offset of the next unread byte.
    offset: u64,
    /// Last token read and where it started.
    tok: Vec<u8>,
    tok_line: usize,
    tok_offset: u64,
    /// `Some` while reading binary values.
    binary: Option<Endian>,
}

impl<R: BufRead> Scanner<R> {
    pub(super) fn new(inner: R, path: &Path) -> Self {
        Scanner {
            inner,
            path: path.to_path_buf(),
            line: 1,
            offset: 0,
            tok: Vec::with_capacity(64),
            tok_line: 1,
            tok_offset: 0,
            binary: None,
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Switches binary value reading on (with the given byte order) or off.
    pub(super) fn set_binary(&mut self, endian: Option<Endian>) {
        self.binary = endian;
    }

    pub(super) fn is_binary(&self) -> bool {
        self.binary.is_some()
    }

    fn io_err(&self, e: std::io::Error) -> MeshError {
        MeshError::io(&self.path, e)
    }

    /// An error at the last token (text) or at the current offset (binary).
    pub(super) fn err(&self, message: impl Into<String>) -> MeshError {
        let position = if self.binary.is_some() {
            Position::Byte(self.offset)
        } else {
            Position::Line(self.tok_line)
        };
        self.err_at(position, message)
    }

    /// An error at the start of the last token, by line (for text tokens read
    /// while in binary mode too, such as section names).
    pub(super) fn err_at_token(&self, message: impl Into<String>) -> MeshError {
        self.err_at(self.token_position(), message)
    }

    /// Where the last token started (line in text mode, byte offset in binary).
    pub(super) fn token_position(&self) -> Position {
        if self.binary.is_some() {
            Position::Byte(self.tok_offset)
        } else {
            Position::Line(self.tok_line)
        }
    }

    /// The offset of the next unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// An error at a given position.
    pub(super) fn err_at(&self, position: Position, message: impl Into<String>) -> MeshError {
        MeshError::Parse {
            path: self.path.clone(),
            position,
            message: message.into(),
        }
    }

    /// Reads the next whitespace-separated token; `false` at end of input.
    pub(super) fn next_token(&mut self) -> Result<bool> {
        self.tok.clear();
        // Skip whitespace.
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) => return Err(MeshError::io(&self.path, e)),
            };
            if buf.is_empty() {
                return Ok(false);
            }
            let skip = buf.iter().position(|b| !b.is_ascii_whitespace());
            let n = skip.unwrap_or(buf.len());
            self.line += buf[..n].iter().filter(|&&b| b == b'\n').count();
            self.offset += n as u64;
            self.inner.consume(n);
            if skip.is_some() {
                break;
            }
        }
        self.tok_line = self.line;
        self.tok_offset = self.offset;
        // Read the token.
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) => return Err(MeshError::io(&self.path, e)),
            };
            if buf.is_empty() {
                return Ok(true);
            }
            let end = buf.iter().position(|b| b.is_ascii_whitespace());
            let n = end.unwrap_or(buf.len());
            if self.tok.len() + n > 4096 {
                return Err(self.err_at_token(
                    "token longer than 4096 bytes (binary data where text was expected?)",
                ));
            }
            self.tok.extend_from_slice(&buf[..n]);
            self.offset += n as u64;
            self.inner.consume(n);
            if end.is_some() {
                return Ok(true);
            }
        }
    }

    /// The next token, or an error saying what was expected.
    pub(super) fn token(&mut self, expected: &str) -> Result<&[u8]> {
        if !self.next_token()? {
            let pos = Position::Line(self.line);
            return Err(self.err_at(pos, format!("unexpected end of file; expected {expected}")));
        }
        Ok(&self.tok)
    }

    /// The last token as text (invalid UTF-8 replaced).
    pub(super) fn last(&self) -> String {
        String::from_utf8_lossy(&self.tok).into_owned()
    }

    /// The last token as text for messages (shortened, non-printable escaped).
    pub(super) fn shown(&self) -> String {
        let s: String = String::from_utf8_lossy(&self.tok[..self.tok.len().min(40)]).into();
        let s: String = s
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        if self.tok.len() > 40 {
            format!("'{s}...'")
        } else {
            format!("'{s}'")
        }
    }

    /// Requires the next token to be exactly `word`.
    pub(super) fn expect(&mut self, word: &str) -> Result<()> {
        self.token(word)?;
        if self.tok != word.as_bytes() {
            return Err(self.err_at_token(format!("expected {word}, found {}", self.shown())));
        }
        Ok(())
    }

    fn parse_text<T: std::str::FromStr>(&mut self, what: &str, kind: &str) -> Result<T> {
        self.token(what)?;
        std::str::from_utf8(&self.tok)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                self.err_at_token(format!("expected {what} ({kind}), found {}", self.shown()))
            })
    }

    /// A text integer.
    pub(super) fn text_i64(&mut self, what: &str) -> Result<i64> {
        self.parse_text(what, "an integer")
    }

    /// A text non-negative integer.
    pub(super) fn text_u64(&mut self, what: &str) -> Result<u64> {
        self.parse_text(what, "a non-negative integer")
    }

    /// A text floating-point number.
    pub(super) fn text_f64(&mut self, what: &str) -> Result<f64> {
        self.parse_text(what, "a number")
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        let at = self.offset;
        match self.inner.read_exact(&mut b) {
            Ok(()) => {
                self.offset += N as u64;
                Ok(b)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.err_at(
                Position::Byte(at),
                format!("unexpected end of file; expected {what} ({N} bytes)"),
            )),
            Err(e) => Err(self.io_err(e)),
        }
    }

    /// A binary 4-byte integer in the given byte order.
    pub(super) fn raw_i32(&mut self, endian: Endian, what: &str) -> Result<i32> {
        let b = self.bytes::<4>(what)?;
        Ok(match endian {
            Endian::Little => i32::from_le_bytes(b),
            Endian::Big => i32::from_be_bytes(b),
        })
    }

    /// An `int`: text, or 4 binary bytes.
    pub(super) fn int(&mut self, what: &str) -> Result<i64> {
        match self.binary {
            None => self.text_i64(what),
            Some(e) => Ok(self.raw_i32(e, what)? as i64),
        }
    }

    /// A `size_t`: text, or 8 binary bytes (MSH 4.1 requires 8-byte sizes).
    pub(super) fn size(&mut self, what: &str) -> Result<u64> {
        match self.binary {
            None => self.text_u64(what),
            Some(e) => {
                let b = self.bytes::<8>(what)?;
                Ok(match e {
                    Endian::Little => u64::from_le_bytes(b),
                    Endian::Big => u64::from_be_bytes(b),
                })
            }
        }
    }

    /// A `double`: text, or 8 binary bytes.
    pub(super) fn float(&mut self, what: &str) -> Result<f64> {
        match self.binary {
            None => self.text_f64(what),
            Some(e) => {
                let b = self.bytes::<8>(what)?;
                Ok(match e {
                    Endian::Little => f64::from_le_bytes(b),
                    Endian::Big => f64::from_be_bytes(b),
                })
            }
        }
    }

    /// Consumes the rest of the current line up to and including its `\n`
    /// (only spaces and `\r` may stand before it). Binary data starts right after.
    pub(super) fn end_line(&mut self) -> Result<()> {
        loop {
            let b = self.bytes::<1>("end of line")?[0];
            match b {
                b'\n' => {
                    self.line += 1;
                    return Ok(());
                }
                b' ' | b'\t' | b'\r' => {}
                other => {
                    return Err(self.err_at(
                        Position::Byte(self.offset - 1),
                        format!("expected end of line, found byte 0x{other:02x}"),
                    ))
                }
            }
        }
    }

    /// A double-quoted string on the current line (`"inlet"`).
    pub(super) fn quoted(&mut self, what: &str) -> Result<String> {
        // Skip blanks (not newlines: the name must be on this line).
        let mut first = self.bytes::<1>(what)?[0];
        while first == b' ' || first == b'\t' {
            first = self.bytes::<1>(what)?[0];
        }
        self.tok_line = self.line;
        if first != b'"' {
            return Err(self.err(format!("expected {what} in double quotes")));
        }
        let mut s = Vec::new();
        loop {
            let b = self.bytes::<1>(what)?[0];
            match b {
                b'"' => break,
                b'\n' => return Err(self.err(format!("{what} is missing its closing quote"))),
                _ if s.len() > 1024 => return Err(self.err(format!("{what} is too long"))),
                _ => s.push(b),
            }
        }
        String::from_utf8(s).map_err(|_| self.err(format!("{what} is not valid UTF-8")))
    }

    /// Skips everything up to and including the token `$End<name>`.
    pub(super) fn skip_section(&mut self, name: &str) -> Result<()> {
        let end = format!("$End{name}");
        let start = self.tok_line;
        while self.next_token()? {
            if self.tok == end.as_bytes() {
                return Ok(());
            }
        }
        Err(self.err_at(
            Position::Line(start),
            format!("section ${name} is not closed by {end}"),
        ))
    }
}
