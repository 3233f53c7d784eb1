//! JSON lines read one at a time, never the whole input at once: numbered from 1, blank
//! lines skipped. A file can be read twice (`p8fs import --strict` checks every line, then
//! writes); standard input, which cannot, is copied to an anonymous temporary file while
//! it is read the first time, and the second pass reads that copy.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cmds::bad_input;

/// Where the lines come from.
pub(crate) enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    pub(crate) fn new(file: &Path) -> Self {
        if file.as_os_str() == "-" { Source::Stdin } else { Source::File(file.to_owned()) }
    }

    /// The input as named in messages.
    pub(crate) fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".to_owned(),
        }
    }

    /// A first pass over the lines. With `again`, the lines of standard input are also
    /// kept in a temporary file, for [`Lines::again`].
    pub(crate) fn lines(&self, again: bool) -> Result<Lines> {
        let (reader, copy): (Box<dyn BufRead>, _) = match self {
            Source::File(p) => (Box::new(BufReader::new(open(p)?)), None),
            Source::Stdin => {
                let copy = if again { Some(BufWriter::new(tempfile::tempfile()?)) } else { None };
                (Box::new(BufReader::new(std::io::stdin())), copy)
            }
        };
        Ok(Lines { reader, name: self.name(), line: 0, buf: String::new(), copy })
    }
}

fn open(p: &Path) -> Result<File> {
    File::open(p).map_err(|e| bad_input(format!("cannot read {}: {e}", p.display())))
}

/// The lines of a [`Source`], one at a time.
pub(crate) struct Lines {
    reader: Box<dyn BufRead>,
    name: String,
    line: usize,
    buf: String,
    /// Standard input's lines, as read, for a second pass.
    copy: Option<BufWriter<File>>,
}

impl Lines {
    /// The next non-blank line and its number (from 1), without its line ending; `None`
    /// at the end.
    ///
    /// # Errors
    /// Bad input ([`bad_input`]) naming the line for a read error or a line that is not UTF-8.
    pub(crate) fn next_line(&mut self) -> Result<Option<(usize, &str)>> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|e| bad_input(format!("{}: line {}: {e}", self.name, self.line + 1)))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if let Some(copy) = &mut self.copy {
                copy.write_all(self.buf.as_bytes())?;
                if !self.buf.ends_with('\n') {
                    copy.write_all(b"\n")?;
                }
            }
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let text = self.buf.strip_suffix('\n').unwrap_or(&self.buf);
        Ok(Some((self.line, text.strip_suffix('\r').unwrap_or(text))))
    }

    /// A second pass over the same lines, with the same numbers: the file opened again,
    /// or standard input's copy.
    pub(crate) fn again(self, source: &Source) -> Result<Lines> {
        let reader: Box<dyn BufRead> = match (source, self.copy) {
            (_, Some(copy)) => {
                let mut f = copy.into_inner().map_err(|e| e.into_error())?;
                f.seek(SeekFrom::Start(0))?;
                Box::new(BufReader::new(f))
            }
            (Source::File(p), None) => Box::new(BufReader::new(open(p)?)),
            (Source::Stdin, None) => anyhow::bail!("standard input was read without keeping a copy"),
        };
        Ok(Lines { reader, name: self.name, line: 0, buf: String::new(), copy: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_read_twice() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}")?;
        let source = Source::new(&path);
        let mut first = source.lines(true)?;
        let mut seen = Vec::new();
        while let Some((n, text)) = first.next_line()? {
            seen.push((n, text.to_owned()));
        }
        let want = vec![(1, "{\"a\":1}".to_owned()), (4, "{\"b\":2}".to_owned()), (5, "{\"c\":3}".to_owned())];
        assert_eq!(seen, want);
        let mut second = first.again(&source)?;
        let mut again = Vec::new();
        while let Some((n, text)) = second.next_line()? {
            again.push((n, text.to_owned()));
        }
        assert_eq!(again, want);
        Ok(())
    }
}
