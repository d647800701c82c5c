//! Round trip of the real UD English EWT files (skipped with a message when the shared data
//! folder is absent; `MTLKIT_SHARED_DATA` overrides its path).

use std::io::Read;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let root = std::env::var_os("MTLKIT_SHARED_DATA")
        .map_or_else(|| PathBuf::from("/work/shared/data"), PathBuf::from);
    let d = root.join("ud_english_ewt");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("skip: {} not found (set MTLKIT_SHARED_DATA)", d.display());
        None
    }
}

#[test]
fn treebank_files_round_trip_exactly() {
    let Some(dir) = data_dir() else { return };
    for (split, sentences, words) in [
        ("train", 12544, 204_577),
        ("dev", 2001, 25_147),
        ("test", 2077, 25_094),
    ] {
        let path = dir.join(format!("en_ewt-ud-{split}.conllu.gz"));
        let mut original = String::new();
        mtlkit_text::conllu::open(&path)
            .expect("opens")
            .read_to_string(&mut original)
            .expect("reads");
        let parsed = mtlkit_text::conllu::parse(original.as_bytes(), split).expect("parses");
        assert_eq!(parsed.len(), sentences, "{split}");
        assert_eq!(
            parsed.iter().map(|s| s.len()).sum::<usize>(),
            words,
            "{split}"
        );
        let mut out = Vec::new();
        mtlkit_text::conllu::write(&parsed, &mut out).expect("writes");
        assert!(out == original.as_bytes(), "{split}: written file differs");
        // and the written text parses to the same sentences
        assert_eq!(
            mtlkit_text::conllu::parse(out.as_slice(), split).expect("parses"),
            parsed
        );
    }
}

#[test]
fn ner_joins_the_treebank() {
    let Some(dir) = data_dir() else { return };
    let tb = mtlkit_text::conllu::read_file(&dir.join("en_ewt-ud-dev.conllu.gz")).expect("reads");
    let ner = mtlkit_text::iob2::read_file(&dir.join("uner_en_ewt-dev.iob2.gz")).expect("reads");
    let (tags, dropped) = mtlkit_text::iob2::join(&tb, &ner);
    assert_eq!(tags.iter().flatten().count(), 1998);
    assert_eq!(dropped, 3);
    let spans: usize = tags
        .iter()
        .flatten()
        .map(|t| mtlkit_text::iob2::spans(t).len())
        .sum();
    assert!((950..=966).contains(&spans), "{spans} entity spans");
}
