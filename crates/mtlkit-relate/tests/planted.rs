//! Issue 10: planted task groups are recovered, and the adversarial task is flagged as hurt by
//! pooling.

use mtlkit_relate::grouping::{GroupingMethod, adjusted_rand_index, group_tasks};
use mtlkit_relate::report::{ReportParams, fit_affinity, negative_transfer_report};
use mtlkit_relate::synthetic::{PlantedGroups, planted_groups};

#[test]
fn grouping_recovers_planted_groups_over_five_seeds() -> Result<(), mtlkit_relate::RelateError> {
    let cfg = PlantedGroups::default();
    let k = cfg.n_groups + 1; // the adversarial task is a group of its own
    for seed in 0..5 {
        let (data, _, planted) = planted_groups(&cfg, seed)?;
        let aff = fit_affinity(&data, &ReportParams::default())?;
        for method in [GroupingMethod::Hierarchical, GroupingMethod::Exact] {
            let g = group_tasks(&aff, k, method)?;
            let ari = adjusted_rand_index(&g.labels, &planted)?;
            println!(
                "seed {seed} {}: ARI {ari:.3} labels {:?}",
                method.name(),
                g.labels
            );
            assert!(
                ari >= 0.9,
                "seed {seed}, {}: ARI {ari} < 0.9",
                method.name()
            );
        }
    }
    Ok(())
}

#[test]
fn report_flags_the_adversarial_task_only() -> Result<(), mtlkit_relate::RelateError> {
    let cfg = PlantedGroups::default();
    let n_normal = cfg.n_groups * cfg.tasks_per_group;
    for seed in 0..5 {
        let (data, _, _) = planted_groups(&cfg, seed)?;
        let p = ReportParams {
            n_groups: Some(cfg.n_groups + 1),
            seed,
            ..Default::default()
        };
        let r = negative_transfer_report(&data, &p)?;
        for t in &r.tasks {
            println!(
                "seed {seed} {:>12}: single {:.3} pooled {:.3} grouped {:.3} gain {:+.3} ± {:.3} hurt {}",
                t.task,
                t.single.r2,
                t.pooled.r2,
                t.grouped.as_ref().map_or(f64::NAN, |g| g.r2),
                t.gain_pooled.mean,
                t.gain_pooled.se,
                t.gain_pooled.hurt
            );
        }
        assert!(
            r.summary
                .hurt_by_pooling
                .contains(&"adversarial".to_string()),
            "seed {seed}: adversarial not flagged: {:?}",
            r.summary.hurt_by_pooling
        );
        let normal_flagged = r
            .summary
            .hurt_by_pooling
            .iter()
            .filter(|t| *t != "adversarial")
            .count();
        assert!(
            normal_flagged <= n_normal / 4,
            "seed {seed}: {normal_flagged} normal tasks flagged: {:?}",
            r.summary.hurt_by_pooling
        );
    }
    Ok(())
}
