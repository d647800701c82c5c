//! `mtlkit train` on text configurations (a `[corpus]` table): a tiny generated CoNLL-U corpus
//! end to end, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;
use common::mtlkit;

const WORDS: [(&str, &str, &str); 8] = [
    ("the", "DET", "DT"),
    ("a", "DET", "DT"),
    ("dog", "NOUN", "NN"),
    ("cat", "NOUN", "NN"),
    ("runs", "VERB", "VBZ"),
    ("sleeps", "VERB", "VBZ"),
    ("Paris", "PROPN", "NNP"),
    ("Anna", "PROPN", "NNP"),
];

/// `n` sentences "DET NOUN VERB in PROPN ." with a tree and (in `ner`) IOB2 tags.
fn write_corpus(dir: &Path, name: &str, n: usize, offset: usize) {
    let mut conllu = String::new();
    let mut ner = String::new();
    for i in 0..n {
        let k = i + offset;
        let det = WORDS[k % 2].0;
        let noun = WORDS[2 + (k / 2) % 2].0;
        let verb = WORDS[4 + (k / 3) % 2].0;
        let (prop, ty) = if k % 5 < 2 {
            ("Paris", "LOC")
        } else {
            ("Anna", "PER")
        };
        let id = format!("{name}-{k}");
        conllu.push_str(&format!(
            "# sent_id = {id}\n# text = {det} {noun} {verb} in {prop} .\n"
        ));
        ner.push_str(&format!("# sent_id = {id}\n"));
        let rows = [
            (det, "DET", "DT", 2, "det"),
            (noun, "NOUN", "NN", 3, "nsubj"),
            (verb, "VERB", "VBZ", 0, "root"),
            ("in", "ADP", "IN", 5, "case"),
            (prop, "PROPN", "NNP", 3, "obl"),
            (".", "PUNCT", ".", 3, "punct"),
        ];
        for (j, (f, u, x, h, d)) in rows.iter().enumerate() {
            conllu.push_str(&format!(
                "{}\t{f}\t{f}\t{u}\t{x}\t_\t{h}\t{d}\t_\t_\n",
                j + 1
            ));
            let tag = if j == 4 {
                format!("B-{ty}")
            } else {
                "O".into()
            };
            ner.push_str(&format!("{}\t{f}\t{tag}\t-\t-\n", j + 1));
        }
        conllu.push('\n');
        ner.push('\n');
    }
    std::fs::write(dir.join(format!("{name}.conllu")), conllu).unwrap();
    std::fs::write(dir.join(format!("{name}.iob2")), ner).unwrap();
}

const CONFIG: &str = r#"
tasks = TASKS

[corpus]
dir = "corpus"
train = "train.conllu"
dev = "dev.conllu"
test = "test.conllu"
ner_dev = "dev.iob2"
ner_test = "test.iob2"

[model]
word_dim = 8
affix_dim = 4
hidden = 8
arc_dim = 8

[trainer]
epochs = 2
batch_size = 8

[run]
seeds = [0, 1]
"#;

fn setup(tasks: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("corpus");
    std::fs::create_dir(&c).unwrap();
    write_corpus(&c, "train", 40, 0);
    write_corpus(&c, "dev", 20, 100);
    write_corpus(&c, "test", 20, 200);
    let cfg = dir.path().join("exp.toml");
    std::fs::write(&cfg, CONFIG.replace("TASKS", tasks)).unwrap();
    (dir, cfg)
}

#[test]
fn trains_multi_and_single_task_and_writes_the_report() {
    let (dir, cfg) = setup(r#"["upos", "xpos", "deprel", "head", "ner"]"#);
    let out = dir.path().join("run");
    let o = mtlkit(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["report"];
    assert_eq!(r["report_set"], "test");
    assert_eq!(r["tasks"].as_array().unwrap().len(), 5);
    let mt = r["multi_task"].as_array().unwrap();
    assert_eq!(mt.len(), 2);
    // five task metrics plus LAS, each in [0, 1]
    let metrics: Vec<(String, f64)> = mt[0]["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m["task"].as_str().unwrap(),
                    m["metric"].as_str().unwrap()
                ),
                m["value"].as_f64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "upos/acc",
            "xpos/acc",
            "deprel/acc",
            "head/uas",
            "ner/f1",
            "parse/las"
        ]
    );
    assert!(metrics.iter().all(|(_, v)| (0.0..=1.0).contains(v)));
    assert_eq!(mt[0]["epochs"], 2);
    // one single-task model per task and seed, and the single-task LAS per seed
    assert_eq!(r["single_task"].as_array().unwrap().len(), 10);
    assert_eq!(r["single_task_las"].as_array().unwrap().len(), 2);
    // NER: 80% of the 20 dev sentences train, the rest validate; test has all 20
    assert_eq!(r["data"]["ner_train_sentences"], 16);
    assert_eq!(r["data"]["ner_validation_sentences"], 4);
    assert_eq!(r["data"]["ner_test_sentences"], 20);
    assert!(out.join("report.json").is_file());
    let md = std::fs::read_to_string(out.join("RESULTS.md")).unwrap();
    assert!(md.contains("| parse | las |"), "{md}");
}

#[test]
fn prints_the_table() {
    let (dir, cfg) = setup(r#"["upos", "head"]"#);
    let out = dir.path().join("run");
    let o = mtlkit(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seeds",
        "3",
        "--epochs",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("1 seed(s)"), "{s}");
    assert!(s.contains("upos") && s.contains("uas"), "{s}");
    assert!(!s.contains("las"), "no LAS without deprel: {s}");
}

#[test]
fn malformed_conllu_names_the_line() {
    let (dir, cfg) = setup(r#"["upos"]"#);
    let train = dir.path().join("corpus/train.conllu");
    let mut t = std::fs::read_to_string(&train).unwrap();
    // line 13 (second sentence's 2nd word line): drop its last column
    let mut lines: Vec<String> = t.lines().map(String::from).collect();
    assert!(lines[12].starts_with("2\t"), "{}", lines[12]);
    lines[12] = lines[12].rsplit_once('\t').unwrap().0.to_string();
    t = lines.join("\n") + "\n";
    std::fs::write(&train, t).unwrap();
    let o = mtlkit(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("train.conllu: line 13: expected 10 tab-separated columns, found 9"),
        "{e}"
    );
}

#[test]
fn unknown_task_and_bad_settings_are_rejected() {
    let (dir, cfg) = setup(r#"["upos", "lemma"]"#);
    let run = |cfg: &Path| {
        mtlkit(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            dir.path().join("run").to_str().unwrap(),
        ])
    };
    let o = run(&cfg);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("lemma"), "{e}");
    // a gradient-level weighting method is refused
    std::fs::write(
        &cfg,
        CONFIG.replace("TASKS", r#"["upos", "xpos"]"#).replace(
            "batch_size = 8",
            "batch_size = 8\nweighting = { method = \"mgda\" }",
        ),
    )
    .unwrap();
    let o = run(&cfg);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("needs task gradients"), "{e}");
    // NER without its file
    std::fs::write(
        &cfg,
        CONFIG
            .replace("TASKS", r#"["ner"]"#)
            .replace("ner_dev = \"dev.iob2\"\n", ""),
    )
    .unwrap();
    let o = run(&cfg);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("needs corpus.ner_dev"), "{e}");
}
