//! A CoNLL-U reader and writer.
//!
//! A sentence is a run of lines ended by a blank line: comment lines (`# ...`), word lines
//! (10 tab-separated columns: ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC),
//! multiword-token lines (ID `1-2`) and empty-node lines (ID `8.1`). Every line is kept, in its
//! order, so [`write`](fn@write) reproduces a well-formed file exactly; [`Sentence::words`] is the word
//! sequence the annotations refer to (multiword tokens and empty nodes skipped).
//!
//! Malformed input is rejected with the 1-based line number: a wrong number of columns, an
//! empty column, a non-numeric or out-of-sequence ID, a HEAD that is not a word of the
//! sentence, a sentence without words.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::error::{Result, TextError};

/// One word (a line with an integer ID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// 1-based position in the sentence.
    pub id: usize,
    /// Word form.
    pub form: String,
    /// Lemma.
    pub lemma: String,
    /// Universal part of speech.
    pub upos: String,
    /// Language-specific part of speech (Penn tags for English).
    pub xpos: String,
    /// Morphological features (`_` when none).
    pub feats: String,
    /// Head word (0: the root); `None` when the column is `_`.
    pub head: Option<usize>,
    /// Dependency relation to the head.
    pub deprel: String,
    /// Enhanced dependencies.
    pub deps: String,
    /// Anything else.
    pub misc: String,
}

/// One line of a sentence, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A comment, without its leading `#`.
    Comment(String),
    /// A word line.
    Word(Word),
    /// A multiword-token line (`1-2`) or an empty-node line (`8.1`): its 10 columns, kept for
    /// the round trip only.
    Other(Vec<String>),
}

/// One sentence: its lines in their order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sentence {
    /// Every line of the sentence.
    pub lines: Vec<Line>,
}

impl Sentence {
    /// The words, in order (multiword tokens and empty nodes skipped).
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.lines.iter().filter_map(|l| match l {
            Line::Word(w) => Some(w),
            _ => None,
        })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words().count()
    }

    /// Whether the sentence has no word.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a `# key = value` comment (e.g. `sent_id`).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Comment(c) => {
                let (k, v) = c.trim_start().split_once('=')?;
                (k.trim() == key).then(|| v.trim())
            }
            _ => None,
        })
    }
}

fn err(source_name: &str, line: usize, message: impl Into<String>) -> TextError {
    TextError::Parse {
        source_name: source_name.to_string(),
        line,
        message: message.into(),
    }
}

/// Checks the heads of a finished sentence (`word_lines`: the line number of each word line;
/// `end_line`: the line that ended it) and appends it to `out`.
fn finish(
    s: Sentence,
    source_name: &str,
    word_lines: &[usize],
    end_line: usize,
    out: &mut Vec<Sentence>,
) -> Result<()> {
    if s.lines.is_empty() {
        return Ok(());
    }
    let n = s.len();
    if n == 0 {
        return Err(err(source_name, end_line, "sentence has no word line"));
    }
    for (k, w) in s.words().enumerate() {
        if let Some(h) = w.head
            && h > n
        {
            return Err(err(
                source_name,
                word_lines[k],
                format!("HEAD {h} is not a word of this {n}-word sentence"),
            ));
        }
        if w.head == Some(k + 1) {
            return Err(err(
                source_name,
                word_lines[k],
                format!("HEAD {} is the word itself", k + 1),
            ));
        }
    }
    // where every word has a head, they form a tree: one root (HEAD 0), and every word
    // reaches it (no cycle)
    let heads: Option<Vec<usize>> = s.words().map(|w| w.head).collect();
    if let Some(heads) = heads {
        let roots: Vec<usize> = (0..n).filter(|&k| heads[k] == 0).collect();
        if roots.len() != 1 {
            let at = roots.get(1).copied().unwrap_or(0);
            return Err(err(
                source_name,
                word_lines[at],
                format!(
                    "the sentence has {} roots (HEAD 0); a dependency tree has one",
                    roots.len()
                ),
            ));
        }
        for (k, &line) in word_lines.iter().enumerate().take(n) {
            let (mut at, mut steps) = (k + 1, 0);
            while at != 0 && steps <= n {
                at = heads[at - 1];
                steps += 1;
            }
            if at != 0 {
                return Err(err(
                    source_name,
                    line,
                    format!(
                        "word {} is on a cycle of HEADs (it never reaches the root)",
                        k + 1
                    ),
                ));
            }
        }
    }
    out.push(s);
    Ok(())
}

/// A CoNLL-U number: ASCII digits only (Rust's `parse` also takes a leading `+`).
fn number(s: &str) -> Option<usize> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parse a CoNLL-U document. `source_name` names the input in errors.
///
/// # Errors
/// [`TextError::Parse`] with the line number of the first malformed line; IO errors.
pub fn parse<R: BufRead>(reader: R, source_name: &str) -> Result<Vec<Sentence>> {
    let mut out = Vec::new();
    let mut cur = Sentence::default();
    let mut word_lines = Vec::new();
    let mut next_id = 1usize;
    let mut line_no = 0usize;
    for line in reader.lines() {
        line_no += 1;
        let line = line.map_err(|e| err(source_name, line_no, format!("cannot read: {e}")))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        // a UTF-8 byte-order mark before the first line (files saved by some editors)
        let line = if line_no == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            finish(
                std::mem::take(&mut cur),
                source_name,
                &word_lines,
                line_no,
                &mut out,
            )?;
            word_lines.clear();
            next_id = 1;
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            if cur.lines.iter().any(|l| !matches!(l, Line::Comment(_))) {
                return Err(err(
                    source_name,
                    line_no,
                    "comment line inside a sentence (after its first word line)",
                ));
            }
            cur.lines.push(Line::Comment(c.to_string()));
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 10 {
            return Err(err(
                source_name,
                line_no,
                format!("expected 10 tab-separated columns, found {}", cols.len()),
            ));
        }
        const NAMES: [&str; 10] = [
            "ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC",
        ];
        if let Some(k) = cols.iter().position(|c| c.is_empty()) {
            return Err(err(
                source_name,
                line_no,
                format!("column {} ({}) is empty", k + 1, NAMES[k]),
            ));
        }
        let id = cols[0];
        if id.contains('-') || id.contains('.') {
            let parts: Vec<Option<usize>> = id.split(['-', '.']).map(number).collect();
            let ok = match parts[..] {
                // a multiword token spans a range a-b with a < b; an empty node is a.b, b ≥ 1
                [Some(a), Some(b)] if id.contains('-') => a >= 1 && a < b,
                [Some(_), Some(b)] => b >= 1,
                _ => false,
            };
            if !ok {
                return Err(err(source_name, line_no, format!("invalid ID '{id}'")));
            }
            cur.lines
                .push(Line::Other(cols.iter().map(|c| (*c).to_string()).collect()));
            continue;
        }
        let id: usize = number(id).ok_or_else(|| {
            err(
                source_name,
                line_no,
                format!("invalid ID '{id}': expected a word number, a range 'a-b' or 'a.b'"),
            )
        })?;
        if id != next_id {
            return Err(err(
                source_name,
                line_no,
                format!("word ID {id} out of sequence (expected {next_id})"),
            ));
        }
        next_id += 1;
        let head = match cols[6] {
            "_" => None,
            h => Some(number(h).ok_or_else(|| {
                err(
                    source_name,
                    line_no,
                    format!("HEAD '{h}' is not a word number"),
                )
            })?),
        };
        word_lines.push(line_no);
        cur.lines.push(Line::Word(Word {
            id,
            form: cols[1].to_string(),
            lemma: cols[2].to_string(),
            upos: cols[3].to_string(),
            xpos: cols[4].to_string(),
            feats: cols[5].to_string(),
            head,
            deprel: cols[7].to_string(),
            deps: cols[8].to_string(),
            misc: cols[9].to_string(),
        }));
    }
    finish(cur, source_name, &word_lines, line_no + 1, &mut out)?;
    Ok(out)
}

/// Write sentences in CoNLL-U (each line, then a blank line after each sentence).
///
/// # Errors
/// IO errors.
pub fn write<W: Write>(sentences: &[Sentence], mut w: W) -> std::io::Result<()> {
    for s in sentences {
        for l in &s.lines {
            match l {
                Line::Comment(c) => writeln!(w, "#{c}")?,
                Line::Other(cols) => writeln!(w, "{}", cols.join("\t"))?,
                Line::Word(x) => {
                    let head = x.head.map_or_else(|| "_".to_string(), |h| h.to_string());
                    writeln!(
                        w,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        x.id,
                        x.form,
                        x.lemma,
                        x.upos,
                        x.xpos,
                        x.feats,
                        head,
                        x.deprel,
                        x.deps,
                        x.misc
                    )?;
                }
            }
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Open a file for reading, transparently gunzipping a `.gz` one.
///
/// # Errors
/// [`TextError::Io`] when the file cannot be opened.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path).map_err(|source| TextError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
        {
            Box::new(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
                f,
            )))
        } else {
            Box::new(std::io::BufReader::new(f))
        },
    )
}

/// Read a CoNLL-U file (`.gz` or plain).
///
/// # Errors
/// As [`parse`]; the file's path names it in errors.
pub fn read_file(path: &Path) -> Result<Vec<Sentence>> {
    parse(open(path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# newdoc id = d1\n# sent_id = s1\n# text = I can't go.\n1\tI\tI\tPRON\tPRP\tCase=Nom\t3\tnsubj\t3:nsubj\t_\n2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_\n2\tca\tcan\tAUX\tMD\tVerbForm=Fin\t4\taux\t4:aux\t_\n3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_\n4\tgo\tgo\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No\n4.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:conj\t_\n5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_\n\n# sent_id = s2\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n\n";

    #[test]
    fn round_trip_and_words() {
        let s = parse(DOC.as_bytes(), "doc").expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].len(), 5);
        assert_eq!(s[0].meta("sent_id"), Some("s1"));
        let forms: Vec<&str> = s[0].words().map(|w| w.form.as_str()).collect();
        assert_eq!(forms, ["I", "ca", "n't", "go", "."]);
        assert_eq!(s[0].words().nth(3).and_then(|w| w.head), Some(0));
        let mut out = Vec::new();
        write(&s, &mut out).expect("writes");
        assert_eq!(String::from_utf8(out).expect("utf8"), DOC);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let with_bom = format!("\u{feff}{DOC}");
        let s = parse(with_bom.as_bytes(), "doc").expect("parses");
        assert_eq!(s, parse(DOC.as_bytes(), "doc").expect("parses"));
    }

    fn bad(doc: &str) -> String {
        parse(doc.as_bytes(), "x").expect_err("rejects").to_string()
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let e = bad("# sent_id = a\n1\tI\tI\tPRON\tPRP\t_\t0\troot\t_\n");
        assert_eq!(
            e, "x: line 2: expected 10 tab-separated columns, found 9",
            "{e}"
        );
        let e = bad("1\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_\n3\tx\tx\tX\tX\t_\t1\tdep\t_\t_\n");
        assert!(e.starts_with("x: line 2: word ID 3 out of sequence"), "{e}");
        let e = bad("1\tI\tI\tPRON\tPRP\t_\t7\troot\t_\t_\n\n");
        assert!(e.starts_with("x: line 1: HEAD 7"), "{e}");
        let e = bad("1\tI\tI\tPRON\tPRP\t_\tzero\troot\t_\t_\n");
        assert!(e.starts_with("x: line 1: HEAD 'zero'"), "{e}");
        let e = bad("\n\nA\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_\n");
        assert!(e.starts_with("x: line 3: invalid ID 'A'"), "{e}");
        let e = bad("1\t\tI\tPRON\tPRP\t_\t0\troot\t_\t_\n");
        assert!(e.starts_with("x: line 1: column 2 (FORM) is empty"), "{e}");
        let e = bad("# only a comment\n\n");
        assert!(e.starts_with("x: line 2: sentence has no word line"), "{e}");
        // not a dependency tree: a word its own head, two roots, a cycle
        let w = |id: &str, head: &str| format!("{id}\tw\tw\tX\tX\t_\t{head}\tdep\t_\t_\n");
        let e = bad(&format!("{}{}\n", w("1", "0"), w("2", "2")));
        assert!(e.starts_with("x: line 2: HEAD 2 is the word itself"), "{e}");
        let e = bad(&format!("{}{}\n", w("1", "0"), w("2", "0")));
        assert!(e.starts_with("x: line 2: the sentence has 2 roots"), "{e}");
        let e = bad(&format!("{}{}{}\n", w("1", "0"), w("2", "3"), w("3", "2")));
        assert!(e.starts_with("x: line 2: word 2 is on a cycle"), "{e}");
        // IDs: a reversed range, a signed number
        let e = bad(&format!(
            "{}3-1\tab\t_\t_\t_\t_\t_\t_\t_\t_\n\n",
            w("1", "0")
        ));
        assert!(e.starts_with("x: line 2: invalid ID '3-1'"), "{e}");
        let e = bad(&w("+1", "0"));
        assert!(e.starts_with("x: line 1: invalid ID '+1'"), "{e}");
    }

    #[test]
    fn last_sentence_without_blank_line() {
        let s = parse("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_".as_bytes(), "x").expect("parses");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].len(), 1);
    }
}
