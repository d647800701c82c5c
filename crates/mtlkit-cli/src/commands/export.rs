//! `mtlkit export`.

use anyhow::{Result, bail};
use mtlkit_linear::MultiTaskLinearModel;

use crate::args::ExportArgs;
use crate::io::{self, NpzEntry};

pub fn run(a: &ExportArgs) -> Result<()> {
    // the model file itself as --out would be replaced by the export
    let same = |p: &std::path::Path| std::fs::canonicalize(p).ok();
    if same(&a.model).is_some() && same(&a.model) == same(&a.out) {
        bail!(
            "--out '{}' is the model file itself: give another path (.npz)",
            a.out.display()
        );
    }
    if a.out.extension().is_none_or(|e| e != "npz") {
        bail!(
            "--out '{}': the export is an .npz archive (name it FILE.npz)",
            a.out.display()
        );
    }
    let model = MultiTaskLinearModel::load(&a.model)?;
    let coef = model.coef().to_owned();
    let info = model.info();
    // a structured model's certificate is its relative KKT residual, not a duality gap
    let gap_name = if model.structure().is_some() {
        "kkt_residual"
    } else {
        "dual_gap"
    };
    io::write_npz(
        &a.out,
        &[
            ("coef", NpzEntry::Matrix(&coef)),
            ("intercept", NpzEntry::Vector(model.intercept())),
            (gap_name, NpzEntry::Float(info.dual_gap)),
            (
                "n_iter",
                NpzEntry::Int(i64::try_from(info.n_iter).unwrap_or(i64::MAX)),
            ),
        ],
    )?;
    eprintln!(
        "wrote coef {:?} (n_features × n_tasks), intercept, {gap_name}, n_iter to {}",
        coef.dim(),
        a.out.display()
    );
    Ok(())
}
