//! Checks of the invariant of [`crate::Statement`] (its text holds no user data), for tests
//! and fuzzers that know which strings came from outside: the statement's quoted
//! identifiers must be plain words, and no outside string may appear in the rest of the
//! text, raw or escaped the ways SQL would escape it.

/// Splits `sql` into its quoted identifiers (quote `q`, doubled inside) and the rest of the
/// text, each identifier replaced by a space. String literals the SQL spells out (`'...'`)
/// are copied to the rest whole, so a quote inside one does not start an identifier.
///
/// # Errors
/// The text when an identifier is not closed.
pub fn split_identifiers(sql: &str, q: char) -> Result<(Vec<String>, String), String> {
    let mut idents = Vec::new();
    let mut rest = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            rest.push(c);
            for c in chars.by_ref() {
                rest.push(c);
                if c == '\'' {
                    break;
                }
            }
            continue;
        }
        if c != q {
            rest.push(c);
            continue;
        }
        let mut ident = String::new();
        loop {
            match chars.next() {
                None => return Err(format!("an unterminated quoted identifier in: {sql}")),
                Some(c) if c == q && chars.peek() == Some(&q) => {
                    chars.next();
                    ident.push(q);
                }
                Some(c) if c == q => break,
                Some(c) => ident.push(c),
            }
        }
        idents.push(ident);
        rest.push(' ');
    }
    Ok((idents, rest))
}

/// The first way `sql` (with identifier quote `q`) breaks the invariant for these outside
/// strings, or `None`: a quoted identifier that is not a plain word (`[A-Za-z0-9_]`), or an
/// outside string in the text outside the identifiers, raw, with a quote character doubled,
/// or backslash-escaped. Strings shorter than 6 characters are not looked for (they could
/// be part of a keyword or a name by chance).
pub fn outside_text_in(sql: &str, q: char, outside: &[&str]) -> Option<String> {
    let (idents, rest) = match split_identifiers(sql, q) {
        Ok(split) => split,
        Err(e) => return Some(e),
    };
    if let Some(bad) = idents.iter().find(|i| i.is_empty() || !i.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Some(format!("the identifier {bad:?} is not a plain word: {sql}"));
    }
    for s in outside.iter().filter(|s| s.chars().count() >= 6) {
        let forms = [
            (*s).to_owned(),
            s.replace('\'', "''"),
            s.replace('"', "\"\""),
            s.replace('`', "``"),
            s.replace('\\', "\\\\").replace('\'', "\\'"),
        ];
        if forms.iter().any(|f| rest.contains(f.as_str())) {
            return Some(format!("the outside string {s:?} is in the text: {sql}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_in_text_and_words_in_identifiers() {
        let sql = r#"SELECT "content" FROM "t" WHERE "name" = $1 AND x = 'lit''s'"#;
        assert_eq!(outside_text_in(sql, '"', &["content\"", "lit's here"]), None, "inside identifiers, or absent");
        assert!(outside_text_in("SELECT 1 WHERE a = 'x'' OR 1=1'", '"', &["x' OR 1=1"]).is_some(), "doubled");
        assert!(outside_text_in("SELECT 1 WHERE a = 'x\\' OR 1=1'", '`', &["x' OR 1=1"]).is_some(), "escaped");
        assert!(outside_text_in(r#"SELECT "a"" OR 1=1" FROM t"#, '"', &[]).is_some(), "not a word");
        assert!(outside_text_in(r#"SELECT "a FROM t"#, '"', &[]).is_some(), "unterminated");
        assert_eq!(outside_text_in("SELECT 1", '`', &["';--"]), None, "short strings are not looked for");
    }
}
