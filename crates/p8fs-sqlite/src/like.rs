//! SQL `LIKE` for `p8fs_like` and `p8fs_ilike`, in time linear in the text.
//!
//! The one SQLite connection serves every call, so a pattern must not be able to hold it
//! for long: backtracking matchers take time proportional to text x pattern (`%a%a%a...b`
//! against a long run of `a`). Here the pattern is split at its `%`s into segments of
//! fixed length (characters and `_`). The first segment must match at the start, the last
//! at the end, and each one between is matched at its leftmost place after the previous
//! one (the leftmost place leaves the most room for the rest, so it is never wrong). Each
//! search is a bit-parallel scan (shift-and) over the text that follows, so the whole match
//! reads each text character once per 64 pattern characters of the segment being searched.
//! Patterns are at most [`MAX_PATTERN_CHARS`] characters, which bounds that factor.

use std::collections::HashMap;
use std::fmt;

/// The longest pattern `LIKE` accepts on SQLite, in characters.
pub const MAX_PATTERN_CHARS: usize = 4096;

/// A pattern over [`MAX_PATTERN_CHARS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PatternTooLong(pub(crate) usize);

impl fmt::Display for PatternTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a LIKE pattern may have at most {MAX_PATTERN_CHARS} characters, this one has {}", self.0)
    }
}

impl std::error::Error for PatternTooLong {}

/// One position of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// `_`: any one character.
    Any,
    Lit(char),
}

impl Tok {
    fn matches(self, c: char) -> bool {
        match self {
            Tok::Any => true,
            Tok::Lit(l) => l == c,
        }
    }
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes the next one (a trailing `\`
/// is a literal `\`); case-sensitive.
///
/// # Errors
/// [`PatternTooLong`] for a pattern over [`MAX_PATTERN_CHARS`] characters.
pub(crate) fn like(value: &str, pattern: &str) -> Result<bool, PatternTooLong> {
    let len = pattern.chars().count();
    if len > MAX_PATTERN_CHARS {
        return Err(PatternTooLong(len));
    }
    let segments = segments(pattern);
    let text: Vec<char> = value.chars().collect();
    let (first, rest) = segments.split_first().map_or((&[][..], &[][..]), |(f, r)| (f.as_slice(), r));
    let Some((last, middle)) = rest.split_last() else {
        // No `%`: the one segment is the whole text.
        return Ok(text.len() == first.len() && matches_at(first, &text));
    };
    if text.len() < first.len() + last.len()
        || !matches_at(first, &text)
        || !matches_at(last, &text[text.len() - last.len()..])
    {
        return Ok(false);
    }
    let end = text.len() - last.len();
    let mut pos = first.len();
    for seg in middle.iter().filter(|s| !s.is_empty()) {
        match find(seg, &text[pos..end]) {
            Some(at) => pos += at + seg.len(),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// The pattern split at its unescaped `%`s.
fn segments(pattern: &str) -> Vec<Vec<Tok>> {
    let mut out = vec![Vec::new()];
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        let tok = match c {
            '%' => {
                out.push(Vec::new());
                continue;
            }
            '\\' => Tok::Lit(it.next().unwrap_or('\\')),
            '_' => Tok::Any,
            c => Tok::Lit(c),
        };
        if let Some(seg) = out.last_mut() {
            seg.push(tok);
        }
    }
    out
}

/// Whether `seg` matches the start of `text` (which is at least as long).
fn matches_at(seg: &[Tok], text: &[char]) -> bool {
    seg.iter().zip(text).all(|(t, c)| t.matches(*c))
}

/// Where `seg` (not empty) first matches in `text`: shift-and, one bit per segment position
/// (bit `j` of the state after reading `text[i]` says `seg[..=j]` matches `text[..=i]`'s
/// tail).
fn find(seg: &[Tok], text: &[char]) -> Option<usize> {
    let words = seg.len().div_ceil(64);
    let mut any = vec![0u64; words];
    let mut by_char: HashMap<char, Vec<u64>> = HashMap::new();
    for (j, t) in seg.iter().enumerate() {
        match t {
            Tok::Any => any[j / 64] |= 1 << (j % 64),
            Tok::Lit(c) => by_char.entry(*c).or_insert_with(|| vec![0; words])[j / 64] |= 1 << (j % 64),
        }
    }
    // `_` positions match every character.
    for m in by_char.values_mut() {
        for (w, a) in m.iter_mut().zip(&any) {
            *w |= a;
        }
    }
    let last_word = (seg.len() - 1) / 64;
    let last_bit = 1u64 << ((seg.len() - 1) % 64);
    let mut state = vec![0u64; words];
    for (i, c) in text.iter().enumerate() {
        let mask = by_char.get(c).unwrap_or(&any);
        // state = ((state << 1) | 1) & mask, across words.
        let mut carry = 1u64;
        for (s, m) in state.iter_mut().zip(mask) {
            let next_carry = *s >> 63;
            *s = ((*s << 1) | carry) & m;
            carry = next_carry;
        }
        if state[last_word] & last_bit != 0 {
            return Some(i + 1 - seg.len());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn ok(value: &str, pattern: &str) -> bool {
        like(value, pattern).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The textbook backtracking matcher, as the reference.
    fn reference(v: &[char], p: &[Tok], star: &[bool]) -> bool {
        match (p.first(), star.first()) {
            (None, _) => v.is_empty(),
            (Some(_), Some(true)) => (0..=v.len()).any(|k| reference(&v[k..], &p[1..], &star[1..])),
            (Some(t), _) => v.first().is_some_and(|c| t.matches(*c)) && reference(&v[1..], &p[1..], &star[1..]),
        }
    }

    #[test]
    fn like_is_exact_sql_like() {
        assert!(ok("Hello world", "Hello%"));
        assert!(!ok("hello world", "Hello%"), "case-sensitive");
        assert!(ok("abc", "a_c"));
        assert!(ok("a%c", "a\\%c"));
        assert!(!ok("abc", "a\\%c"));
        assert!(ok("a_c", "a\\_c") && !ok("abc", "a\\_c"));
        assert!(ok("a\\", "a\\"), "a trailing backslash is literal");
        assert!(ok("żółw", "_ół_"));
        assert!(ok("", "%") && ok("", "%%") && ok("", ""));
        assert!(!ok("ab", "a") && !ok("a", "ab") && !ok("a", ""));
        assert!(ok("aXbXc", "%b%c"));
        assert!(ok("abab", "%ab") && ok("aab", "a%ab") && !ok("ab", "a%ab"), "first and last must not overlap");
        assert!(ok("xaaay", "x%a_a%y") && !ok("xaay", "x%a_a%y"));
    }

    #[test]
    fn like_agrees_with_backtracking_on_every_small_case() {
        // Every text over {a, b} up to length 6 against every pattern over {a, b, _, %} up
        // to length 4.
        let alphabet = ['a', 'b'];
        let pattern_chars = ['a', 'b', '_', '%'];
        let mut texts = vec![String::new()];
        for len in 1..=6 {
            let mut next = Vec::new();
            for t in texts.iter().filter(|t| t.len() == len - 1) {
                for c in alphabet {
                    next.push(format!("{t}{c}"));
                }
            }
            texts.extend(next);
        }
        let mut patterns = vec![String::new()];
        for _ in 0..4 {
            let grown: Vec<String> =
                patterns.iter().flat_map(|p| pattern_chars.iter().map(move |c| format!("{p}{c}"))).collect();
            patterns.extend(grown);
        }
        patterns.sort();
        patterns.dedup();
        for p in &patterns {
            let toks: Vec<Tok> = p.chars().map(|c| if c == '_' || c == '%' { Tok::Any } else { Tok::Lit(c) }).collect();
            let star: Vec<bool> = p.chars().map(|c| c == '%').collect();
            for t in &texts {
                let v: Vec<char> = t.chars().collect();
                assert_eq!(ok(t, p), reference(&v, &toks, &star), "{t:?} LIKE {p:?}");
            }
        }
    }

    #[test]
    fn a_hostile_pattern_against_a_long_text_finishes_quickly() {
        // Backtracking takes ~text x pattern steps here (~10^10): minutes. Linear: ms.
        let text = "a".repeat(1_000_000);
        let pattern = format!("{}b", "%a".repeat(2000));
        let long_segment = format!("%{}b%", "a".repeat(3000));
        let t = Instant::now();
        assert!(!ok(&text, &pattern));
        assert!(ok(&format!("{text}b"), &pattern));
        assert!(!ok(&text, &long_segment));
        assert!(!ok(&text, &format!("%{}b%", "_".repeat(3000))));
        assert!(t.elapsed() < Duration::from_secs(20), "took {:?}", t.elapsed());
    }

    #[test]
    fn patterns_over_the_limit_are_refused() {
        let e = like("x", &"%".repeat(MAX_PATTERN_CHARS + 1)).unwrap_err();
        assert_eq!(e, PatternTooLong(MAX_PATTERN_CHARS + 1));
        assert!(e.to_string().contains("at most 4096 characters"), "{e}");
        assert!(ok("x", &"%".repeat(MAX_PATTERN_CHARS)));
    }
}
