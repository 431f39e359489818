//! nginx-parser: parses an nginx "combined" access-log line held in one field into
//! remote_addr, time_local, method, path, protocol, status, body_bytes_sent, referer and
//! user_agent. The record's other fields are kept, before the parsed ones. A line that
//! does not parse is an error outcome whose message names what failed and where.
//!
//! Config: `field` — the field holding the line (default `content`).
//!
//! The combined format is
//! `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
#[path = "../../sdk/rust/slspipe.rs"]
mod slspipe;

use std::cell::RefCell;

thread_local! {
    static FIELD: RefCell<Vec<u8>> = RefCell::new(b"content".to_vec());
}

pub fn init(cfg: &slspipe::Config) -> Result<(), String> {
    for (k, v) in cfg.iter() {
        match k {
            b"field" if !v.is_empty() => FIELD.with(|f| *f.borrow_mut() = v.to_vec()),
            b"field" => return Err("nginx-parser: config field must not be empty".into()),
            _ => return Err(format!("nginx-parser: unknown config key {:?}; known: field", String::from_utf8_lossy(k))),
        }
    }
    Ok(())
}

pub fn process<'a>(batch: &slspipe::Batch<'a>, out: &mut slspipe::Output<'a>) -> Result<(), String> {
    FIELD.with(|f| {
        let field = f.borrow();
        for i in 0..batch.len() {
            let rec = batch.record(i);
            let line = match rec.get(&field) {
                Some(l) => l,
                None => {
                    out.error(i, &format!("nginx-parser: record has no field {:?}", String::from_utf8_lossy(&field)));
                    continue;
                }
            };
            match parse(line) {
                Ok(p) => {
                    out.emit(rec.sec, rec.nsec);
                    for (k, v) in rec.fields() {
                        if k != field.as_slice() {
                            out.field(k, v);
                        }
                    }
                    for (k, v) in KEYS.iter().zip(p.iter()) {
                        out.field(k, v);
                    }
                    out.ok(i, 0);
                }
                Err(e) => out.error(i, &format!("nginx-parser: {} at byte {}", e.what, e.at)),
            }
        }
    });
    Ok(())
}

static KEYS: [&[u8]; 9] = [
    b"remote_addr",
    b"time_local",
    b"method",
    b"path",
    b"protocol",
    b"status",
    b"body_bytes_sent",
    b"referer",
    b"user_agent",
];

struct ParseError {
    what: &'static str,
    at: usize,
}

/// A cursor over the line; every step names what it expected when it fails.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, ParseError> {
        Err(ParseError { what, at: self.at })
    }
    fn expect(&mut self, lit: &[u8], what: &'static str) -> Result<(), ParseError> {
        if self.s[self.at..].starts_with(lit) {
            self.at += lit.len();
            Ok(())
        } else {
            self.fail(what)
        }
    }
    /// Reads up to the next space (or the end); fails on an empty token.
    fn token(&mut self, what: &'static str) -> Result<&'a [u8], ParseError> {
        let start = self.at;
        while self.at < self.s.len() && self.s[self.at] != b' ' {
            self.at += 1;
        }
        if self.at == start {
            return self.fail(what);
        }
        Ok(&self.s[start..self.at])
    }
    /// Reads a double-quoted string, honouring backslash escapes (kept as written).
    fn quoted(&mut self, what: &'static str) -> Result<&'a [u8], ParseError> {
        if self.s.get(self.at) != Some(&b'"') {
            return self.fail(what);
        }
        let start = self.at + 1;
        let mut j = start;
        while j < self.s.len() {
            match self.s[j] {
                b'\\' => j += 2,
                b'"' => {
                    self.at = j + 1;
                    return Ok(&self.s[start..j]);
                }
                _ => j += 1,
            }
        }
        self.fail("unterminated quoted string")
    }
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn parse(line: &[u8]) -> Result<[&[u8]; 9], ParseError> {
    let mut c = Cursor { s: line, at: 0 };
    let addr = c.token("expected remote_addr")?;
    c.expect(b" - ", "expected ' - ' after remote_addr")?;
    c.token("expected remote_user or '-'")?;
    c.expect(b" [", "expected ' [' before time_local")?;
    let start = c.at;
    let end = match line[start..].iter().position(|&b| b == b']') {
        Some(n) => start + n,
        None => return c.fail("expected ']' after time_local"),
    };
    if end == start {
        return c.fail("empty time_local");
    }
    let time = &line[start..end];
    c.at = end + 1;
    c.expect(b" ", "expected a space after time_local")?;
    let request_at = c.at;
    let request = c.quoted("expected a quoted request")?;
    let mut parts = request.splitn(3, |&b| b == b' ');
    let (method, path, proto) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) if !m.is_empty() && !p.is_empty() && v.starts_with(b"HTTP/") => (m, p, v),
        _ => return Err(ParseError { what: "request is not \"METHOD PATH HTTP/x\"", at: request_at }),
    };
    c.expect(b" ", "expected a space after the request")?;
    let status_at = c.at;
    let status = c.token("expected status")?;
    if status.len() != 3 || !all_digits(status) {
        return Err(ParseError { what: "status is not a 3-digit number", at: status_at });
    }
    c.expect(b" ", "expected a space after status")?;
    let bytes_at = c.at;
    let bytes = c.token("expected body_bytes_sent")?;
    if !all_digits(bytes) && bytes != b"-" {
        return Err(ParseError { what: "body_bytes_sent is not a number", at: bytes_at });
    }
    c.expect(b" ", "expected a space after body_bytes_sent")?;
    let referer = c.quoted("expected a quoted referer")?;
    c.expect(b" ", "expected a space after referer")?;
    let agent = c.quoted("expected a quoted user_agent")?;
    Ok([addr, time, method, path, proto, status, bytes, referer, agent])
}
