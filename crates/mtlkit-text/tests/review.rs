//! Library-API checks (review of December 2026): a vocabulary read back keeps its ids, an
//! unseen gold entity is a miss in the entity F1, and the trainer refuses duplicate tasks and
//! sentences encoded with another vocabulary.
#![allow(clippy::unwrap_used)]

use mtlkit_text::Task;
use mtlkit_text::data::{Encoded, N_AFFIX, Vocab};
use mtlkit_text::model::ModelConfig;
use mtlkit_text::train::{TextTrainerConfig, metric, train_model};

fn vocab() -> Vocab {
    let t = |names: &[&str]| serde_json::json!({ "names": names });
    let reserved = t(&["<pad>", "<unk>"]);
    serde_json::from_value(serde_json::json!({
        "words": t(&["<pad>", "<unk>", "<root>", "dog", "cat"]),
        "affixes": reserved,
        "labels": [
            t(&["<pad>", "<unk>", "NOUN", "VERB"]),
            reserved, reserved, reserved,
            t(&["<pad>", "<unk>", "O", "B-PER", "I-PER"]),
        ],
    }))
    .unwrap()
}

fn sentence(upos: Vec<i64>, ner: Vec<i64>) -> Encoded {
    let n = upos.len();
    Encoded {
        words: vec![2, 3, 4, 3][..n].to_vec(),
        affix: vec![0; n * N_AFFIX],
        labels: vec![upos, vec![-1; n], vec![-1; n], vec![-1; n], ner],
    }
}

#[test]
fn a_vocabulary_read_back_maps_strings_to_their_ids() {
    let v = vocab();
    assert_eq!(v.words.id("dog"), 3);
    assert_eq!(v.words.id("cat"), 4);
    assert_eq!(v.labels[4].id("B-PER"), 3);
    assert_eq!(v.words.id("horse"), 1);
    let again: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(again.words.id("cat"), 4);
}

#[test]
fn an_unseen_gold_entity_is_a_miss() {
    // gold: ROOT, B-PER, O, and a B-LOC unseen in training (encoded UNK); the prediction
    // finds the PER entity only: precision 1, recall 1/2, F1 2/3 (it read 1.0 before)
    let gold = sentence(vec![-1; 4], vec![-1, 3, 2, 1]);
    let pred = vec![vec![0, 3, 2, 2]];
    let f1 = metric(Task::Ner, &pred, &[gold], &vocab()).unwrap();
    assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
}

#[test]
fn the_trainer_refuses_duplicate_tasks_and_foreign_encodings() {
    let v = vocab();
    let good = vec![sentence(vec![-1, 2, 3, 2], vec![-1; 4]); 3];
    let run = |tasks: &[Task], train: &[Encoded], valid: &[Encoded]| {
        let t = TextTrainerConfig {
            epochs: 1,
            ..Default::default()
        };
        train_model(
            tasks,
            &v,
            &ModelConfig::default(),
            &t,
            train,
            valid,
            0,
            &mut |_| {},
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let zero = TextTrainerConfig {
        patience: Some(0),
        ..Default::default()
    };
    assert!(zero.validate().is_err());
    let err = run(&[Task::Upos, Task::Upos], &good, &good).unwrap_err();
    assert!(err.contains("listed twice"), "{err}");
    // a UPOS label id beyond the vocabulary's 4 (it was a burn gather panic)
    let foreign = vec![sentence(vec![-1, 7, 2, 2], vec![-1; 4])];
    let err = run(&[Task::Upos], &foreign, &good).unwrap_err();
    assert!(err.contains("label 7 beyond 4"), "{err}");
    // no validation sentence: model selection has nothing to go on
    let err = run(&[Task::Upos], &good, &[]).unwrap_err();
    assert!(err.contains("no validation sentence"), "{err}");
    assert!(run(&[Task::Upos], &good, &good).is_ok());
}
