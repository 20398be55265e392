//! A reader of gmsh's mixed text/binary files that remembers where it is, so
//! that every error can name the line (text) or byte offset (binary).
//!
//! It owns its buffer: text tokens are slices of it (no copies), and runs of
//! binary values are decoded straight from it in bulk.

use std::io::Read;
use std::ops::Range;
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

/// Longest text token accepted (numbers and section names are far shorter).
const MAX_TOKEN: usize = 4096;
const BUFFER: usize = 1 << 20;

/// Tokeniser over a reader that switches between text and binary values.
pub(super) struct Scanner<R> {
    inner: R,
    path: PathBuf,
    buf: Box<[u8]>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[0]`.
    base: u64,
    /// Line of `buf[pos]` (1-based; counted in text only).
    line: usize,
    /// Last token, as a range of `buf`, and where it started.
    tok: Range<usize>,
    tok_line: usize,
    tok_offset: u64,
    /// `Some` while reading binary values.
    binary: Option<Endian>,
}

#[inline]
fn decode_u64(b: &[u8], e: Endian) -> u64 {
    let a: [u8; 8] = b.try_into().expect("8 bytes");
    match e {
        Endian::Little => u64::from_le_bytes(a),
        Endian::Big => u64::from_be_bytes(a),
    }
}

#[inline]
fn decode_i32(b: &[u8], e: Endian) -> i32 {
    let a: [u8; 4] = b.try_into().expect("4 bytes");
    match e {
        Endian::Little => i32::from_le_bytes(a),
        Endian::Big => i32::from_be_bytes(a),
    }
}

/// Parses an unsigned decimal integer; `None` if malformed or too large.
#[inline]
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |v, &d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parses an optionally signed decimal integer; `None` if malformed or out of range.
fn parse_i64(t: &[u8]) -> Option<i64> {
    match t.first()? {
        b'-' => {
            let v = parse_u64(&t[1..])?;
            if v == 1 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(v).ok().map(|v| -v)
            }
        }
        b'+' => i64::try_from(parse_u64(&t[1..])?).ok(),
        _ => i64::try_from(parse_u64(t)?).ok(),
    }
}

impl<R: Read> Scanner<R> {
    pub(super) fn new(inner: R, path: &Path) -> Self {
        Scanner {
            inner,
            path: path.to_path_buf(),
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            base: 0,
            line: 1,
            tok: 0..0,
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

    /// The offset of the next unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Moves unread bytes from `keep` on to the front of the buffer and reads
    /// more after them. Returns `false` if nothing more could be read.
    fn refill(&mut self, keep: usize) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if keep > 0 {
            self.buf.copy_within(keep..self.end, 0);
            self.base += keep as u64;
            self.pos -= keep;
            self.end -= keep;
            if self.tok.start >= keep {
                self.tok = self.tok.start - keep..self.tok.end - keep;
            } else {
                self.tok = 0..0;
            }
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MeshError::io(&self.path, e)),
            }
        }
    }

    /// Makes at least `n` (at most the buffer size) unread bytes available;
    /// returns how many are.
    fn available(&mut self, n: usize) -> Result<usize> {
        while self.end - self.pos < n && self.refill(self.pos)? {}
        Ok(self.end - self.pos)
    }

    /// An error at the last token (text) or at the current offset (binary).
    pub(super) fn err(&self, message: impl Into<String>) -> MeshError {
        let position = if self.binary.is_some() {
            Position::Byte(self.offset())
        } else {
            Position::Line(self.tok_line)
        };
        self.err_at(position, message)
    }

    /// An error at the start of the last token.
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
        // Skip whitespace, counting lines.
        loop {
            let rest = &self.buf[self.pos..self.end];
            let skip = rest.iter().position(|b| !b.is_ascii_whitespace());
            let n = skip.unwrap_or(rest.len());
            self.line += rest[..n].iter().filter(|&&b| b == b'\n').count();
            self.pos += n;
            if skip.is_some() {
                break;
            }
            if !self.refill(self.pos)? {
                self.tok = self.pos..self.pos;
                return Ok(false);
            }
        }
        self.tok_line = self.line;
        self.tok_offset = self.offset();
        // The token: up to the next whitespace, reading on if it reaches the
        // end of the buffer (refill keeps it, moved to the front).
        let mut len = 0;
        loop {
            let rest = &self.buf[self.pos + len..self.end];
            let end = rest.iter().position(u8::is_ascii_whitespace);
            len += end.unwrap_or(rest.len());
            if len > MAX_TOKEN {
                self.tok = self.pos..self.pos + len;
                return Err(self.err_at_token(format!(
                    "token longer than {MAX_TOKEN} bytes (binary data where text was expected?)"
                )));
            }
            if end.is_some() || !self.refill(self.pos)? {
                break;
            }
        }
        self.tok = self.pos..self.pos + len;
        self.pos += len;
        Ok(true)
    }

    fn last_bytes(&self) -> &[u8] {
        &self.buf[self.tok.clone()]
    }

    /// The next token, or an error saying what was expected.
    pub(super) fn token(&mut self, expected: &str) -> Result<&[u8]> {
        if !self.next_token()? {
            let pos = Position::Line(self.line);
            return Err(self.err_at(pos, format!("unexpected end of file; expected {expected}")));
        }
        Ok(self.last_bytes())
    }

    /// The last token as text (invalid UTF-8 replaced).
    pub(super) fn last(&self) -> String {
        String::from_utf8_lossy(self.last_bytes()).into_owned()
    }

    /// The last token as text for messages (shortened, non-printable escaped).
    pub(super) fn shown(&self) -> String {
        let t = self.last_bytes();
        let s: String = String::from_utf8_lossy(&t[..t.len().min(40)]).into();
        let s: String = s
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        if t.len() > 40 {
            format!("'{s}...'")
        } else {
            format!("'{s}'")
        }
    }

    /// Requires the next token to be exactly `word`.
    pub(super) fn expect(&mut self, word: &str) -> Result<()> {
        if self.token(word)? != word.as_bytes() {
            return Err(self.err_at_token(format!("expected {word}, found {}", self.shown())));
        }
        Ok(())
    }

    fn bad_token(&self, what: &str, kind: &str) -> MeshError {
        self.err_at_token(format!("expected {what} ({kind}), found {}", self.shown()))
    }

    /// A text integer.
    pub(super) fn text_i64(&mut self, what: &str) -> Result<i64> {
        if let Some(v) = self.text_u64_fast() {
            return i64::try_from(v).map_err(|_| self.bad_token(what, "an integer"));
        }
        let t = self.token(what)?;
        parse_i64(t).ok_or_else(|| self.bad_token(what, "an integer"))
    }

    /// A text non-negative integer.
    pub(super) fn text_u64(&mut self, what: &str) -> Result<u64> {
        if let Some(v) = self.text_u64_fast() {
            return Ok(v);
        }
        let t = self.token(what)?;
        let t = t.strip_prefix(b"+").unwrap_or(t);
        parse_u64(t).ok_or_else(|| self.bad_token(what, "a non-negative integer"))
    }

    /// One pass over whitespace then digits within the buffer, for the common
    /// case of a short unsigned integer followed by whitespace. `None` (having
    /// consumed nothing) for anything else, which the general path handles.
    #[inline]
    fn text_u64_fast(&mut self) -> Option<u64> {
        let bytes = &self.buf[self.pos..self.end];
        let mut i = 0;
        let mut lines = 0;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            lines += usize::from(bytes[i] == b'\n');
            i += 1;
        }
        let start = i;
        let mut v = 0u64;
        // At most 19 digits: cannot overflow.
        while i < bytes.len() && i - start < 19 {
            let d = bytes[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v * 10 + u64::from(d);
            i += 1;
        }
        if i == start || i >= bytes.len() || !bytes[i].is_ascii_whitespace() {
            return None;
        }
        self.line += lines;
        self.tok_line = self.line;
        self.tok = self.pos + start..self.pos + i;
        self.tok_offset = self.base + (self.pos + start) as u64;
        self.pos += i;
        Some(v)
    }

    /// A text floating-point number.
    pub(super) fn text_f64(&mut self, what: &str) -> Result<f64> {
        let t = self.token(what)?;
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.bad_token(what, "a number"))
    }

    /// `N` raw bytes.
    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        if self.available(N)? < N {
            let at = Position::Byte(self.offset());
            return Err(self.err_at(
                at,
                format!("unexpected end of file; expected {what} ({N} bytes)"),
            ));
        }
        let b: [u8; N] = self.buf[self.pos..self.pos + N]
            .try_into()
            .expect("N bytes");
        self.pos += N;
        Ok(b)
    }

    /// A binary 4-byte integer in the given byte order.
    pub(super) fn raw_i32(&mut self, endian: Endian, what: &str) -> Result<i32> {
        Ok(decode_i32(&self.bytes::<4>(what)?, endian))
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
            Some(e) => Ok(decode_u64(&self.bytes::<8>(what)?, e)),
        }
    }

    /// A `double`: text, or 8 binary bytes.
    pub(super) fn float(&mut self, what: &str) -> Result<f64> {
        match self.binary {
            None => self.text_f64(what),
            Some(e) => Ok(f64::from_bits(decode_u64(&self.bytes::<8>(what)?, e))),
        }
    }

    /// Reads `count` values in batches: text values one by one, binary
    /// values decoded in bulk from the buffer. `each(batch, s)` may report an
    /// error at value `i` of the batch with [`Scanner::err_in_batch`].
    fn batches<T: Copy + Default>(
        &mut self,
        count: u64,
        what: &str,
        text: fn(&mut Self, &str) -> Result<T>,
        decode: impl Fn(&[u8], Endian) -> T,
        mut each: impl FnMut(&[T], &Self) -> Result<()>,
    ) -> Result<()> {
        let Some(endian) = self.binary else {
            for _ in 0..count {
                let v = text(self, what)?;
                each(&[v], self)?;
            }
            return Ok(());
        };
        let width = std::mem::size_of::<T>();
        let mut values: Vec<T> = Vec::new();
        let mut left = count;
        while left > 0 {
            let want = left.min((BUFFER / width) as u64) as usize * width;
            let n = self.available(want)?.min(want) / width;
            if n == 0 {
                let at = Position::Byte(self.offset());
                return Err(self.err_at(
                    at,
                    format!("unexpected end of file; expected {what} ({width} bytes)"),
                ));
            }
            values.clear();
            values.extend(
                self.buf[self.pos..self.pos + n * width]
                    .chunks_exact(width)
                    .map(|b| decode(b, endian)),
            );
            // Errors in the batch are located from its start.
            self.tok_offset = self.offset();
            self.pos += n * width;
            each(&values, self)?;
            left -= n as u64;
        }
        Ok(())
    }

    /// An error at value `i` of the batch being processed by `each` in
    /// [`Scanner::sizes`] or [`Scanner::floats`].
    pub(super) fn err_in_batch(
        &self,
        i: usize,
        width: usize,
        message: impl Into<String>,
    ) -> MeshError {
        match self.binary {
            Some(_) => self.err_at(
                Position::Byte(self.tok_offset + (i * width) as u64),
                message,
            ),
            None => self.err_at_token(message),
        }
    }

    /// `count` sizes (`size_t`), text or binary, passed to `each` in batches.
    pub(super) fn sizes(
        &mut self,
        count: u64,
        what: &str,
        each: impl FnMut(&[u64], &Self) -> Result<()>,
    ) -> Result<()> {
        self.batches(count, what, Self::text_u64, decode_u64, each)
    }

    /// `count` doubles, text or binary, passed to `each` in batches.
    pub(super) fn floats(
        &mut self,
        count: u64,
        what: &str,
        each: impl FnMut(&[f64], &Self) -> Result<()>,
    ) -> Result<()> {
        self.batches(
            count,
            what,
            Self::text_f64,
            |b, e| f64::from_bits(decode_u64(b, e)),
            each,
        )
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
                        Position::Byte(self.offset() - 1),
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
            if self.last_bytes() == end.as_bytes() {
                return Ok(());
            }
        }
        Err(self.err_at(
            Position::Line(start),
            format!("section ${name} is not closed by {end}"),
        ))
    }
}
