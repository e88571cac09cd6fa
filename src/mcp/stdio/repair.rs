//! What the line transport does with a line that is not valid JSON: it mends the one
//! defect clients produce on their own (a UTF-16 surrogate escape cut in half, as
//! JavaScript leaves it when a string is cut mid-emoji: each lone half becomes U+FFFD, the
//! replacement character, exactly as a lossy UTF-16 decoder does), and otherwise finds
//! the request's `id` without parsing the whole message (a scan that never recurses,
//! whatever the nesting), so the parse error can be answered to the request it belongs to.

use serde_json::Value;

/// `text` with every unpaired `\uD800`-`\uDFFF` escape inside a string replaced by
/// `\uFFFD`; `None` when there was none (nothing to mend).
pub fn mend_lone_surrogates(text: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| -> Option<u16> {
        let digits = text.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u16> {
        (text.get(at) == Some(&b'\\') && text.get(at + 1) == Some(&b'u')).then(|| hex(at + 2)).flatten()
    };
    let mut out = Vec::with_capacity(text.len());
    let (mut i, mut in_string, mut mended) = (0, false, false);
    while i < text.len() {
        let byte = text[i];
        if !in_string {
            in_string = byte == b'"';
            out.push(byte);
            i += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                out.push(byte);
                i += 1;
            }
            b'\\' => match escape_at(i) {
                Some(0xD800..=0xDBFF) if matches!(escape_at(i + 6), Some(0xDC00..=0xDFFF)) => {
                    out.extend_from_slice(&text[i..i + 12]);
                    i += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.extend_from_slice(b"\\uFFFD");
                    mended = true;
                    i += 6;
                }
                _ => {
                    // Any other escape: copy it whole, so `\\` and `\"` keep their meaning.
                    out.extend_from_slice(&text[i..(i + 2).min(text.len())]);
                    i += 2;
                }
            },
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    mended.then_some(out)
}

/// The top-level `"id"` of a JSON object, read without parsing the rest: a number or a
/// string, as JSON-RPC allows. `None` when the text is not an object, has no readable id
/// before the first defect, or the id is of another type.
pub fn find_id(text: &[u8]) -> Option<Value> {
    let mut i = skip_space(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_space(text, i);
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(text, i)?;
        let key = &text[i..=key_end];
        i = skip_space(text, key_end + 1);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(text, i + 1);
        let value_end = value_end(text, i)?;
        if key == b"\"id\"" {
            return match serde_json::from_slice::<Value>(&text[i..value_end]).ok()? {
                id @ (Value::Number(_) | Value::String(_)) => Some(id),
                _ => None,
            };
        }
        i = skip_space(text, value_end);
        match text.get(i) {
            Some(b',') => i += 1,
            _ => return None,
        }
    }
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Index of the closing quote of the string that opens at `start`.
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the value that starts at `start`, skipping nested containers by
/// counting brackets (no recursion, so any depth is fine).
fn value_end(text: &[u8], start: usize) -> Option<usize> {
    match text.get(start)? {
        b'"' => string_end(text, start).map(|end| end + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < text.len() {
                match text[i] {
                    b'"' => i = string_end(text, i)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = start;
            while text.get(i).is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()) {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lone halves become U+FFFD; pairs, escaped backslashes and text outside strings stay.
    #[test]
    fn lone_surrogates_are_mended() {
        let cut = br#"{"a":"x\ud83d","b":"\ude00y","c":"\ud83d\ude00","d":"\\ud800","e":1}"#;
        let mended = mend_lone_surrogates(cut).unwrap();
        let value: Value = serde_json::from_slice(&mended).unwrap();
        assert_eq!(value["a"], "x\u{FFFD}");
        assert_eq!(value["b"], "\u{FFFD}y");
        assert_eq!(value["c"], "\u{1F600}");
        assert_eq!(value["d"], "\\ud800");
        assert!(serde_json::from_slice::<Value>(cut).is_err(), "serde_json refuses the original");
        assert_eq!(mend_lone_surrogates(br#"{"c":"\ud83d\ude00","d":"\\ud800"}"#), None);
    }

    /// The id is found before any later defect, at any nesting depth of other members.
    #[test]
    fn the_id_is_found_without_a_full_parse() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","params":{}{},"id":42,"method":"x"}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(find_id(deep.as_bytes()), Some(Value::from(42)));
        assert_eq!(find_id(br#"{"id": "abc", "params": {"x": "\ud800 broken"#), Some(Value::from("abc")));
        assert_eq!(find_id(br#"{"method":"x","id":"a\"b"}"#), Some(Value::from("a\"b")));
        assert_eq!(find_id(br#"{"id": null}"#), None);
        assert_eq!(find_id(br#"{"params": {"id": 5}}"#), None);
        assert_eq!(find_id(b"not json"), None);
        assert_eq!(find_id(b"\xff\xfe{}"), None);
        assert_eq!(find_id(br#"{"params": [1, 2"#), None);
    }
}
