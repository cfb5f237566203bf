//! Byte ranges (RFC 9110 §14): a client asks for part of a file, `Range: bytes=0-99`, to
//! resume a download (`curl -C -`) or to seek in a video, and gets `206 Partial Content` with
//! just those bytes and a `Content-Range` saying which they are.
//!
//! ```text
//! bytes=0-99     the first 100 bytes        bytes=100-    from byte 100 to the end
//! bytes=-500     the last 500 bytes         bytes=9999-   past the end of a shorter file: 416
//! ```
//!
//! One range per request. A request for several is answered with the whole file and 200,
//! which the RFC allows (a server MAY ignore `Range`): a multipart answer costs a boundary and
//! headers per part, and many small or overlapping ranges could make it cost more than the
//! file itself (the denial of service of RFC 9110 §14.2); the whole file costs exactly the
//! file. A `Range` that is not valid syntax, or in a unit other than bytes, is ignored too.
//!
//! `If-Range` makes a range conditional: "only if the file is still the one I have part of",
//! named by its `ETag` or its `Last-Modified` date. When it is not, the whole file comes back,
//! and the client starts over instead of splicing parts of two versions together.

use crate::request::{Request, trim_whitespace};
use crate::response::Validators;

/// What a request asks of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requested {
    /// The whole file (no `Range`, one to ignore, or an `If-Range` that does not hold).
    Whole,
    /// Bytes `start` to `end` of it, both included.
    Part {
        /// The first byte.
        start: u64,
        /// The last byte (not past the end of the file).
        end: u64,
    },
    /// A range that starts at or beyond the end of the file: 416.
    Unsatisfiable,
}

/// What `request` asks of a file of `length` bytes whose validators are `validators`.
/// Looks at nothing unless the request has a `Range` header.
///
/// # Examples
///
/// ```
/// use common::ranges::{requested, Requested};
/// use common::request::{parse, Parsed};
///
/// let bytes = b"GET /a HTTP/1.1\r\nHost: h\r\nRange: bytes=-10\r\n\r\n";
/// let Ok(Parsed::Complete { request, .. }) = parse(bytes) else { panic!() };
/// assert_eq!(requested(&request, 100, None), Requested::Part { start: 90, end: 99 });
/// ```
pub fn requested(request: &Request, length: u64, validators: Option<&Validators>) -> Requested {
    let Some(range) = request.header("range") else {
        return Requested::Whole;
    };
    if let Some(condition) = request.header("if-range") {
        if !validators.is_some_and(|validators| if_range_holds(condition, validators)) {
            return Requested::Whole;
        }
    }
    parse(range, length)
}

/// Whether an `If-Range` value names the file as it is now (RFC 9110 §13.1.5): its entity
/// tag, compared strongly (a weak tag `W/"..."` never matches), or exactly its modification
/// date.
fn if_range_holds(condition: &[u8], validators: &Validators) -> bool {
    if condition.starts_with(b"\"") || condition.starts_with(b"W/") {
        return condition == validators.etag().to_string().as_bytes();
    }
    let date =
        std::str::from_utf8(condition).ok().and_then(|text| httpdate::parse_http_date(text).ok());
    date == Some(validators.last_modified())
}

/// The range a `Range` value asks for in a file of `length` bytes.
fn parse(value: &[u8], length: u64) -> Requested {
    // The unit is case-insensitive (§14.1); any other unit is ignored.
    let Some(set) =
        value.get(..6).filter(|unit| unit.eq_ignore_ascii_case(b"bytes=")).map(|_| &value[6..])
    else {
        return Requested::Whole;
    };
    let mut specs =
        set.split(|&byte| byte == b',').map(trim_whitespace).filter(|spec| !spec.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        // None at all (invalid), or several (answered whole: see the module's notes).
        return Requested::Whole;
    };
    let Some(dash) = spec.iter().position(|&byte| byte == b'-') else {
        return Requested::Whole;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    let last_byte = length.checked_sub(1);
    match (number(first), number(last), last_byte) {
        // `-n`: the last n bytes, all of them if the file is shorter.
        (None, Some(suffix), Some(last_byte)) if first.is_empty() && suffix > 0 => {
            Requested::Part { start: length.saturating_sub(suffix), end: last_byte }
        }
        (None, Some(_), _) if first.is_empty() => Requested::Unsatisfiable,
        // `a-`: from a to the end.
        (Some(start), None, Some(last_byte)) if last.is_empty() && start <= last_byte => {
            Requested::Part { start, end: last_byte }
        }
        // `a-b`, b not before a: a to b, or to the end if the file is shorter.
        (Some(start), Some(end), Some(last_byte)) if start <= end && start <= last_byte => {
            Requested::Part { start, end: end.min(last_byte) }
        }
        (Some(start), Some(end), _) if start <= end => Requested::Unsatisfiable,
        (Some(_), None, _) if last.is_empty() => Requested::Unsatisfiable,
        // Not a range at all (`x-1`, `-`, `5-2`): invalid, so ignored (§14.2).
        _ => Requested::Whole,
    }
}

/// A position: digits only. A number too large for a `u64` is still a number (far past the
/// end of any file), so it saturates rather than failing.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |value, digit| {
        value.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::request::{Parsed, parse as parse_request};

    fn asked(headers: &str, length: u64) -> Requested {
        let bytes = format!("GET /f HTTP/1.1\r\nHost: h\r\n{headers}\r\n\r\n");
        let Ok(Parsed::Complete { request, .. }) = parse_request(bytes.as_bytes()) else {
            panic!("a whole request")
        };
        let validators =
            Validators { modified: UNIX_EPOCH + Duration::new(1_700_000_000, 5), length };
        requested(&request, length, Some(&validators))
    }

    fn part(start: u64, end: u64) -> Requested {
        Requested::Part { start, end }
    }

    #[test]
    fn each_form_of_a_single_range() {
        assert_eq!(asked("Range: bytes=0-99", 1000), part(0, 99));
        assert_eq!(asked("Range: bytes=100-", 1000), part(100, 999));
        assert_eq!(asked("Range: bytes=-500", 1000), part(500, 999));
        assert_eq!(asked("Range: bytes=990-2000", 1000), part(990, 999), "clipped to the file");
        assert_eq!(asked("Range: bytes=-5000", 1000), part(0, 999), "all of a shorter file");
        assert_eq!(asked("Range: bytes=5-5", 1000), part(5, 5));
        assert_eq!(asked("Range: BYTES=1-2", 1000), part(1, 2), "the unit in any case");
        assert_eq!(asked("Range: bytes= 1-2 ,", 1000), part(1, 2), "empty list elements");
        assert_eq!(asked("Range: bytes=0-99999999999999999999999", 10), part(0, 9));
    }

    #[test]
    fn past_the_end_is_unsatisfiable() {
        for range in ["bytes=1000-", "bytes=1000-1001", "bytes=-0", "bytes=99999999999999999999-"] {
            assert_eq!(
                asked(&format!("Range: {range}"), 1000),
                Requested::Unsatisfiable,
                "{range}"
            );
        }
        assert_eq!(asked("Range: bytes=0-", 0), Requested::Unsatisfiable, "an empty file");
        assert_eq!(asked("Range: bytes=-5", 0), Requested::Unsatisfiable, "an empty file");
    }

    #[test]
    fn invalid_ranges_other_units_and_several_ranges_get_the_whole_file() {
        for range in [
            "bytes=5-2",
            "bytes=-",
            "bytes=x-1",
            "bytes=1-x",
            "bytes=1",
            "bytes=",
            "bytes=+1-2",
            "bytes=1 -2",
            "items=0-1",
            "bytes 0-1",
            "bytes=0-1,5-6",
            "bytes=0-1, 0-1",
        ] {
            assert_eq!(asked(&format!("Range: {range}"), 1000), Requested::Whole, "{range}");
        }
        assert_eq!(asked("X-Range: bytes=0-1", 1000), Requested::Whole, "no Range at all");
    }

    #[test]
    fn if_range_holds_only_for_the_file_as_it_is() {
        let validators =
            Validators { modified: UNIX_EPOCH + Duration::new(1_700_000_000, 5), length: 1000 };
        let etag = validators.etag().to_string();
        let date = httpdate::fmt_http_date(validators.last_modified());
        assert_eq!(asked(&format!("Range: bytes=0-9\r\nIf-Range: {etag}"), 1000), part(0, 9));
        assert_eq!(asked(&format!("Range: bytes=0-9\r\nIf-Range: {date}"), 1000), part(0, 9));
        for stale in [
            "\"other\"".to_string(),
            format!("W/{etag}"),
            httpdate::fmt_http_date(validators.last_modified() + Duration::from_secs(1)),
            "not a date".to_string(),
        ] {
            let headers = format!("Range: bytes=0-9\r\nIf-Range: {stale}");
            assert_eq!(asked(&headers, 1000), Requested::Whole, "{stale}");
        }
    }
}
