//! `mtlkit export`.

use anyhow::Result;
use mtlkit_linear::MultiTaskLinearModel;

use crate::args::ExportArgs;
use crate::io::{self, NpzEntry};

pub fn run(a: &ExportArgs) -> Result<()> {
    let model = MultiTaskLinearModel::load(&a.model)?;
    let coef = model.coef().to_owned();
    let info = model.info();
    io::write_npz(
        &a.out,
        &[
            ("coef", NpzEntry::Matrix(&coef)),
            ("intercept", NpzEntry::Vector(model.intercept())),
            ("dual_gap", NpzEntry::Float(info.dual_gap)),
            (
                "n_iter",
                NpzEntry::Int(i64::try_from(info.n_iter).unwrap_or(i64::MAX)),
            ),
        ],
    )?;
    eprintln!(
        "wrote coef {:?}, intercept, dual_gap, n_iter to {}",
        coef.dim(),
        a.out.display()
    );
    Ok(())
}
