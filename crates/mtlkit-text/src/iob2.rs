//! IOB2 named-entity files (Universal NER): `# key = value` comments, then one line per token
//! with at least 3 tab-separated columns (index, token, tag `O` / `B-TYPE` / `I-TYPE`; further
//! columns are ignored), a blank line after each sentence. [`join`] attaches the tags to
//! treebank sentences by `sent_id`; [`spans`] turns tags into entity spans for entity-level F1.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use crate::conllu::Sentence;
use crate::error::{Result, TextError};

/// One tagged sentence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NerSentence {
    /// Its `# sent_id = ...` comment, when present.
    pub sent_id: Option<String>,
    /// Tokens.
    pub tokens: Vec<String>,
    /// One IOB2 tag per token.
    pub tags: Vec<String>,
}

fn err(source_name: &str, line: usize, message: impl Into<String>) -> TextError {
    TextError::Parse {
        source_name: source_name.to_string(),
        line,
        message: message.into(),
    }
}

fn valid_tag(t: &str) -> bool {
    t == "O"
        || t.strip_prefix("B-")
            .or_else(|| t.strip_prefix("I-"))
            .is_some_and(|ty| !ty.is_empty())
}

/// Parse an IOB2 document.
///
/// # Errors
/// [`TextError::Parse`] with the line number of the first malformed line.
pub fn parse<R: BufRead>(reader: R, source_name: &str) -> Result<Vec<NerSentence>> {
    let mut out = Vec::new();
    let mut cur = NerSentence::default();
    let mut line_no = 0;
    let push = |cur: &mut NerSentence, out: &mut Vec<NerSentence>| {
        if !cur.tokens.is_empty() {
            out.push(std::mem::take(cur));
        } else {
            *cur = NerSentence::default();
        }
    };
    for line in reader.lines() {
        line_no += 1;
        let line = line.map_err(|e| err(source_name, line_no, format!("cannot read: {e}")))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            push(&mut cur, &mut out);
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            if let Some((k, v)) = c.split_once('=')
                && k.trim() == "sent_id"
            {
                cur.sent_id = Some(v.trim().to_string());
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            return Err(err(
                source_name,
                line_no,
                format!(
                    "expected at least 3 tab-separated columns (index, token, tag), found {}",
                    cols.len()
                ),
            ));
        }
        if !valid_tag(cols[2]) {
            return Err(err(
                source_name,
                line_no,
                format!(
                    "invalid IOB2 tag '{}' (expected O, B-TYPE or I-TYPE)",
                    cols[2]
                ),
            ));
        }
        cur.tokens.push(cols[1].to_string());
        cur.tags.push(cols[2].to_string());
    }
    push(&mut cur, &mut out);
    Ok(out)
}

/// Read an IOB2 file (`.gz` or plain).
///
/// # Errors
/// As [`parse`].
pub fn read_file(path: &Path) -> Result<Vec<NerSentence>> {
    parse(crate::conllu::open(path)?, &path.display().to_string())
}

/// The NER tags of each treebank sentence: `Some` when a tagged sentence has the same
/// `sent_id` and exactly the same word forms, `None` otherwise. Also returns how many
/// treebank sentences matched a `sent_id` but were dropped: for differing tokens, or because
/// the NER file repeats that `sent_id`.
pub fn join(sentences: &[Sentence], ner: &[NerSentence]) -> (Vec<Option<Vec<String>>>, usize) {
    // an id the NER file repeats names no sentence for sure: its sentences are dropped (not
    // tagged with whichever copy came last)
    let mut by_id: HashMap<&str, Option<&NerSentence>> = HashMap::new();
    for n in ner {
        if let Some(id) = n.sent_id.as_deref() {
            by_id.entry(id).and_modify(|e| *e = None).or_insert(Some(n));
        }
    }
    let mut dropped = 0;
    let tags = sentences
        .iter()
        .map(|s| {
            let Some(n) = *by_id.get(s.meta("sent_id")?)? else {
                dropped += 1;
                return None;
            };
            if s.words()
                .map(|w| w.form.as_str())
                .eq(n.tokens.iter().map(String::as_str))
            {
                Some(n.tags.clone())
            } else {
                dropped += 1;
                None
            }
        })
        .collect();
    (tags, dropped)
}

/// Entity spans `(start, end_exclusive, type)` of an IOB2 tag sequence (an `I-` tag that does
/// not continue an entity of its type starts one, as conlleval does).
pub fn spans<S: AsRef<str>>(tags: &[S]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    for (i, t) in tags.iter().enumerate() {
        let t = t.as_ref();
        let (kind, ty) = match t.split_once('-') {
            Some((k, ty)) if k == "B" || k == "I" => (k, ty),
            _ => ("O", ""),
        };
        let continues = kind == "I" && open.is_some_and(|(_, oty)| oty == ty);
        if !continues {
            if let Some((s, oty)) = open.take() {
                out.push((s, i, oty.to_string()));
            }
            if kind != "O" {
                open = Some((i, ty));
            }
        }
    }
    if let Some((s, oty)) = open {
        out.push((s, tags.len(), oty.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_join_spans() {
        let doc = "# sent_id = s1\n1\tI\tO\t-\t-\n2\tsaw\tO\t-\t-\n3\tNew\tB-LOC\t-\ta\n4\tYork\tI-LOC\t-\ta\n\n# sent_id = s2\n1\tHi\tO\t-\t-\n\n";
        let n = parse(doc.as_bytes(), "n").expect("parses");
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].tags, ["O", "O", "B-LOC", "I-LOC"]);
        let tb = crate::conllu::parse(
            "# sent_id = s1\n1\tI\t_\t_\t_\t_\t0\troot\t_\t_\n2\tsaw\t_\t_\t_\t_\t1\tdep\t_\t_\n3\tNew\t_\t_\t_\t_\t1\tdep\t_\t_\n4\tYork\t_\t_\t_\t_\t1\tdep\t_\t_\n\n# sent_id = s2\n1\tHello\t_\t_\t_\t_\t0\troot\t_\t_\n\n# sent_id = s3\n1\tX\t_\t_\t_\t_\t0\troot\t_\t_\n\n"
                .as_bytes(),
            "t",
        )
        .expect("parses");
        let (tags, dropped) = join(&tb, &n);
        assert_eq!(dropped, 1);
        assert!(tags[0].is_some() && tags[1].is_none() && tags[2].is_none());
        // a sent_id the NER file repeats tags no sentence (it kept the last copy)
        let dup = format!("{doc}# sent_id = s1\n1\tI\tO\t-\t-\n\n");
        let (tags, dropped) = join(&tb, &parse(dup.as_bytes(), "n").expect("parses"));
        assert_eq!(dropped, 2);
        assert!(tags[0].is_none());
        assert_eq!(
            spans(&["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "B-ORG", "I-PER"]),
            vec![
                (0, 2, "PER".to_string()),
                (3, 4, "LOC".to_string()),
                (4, 5, "ORG".to_string()),
                (5, 6, "ORG".to_string()),
                (6, 7, "PER".to_string())
            ]
        );
    }

    #[test]
    fn malformed() {
        let e = parse("1\tI\tO\n2\tx\tB-\n".as_bytes(), "n")
            .expect_err("rejects")
            .to_string();
        assert!(e.starts_with("n: line 2: invalid IOB2 tag 'B-'"), "{e}");
        let e = parse("# c\n1\tI\n".as_bytes(), "n")
            .expect_err("rejects")
            .to_string();
        assert!(e.starts_with("n: line 2: expected at least 3"), "{e}");
    }
}
