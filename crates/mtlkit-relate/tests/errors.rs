//! Bad input gives typed errors, never a panic (issue 10).

use mtlkit_relate::grouping::{GroupingMethod, exact, group_tasks, hierarchical, partition_count};
use mtlkit_relate::report::{ReportParams, negative_transfer_report};
use mtlkit_relate::synthetic::{PlantedGroups, planted_groups};
use mtlkit_relate::{RelateError, TaskAffinity, adjusted_rand_index};
use ndarray::{Array2, array};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

#[test]
fn affinity_json_is_validated() {
    let ok =
        r#"{"kind": "tag-lookahead", "tasks": ["a", "b"], "matrix": [[1.0, 0.2], [0.4, 1.0]]}"#;
    let a = TaskAffinity::from_json(ok).expect("valid json");
    assert!(matches!(
        a.check_symmetric(),
        Err(RelateError::Asymmetric { .. })
    ));
    let s = a.symmetrized();
    assert!(s.check_symmetric().is_ok());
    assert!((s.matrix[0][1] - 0.3).abs() < 1e-12);
    assert_eq!(
        TaskAffinity::from_json(&s.to_json().expect("json")).expect("roundtrip"),
        s
    );
    for (bad, what) in [
        (
            r#"{"kind": "x", "tasks": ["a"], "matrix": [[1.0, 2.0]]}"#,
            "NotSquare",
        ),
        (
            r#"{"kind": "x", "tasks": ["a", "b"], "matrix": [[1.0]]}"#,
            "NamesLength",
        ),
        (
            r#"{"kind": "x", "tasks": ["a", "a"], "matrix": [[1.0, 0.0], [0.0, 1.0]]}"#,
            "InvalidName",
        ),
        (r#"{"kind": "x", "tasks": [], "matrix": []}"#, "Empty"),
        (r#"{"kind": "x", "tasks": ["a"]}"#, "Json"),
        (r#"{"kind": "x", "tasks": ["a"], "matrix": [[1.0]]"#, "Json"),
    ] {
        let e = TaskAffinity::from_json(bad).expect_err(what);
        assert!(format!("{e:?}").starts_with(what), "{what}: {e:?}");
    }
    let nan = TaskAffinity::new(
        "x",
        names(2),
        array![[1.0, f64::NAN], [f64::NAN, 1.0]].view(),
    );
    assert!(matches!(
        nan,
        Err(RelateError::NonFinite { row: 0, col: 1, .. })
    ));
    let r = TaskAffinity::new("x", names(2), Array2::eye(2).view())
        .expect("valid")
        .reorder(&["zz".to_string()]);
    assert!(matches!(r, Err(RelateError::UnknownTask { .. })));
}

#[test]
fn grouping_rejects_bad_group_counts_and_large_searches() {
    let a = TaskAffinity::new("x", names(3), Array2::eye(3).view()).expect("valid");
    for k in [0, 4] {
        for m in [
            GroupingMethod::Hierarchical,
            GroupingMethod::Exact,
            GroupingMethod::Auto,
        ] {
            assert!(matches!(
                group_tasks(&a, k, m),
                Err(RelateError::InvalidGroups { n_groups, n_tasks: 3 }) if n_groups == k
            ));
        }
    }
    // one task: one group
    let one = TaskAffinity::new("x", names(1), array![[1.0]].view()).expect("valid");
    assert_eq!(exact(&one, 1).expect("one task").labels, vec![0]);
    assert_eq!(hierarchical(&one, 1).expect("one task").labels, vec![0]);
    // too many partitions for the exact search, auto falls back to hierarchical
    let big = TaskAffinity::new("x", names(16), Array2::eye(16).view()).expect("valid");
    assert!(matches!(
        exact(&big, 8),
        Err(RelateError::TooManyPartitions { .. })
    ));
    assert_eq!(
        group_tasks(&big, 8, GroupingMethod::Auto)
            .expect("auto")
            .method,
        "hierarchical"
    );
    assert_eq!(partition_count(4, 4), 15.0); // Bell(4)
    assert_eq!(partition_count(5, 2), 16.0); // 1 + S(5, 2) = 1 + 15
    assert!(matches!(
        adjusted_rand_index(&[0, 1], &[0]),
        Err(RelateError::LabelsLength { .. })
    ));
}

#[test]
fn exact_search_beats_or_ties_hierarchical_on_its_objective() {
    // a matrix where greedy merging is not optimal is not needed: check the exact optimum
    // against every partition's score through from_labels on a small random affinity
    let m = Array2::from_shape_fn((6, 6), |(i, j)| {
        if i == j {
            1.0
        } else {
            (((i * 7 + j * 7 + i * j) % 11) as f64 - 5.0) / 5.0
        }
    });
    let a = TaskAffinity::new("x", names(6), m.view()).expect("valid");
    for k in 1..=6 {
        let e = exact(&a, k).expect("exact");
        let h = hierarchical(&a, k).expect("hierarchical");
        assert!(e.n_groups() <= k && h.n_groups() == k);
        assert!(
            e.score >= h.score - 1e-12,
            "k {k}: exact {} < hierarchical {}",
            e.score,
            h.score
        );
    }
}

#[test]
fn report_rejects_bad_settings() -> Result<(), RelateError> {
    let cfg = PlantedGroups {
        n_groups: 1,
        tasks_per_group: 2,
        adversarial: false,
        n_samples: 30,
        ..Default::default()
    };
    let (data, _, _) = planted_groups(&cfg, 0)?;
    let bad = |p: ReportParams| negative_transfer_report(&data, &p).expect_err("bad setting");
    assert!(matches!(
        bad(ReportParams {
            n_groups: Some(3),
            ..Default::default()
        }),
        RelateError::InvalidGroups { .. }
    ));
    assert!(matches!(
        bad(ReportParams {
            n_folds: 1,
            ..Default::default()
        }),
        RelateError::InvalidSetting { .. }
    ));
    assert!(matches!(
        bad(ReportParams {
            alphas: vec![],
            ..Default::default()
        }),
        RelateError::InvalidSetting { .. }
    ));
    assert!(matches!(
        bad(ReportParams {
            n_folds: 20,
            ..Default::default()
        }),
        RelateError::TooFewSamples { .. }
    ));
    // fold counts near usize::MAX: too few samples, not an arithmetic overflow
    for (n_folds, inner_folds) in [(usize::MAX, 3), (1 << 63, 3), (5, usize::MAX)] {
        assert!(matches!(
            bad(ReportParams {
                n_folds,
                inner_folds,
                ..Default::default()
            }),
            RelateError::TooFewSamples { .. }
        ));
    }
    let single = data.select_tasks(&[mtlkit_core::TaskId(0)])?;
    assert!(matches!(
        negative_transfer_report(&single, &ReportParams::default()),
        Err(RelateError::TooFewTasks { .. })
    ));
    let other = TaskAffinity::new("x", vec!["p".into(), "q".into()], Array2::eye(2).view())?;
    assert!(matches!(
        bad(ReportParams {
            fixed_affinity: Some(other),
            ..Default::default()
        }),
        RelateError::UnknownTask { .. }
    ));
    Ok(())
}

#[test]
fn covariances_and_weights_at_any_scale() -> Result<(), RelateError> {
    use mtlkit_relate::affinity::{covariance_correlation, weight_cosine};
    // not a covariance: non-finite, a negative variance, asymmetric
    for bad in [
        array![[f64::NAN, 0.5], [0.5, 1.0]],
        array![[f64::INFINITY, 0.5], [0.5, 1.0]],
        array![[-1.0, 0.5], [0.5, -1.0]],
        array![[1.0, 0.5], [0.2, 1.0]],
    ] {
        assert!(
            covariance_correlation("c", bad.view(), None).is_err(),
            "{bad}"
        );
    }
    // correlations and cosines do not depend on the scale (norms near 1e-170 or 1e170 would
    // under- or overflow)
    let cov = array![[4.0, 1.0], [1.0, 1.0]];
    let w = array![[1.0, 2.0, 0.0], [2.0, 4.0, 1.0]];
    let c0 = covariance_correlation("c", cov.view(), None)?;
    let w0 = weight_cosine(w.view(), None)?;
    assert!((c0.matrix[0][1] - 0.5).abs() < 1e-15);
    assert!((w0.matrix[0][1] - 1.0).abs() < 1e-15);
    for scale in [1e-170, 1e-300, 1e170, 1e300] {
        let c = covariance_correlation("c", (&cov * scale).view(), None)?;
        let a = weight_cosine((&w * scale).view(), None)?;
        for s in 0..2 {
            for t in 0..2 {
                assert!((c.matrix[s][t] - c0.matrix[s][t]).abs() < 1e-14, "{scale}");
            }
        }
        for s in 0..3 {
            for t in 0..3 {
                assert!((a.matrix[s][t] - w0.matrix[s][t]).abs() < 1e-14, "{scale}");
            }
        }
    }
    Ok(())
}

#[test]
fn the_report_counts_fits_that_stopped_early() -> Result<(), RelateError> {
    let cfg = PlantedGroups {
        n_groups: 2,
        tasks_per_group: 2,
        n_samples: 30,
        ..Default::default()
    };
    let (data, _, _) = planted_groups(&cfg, 1)?;
    let base = ReportParams {
        n_groups: Some(2),
        n_folds: 3,
        ..Default::default()
    };
    let ok = negative_transfer_report(&data, &base)?;
    assert!(ok.fits > 0);
    assert_eq!(ok.unconverged_fits, 0);
    // one iteration and an unreachable tolerance: every iterative fit stops early, and the
    // report says so instead of looking normal
    let starved = negative_transfer_report(
        &data,
        &ReportParams {
            tol: 1e-30,
            max_iter: 1,
            ..base
        },
    )?;
    assert!(starved.unconverged_fits > 0);
    assert!(starved.unconverged_fits <= starved.fits);
    Ok(())
}

#[test]
fn one_fold_is_never_flagged_and_overflowing_data_is_refused() -> Result<(), RelateError> {
    use mtlkit_relate::report::mean_se;
    // one finite fold has no standard error: NaN, so the flag rule (|mean| > 2·SE) cannot fire
    let (m, se) = mean_se(&[-0.5]);
    assert_eq!(m, -0.5);
    assert!(se.is_nan());
    // a target near 1e200 (its square overflows) turned every score into NaN before
    let cfg = PlantedGroups {
        n_groups: 2,
        tasks_per_group: 2,
        n_samples: 30,
        ..Default::default()
    };
    let (data, _, _) = planted_groups(&cfg, 2)?;
    let mut tasks: Vec<(Array2<f64>, ndarray::Array1<f64>)> = (0..data.n_tasks())
        .map(|t| {
            let (x, y) = data.task(mtlkit_core::TaskId(t));
            (x.to_owned(), y.to_owned())
        })
        .collect();
    tasks[0].1[3] = 1e200;
    let huge = mtlkit_core::MultiTaskDataset::per_task(tasks)?;
    let err = negative_transfer_report(&huge, &ReportParams::default()).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
    Ok(())
}
