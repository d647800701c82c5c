//! End-to-end tests of `mtlkit relate` (issue 10: task structure) and its bad input.

use std::path::Path;

mod common;
use common::{assert_user_error, mtlkit, s};

/// A long-format CSV of the planted-groups data (3 groups × 3 tasks + an adversarial task),
/// with an extra `leak` column to drop.
fn planted_csv(dir: &Path) -> std::path::PathBuf {
    use mtlkit_relate::synthetic::{PlantedGroups, planted_groups};
    let (data, _, _) = planted_groups(&PlantedGroups::default(), 3).expect("planted");
    let mut text = String::from("task");
    for j in 0..data.n_features() {
        text.push_str(&format!(",x{j}"));
    }
    text.push_str(",y,leak\n");
    for t in 0..data.n_tasks() {
        let (x, y) = data.task(mtlkit_core::TaskId(t));
        for (row, yi) in x.rows().into_iter().zip(y.iter()) {
            text.push_str(&data.task_names()[t]);
            for v in row {
                text.push_str(&format!(",{v}"));
            }
            text.push_str(&format!(",{yi},{yi}\n"));
        }
    }
    let path = dir.join("planted.csv");
    std::fs::write(&path, text).expect("write csv");
    path
}

#[test]
fn relate_finds_planted_groups_flags_the_adversarial_task_and_draws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = planted_csv(dir.path());
    let out_dir = dir.path().join("out");
    let out = mtlkit(&[
        "relate",
        "--data",
        s(&csv),
        "--task-col",
        "task",
        "--target",
        "y",
        "--drop",
        "leak",
        "--groups",
        "4",
        "--seed",
        "3",
        "--out",
        s(&out_dir),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let hurt: Vec<&str> = v["summary"]["hurt_by_pooling"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(hurt.contains(&"adversarial"), "{hurt:?}");
    assert!(hurt.len() <= 2, "{hurt:?}");
    let labels: Vec<usize> = v["grouping"]["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|x| x.as_u64().map(|u| u as usize))
        .collect();
    let ari =
        mtlkit_relate::adjusted_rand_index(&labels, &[0, 0, 0, 1, 1, 1, 2, 2, 2, 3]).expect("ari");
    assert!(ari >= 0.9, "ARI {ari}: {labels:?}");
    for f in [
        "report.json",
        "affinity.json",
        "heatmap.svg",
        "heatmap.png",
        "gain.svg",
        "gain.png",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    // the affinity written can be fed back in
    let out = mtlkit(&[
        "relate",
        "--data",
        s(&csv),
        "--task-col",
        "task",
        "--target",
        "y",
        "--drop",
        "leak",
        "--groups",
        "4",
        "--from",
        s(&out_dir.join("affinity.json")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("hurt by pooling") && text.contains("adversarial"),
        "{text}"
    );
}

#[test]
fn relate_bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = planted_csv(dir.path());
    let base = ["relate", "--data", s(&csv), "--task-col", "task"];
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        mtlkit(&a)
    };
    assert_user_error(&run(&["--target", "nope"]), "unknown target column 'nope'");
    assert_user_error(
        &run(&["--target", "y", "--drop", "zzz"]),
        "unknown column 'zzz'",
    );
    assert_user_error(&run(&["--target", "y", "--groups", "11"]), "n_groups = 11");
    assert_user_error(
        &run(&["--target", "y", "--groups", "0"]),
        "--groups must be at least 1",
    );
    assert_user_error(&run(&["--target", "y", "--folds", "1"]), "n_folds");
    assert_user_error(&run(&[]), "--task-col needs --target");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"kind": "x", "tasks": ["a"], "matrix": [[1.0, 2.0]"#,
    )
    .expect("write");
    assert_user_error(&run(&["--target", "y", "--from", s(&bad)]), "affinity JSON");
    std::fs::write(
        &bad,
        r#"{"kind": "x", "tasks": ["a", "b"], "matrix": [[1.0, 2.0]]}"#,
    )
    .expect("write");
    assert_user_error(
        &run(&["--target", "y", "--from", s(&bad)]),
        "row 0 has 2 entries",
    );
    std::fs::write(
        &bad,
        r#"{"kind": "x", "tasks": ["a", "b"], "matrix": [[1.0, 0.5], [0.5, 1.0]]}"#,
    )
    .expect("write");
    assert_user_error(
        &run(&["--target", "y", "--from", s(&bad)]),
        "unknown task 'g0t0'",
    );
    assert_user_error(
        &run(&["--target", "y", "--symmetrize"]),
        "--symmetrize goes with --from",
    );
    let missing = dir.path().join("missing.json");
    let out = run(&["--target", "y", "--from", s(&missing)]);
    assert_user_error(&out, "reading");
    // the cause once, not repeated by the error chain
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
    // options that would be ignored: the target in --drop, --affinity with --from
    assert_user_error(
        &run(&["--target", "y", "--drop", "y"]),
        "--drop names the target column 'y'",
    );
    let out = run(&["--target", "y", "--from", s(&bad), "--affinity", "mtrl"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
