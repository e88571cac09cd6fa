//! The size of `serde_json::to_string` output, measured without building it.
//!
//! `healthsim_load_scenario` must cut large scenarios to the output limit, which needs the
//! printed size of every entity, while only the entities that are kept need to be parsed.
//! [`measure`] computes the size from the stored JSON text directly. It is exact whenever
//! it answers: text that serde_json would print differently (escapes it would not use,
//! numbers it would spell differently, repeated keys) gets `None`, and the caller parses
//! and prints that entity instead.

/// Most keys of one object checked for repeats; objects with more are left to serde.
const MAX_KEYS: usize = 64;
/// serde_json refuses to parse deeper nesting than this (the entity then loads as `null`).
const MAX_DEPTH: usize = 127;

/// An open container while scanning.
struct Open<'a> {
    object: bool,
    /// Elements (entries) seen so far.
    count: usize,
    /// Keys of an object, to refuse repeated ones.
    keys: Vec<&'a [u8]>,
}

/// The characters `serde_json::to_string(&serde_json::from_str::<Value>(text)?)` would
/// have, or `None` when serde_json would not reproduce the text's tokens exactly.
pub fn measure(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut len = 0;
    let mut stack: Vec<Open<'_>> = Vec::new();
    // Whether the next string is an object key.
    let mut expect_key = false;
    let mut i = 0;
    let mut seen_value = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            b'{' | b'[' => {
                if let Some(top) = stack.last_mut()
                    && top.count == 0
                {
                    top.count = 1;
                }
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(Open { object: b == b'{', count: 0, keys: Vec::new() });
                expect_key = b == b'{';
                len += 1;
                i += 1;
            }
            b'}' | b']' => {
                let open = stack.pop()?;
                if open.object != (b == b'}') {
                    return None;
                }
                len += 1;
                expect_key = false;
                seen_value = true;
                i += 1;
            }
            b',' => {
                let top = stack.last_mut()?;
                top.count += 1;
                expect_key = top.object;
                len += 1;
                i += 1;
            }
            b':' => {
                // Only between a key and its value.
                if !stack.last()?.object {
                    return None;
                }
                len += 1;
                i += 1;
            }
            b'"' => {
                let start = i;
                i = string_end(bytes, i)?;
                let token = &bytes[start..i];
                len += utf8_chars(token);
                if let Some(top) = stack.last_mut() {
                    if top.count == 0 {
                        top.count = 1;
                    }
                    if expect_key {
                        if top.keys.len() >= MAX_KEYS || top.keys.contains(&token) {
                            return None;
                        }
                        top.keys.push(token);
                        expect_key = false;
                    }
                }
                seen_value = true;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t' | b':') {
                    i += 1;
                }
                let token = &text[start..i];
                if !canonical_scalar(token) {
                    return None;
                }
                if let Some(top) = stack.last_mut()
                    && top.count == 0
                {
                    top.count = 1;
                }
                len += token.len();
                seen_value = true;
            }
        }
        if stack.is_empty() && seen_value {
            // Only whitespace may follow the top-level value.
            return bytes[i..].iter().all(u8::is_ascii_whitespace).then_some(len);
        }
    }
    None
}

/// The characters of `value` as serde_json prints it, counted while printing (nothing is
/// kept): the fallback for text [`measure`] refuses.
pub fn printed(value: &serde_json::Value) -> usize {
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Counts the characters written into it, without keeping them.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += utf8_chars(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Characters of UTF-8 bytes: every byte that is not a continuation byte starts one.
fn utf8_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count()
}

/// Index just past the closing quote of the string starting at `start`, or `None` when
/// the string uses an escape serde_json would not write.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                match *bytes.get(i + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        // serde_json writes `\u00xx` (lowercase) only for control
                        // characters without a short form.
                        let hex = bytes.get(i + 2..i + 6)?;
                        let code = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                        let short = matches!(code, 0x08 | 0x09 | 0x0A | 0x0C | 0x0D);
                        if code >= 0x20 || short || hex.iter().any(u8::is_ascii_uppercase) {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                }
            }
            0x00..=0x1F => return None,
            _ => i += 1,
        }
    }
    None
}

/// Whether serde_json prints this scalar token back exactly as written. Numbers go through
/// serde_json's own parser: without its `float_roundtrip` feature it may land one unit
/// off the nearest double, and then prints a different (shorter) spelling.
fn canonical_scalar(token: &str) -> bool {
    match token {
        "true" | "false" | "null" => true,
        _ => serde_json::from_str::<serde_json::Number>(token).is_ok_and(|n| n.to_string() == token),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// What serde_json really prints, for comparison.
    fn by_serde(text: &str) -> usize {
        let value: Value = serde_json::from_str(text).unwrap();
        serde_json::to_string(&value).unwrap().chars().count()
    }

    /// Exact on serde's own compact output, whatever the shape.
    #[test]
    fn exact_on_serde_output() {
        let values = [
            json!({}),
            json!([]),
            json!({"a": {}, "b": [], "c": [[]], "d": [{}], "e": null}),
            json!({"id": "p1", "name": {"given": ["Zoë", "李", "😀"], "family": "O'Brien\n\t\"x\"\\ \u{1} \u{7f}"},
                   "n": [1, -2, 3.5, 1e20, -0.25, 18446744073709551615u64, -9223372036854775808i64, 0.1],
                   "ok": true, "nested": [[1, [2, [3, {"k": [true, false, null]}]]], {"": ""}]}),
            json!("just a string"),
            json!(42),
            json!([1.0, 2.5e-10, 123456789.125]),
        ];
        for value in values {
            let compact = serde_json::to_string(&value).unwrap();
            assert_eq!(measure(&compact), Some(by_serde(&compact)), "{compact}");
            assert_eq!(printed(&value), by_serde(&compact), "{compact}");
            // Whitespace between tokens does not matter.
            let spaced = serde_json::to_string_pretty(&value).unwrap();
            assert_eq!(measure(&spaced), Some(by_serde(&compact)), "{spaced}");
        }
    }

    /// Text serde would print differently is left to serde, never mis-measured.
    #[test]
    fn unsure_text_is_refused() {
        for text in [
            r#"{"a":"\u00e9"}"#, // serde writes é itself
            r#"{"a":"\/"}"#,     // and / unescaped
            r#"{"a":"\u000A"}"#, // and \n for a line feed
            r#"{"a":"\u001F"}"#, // and lowercase hex
            r#"{"a":1.50}"#,     // 1.5
            r#"{"a":1E5}"#,      // 100000.0
            r#"{"a":-0}"#,       // 0
            r#"{"a":1,"a":2}"#,  // one key
            r#"{"a":1} x"#,      // not JSON at all
            r#"{"a":[1}"#,
            r#"[1:2]"#,
            r#":1"#,
            r#"{"a":"#,
            "",
            &format!("{}{}", "[".repeat(200), "]".repeat(200)), // deeper than serde reads
        ] {
            assert_eq!(measure(text), None, "{text}");
        }
        // Escapes serde does write are fine.
        for text in [r#"{"a":"\u001f\"\\\n\t\b\f\r"}"#, r#"["\u0000"]"#] {
            assert_eq!(measure(text), Some(by_serde(text)), "{text}");
        }
    }

    /// Random documents: whenever `measure` answers, it is what serde prints.
    #[test]
    fn agrees_with_serde_on_random_documents() {
        let mut rng = fastrand::Rng::with_seed(7);
        fn random(rng: &mut fastrand::Rng, depth: usize) -> Value {
            match rng.u8(0..if depth > 3 { 5 } else { 7 }) {
                0 => Value::Null,
                1 => Value::Bool(rng.bool()),
                2 => json!(rng.i64(..)),
                3 => json!(rng.f64() * 10f64.powi(rng.i32(-8..20))),
                4 => {
                    let pool = ['a', 'é', '"', '\\', '\n', '\u{1}', '😀', ' ', '/', '\u{7f}'];
                    Value::String((0..rng.usize(0..8)).map(|_| pool[rng.usize(..pool.len())]).collect())
                }
                5 => Value::Array((0..rng.usize(0..4)).map(|_| random(rng, depth + 1)).collect()),
                _ => Value::Object((0..rng.usize(0..4)).map(|i| (format!("k{i}"), random(rng, depth + 1))).collect()),
            }
        }
        let mut answered = 0;
        for _ in 0..2_000 {
            let compact = serde_json::to_string(&random(&mut rng, 0)).unwrap();
            if let Some(len) = measure(&compact) {
                assert_eq!(len, by_serde(&compact), "{compact}");
                answered += 1;
            }
        }
        // Refusals are rare (a float serde_json itself does not read back exactly).
        assert!(answered > 1_600, "answered only {answered} of 2000");
    }
}
