//! Validated configurations built from the raw flags.

use std::path::PathBuf;

use anyhow::{Result, bail};
use mtlkit_linear::{Loss, LossScaling, Selection};

use crate::args::{CommonArgs, EstimatorArg, FitArgs, LossArg, ScalingArg, SelectionArg};

/// Where `fit` reads its data from.
#[derive(Debug)]
pub enum DataSource {
    /// Separate X and Y files.
    Files {
        /// X.
        x: PathBuf,
        /// Y.
        y: PathBuf,
    },
    /// One CSV with target columns named.
    Csv {
        /// The CSV.
        path: PathBuf,
        /// Target columns.
        targets: Vec<String>,
    },
    /// One long-format CSV: a task column, a target column, the features.
    Long {
        /// The CSV.
        path: PathBuf,
        /// The task column.
        task_col: String,
        /// The target column.
        target: String,
    },
}

/// The penalty chosen.
#[derive(Debug, Clone, Copy)]
pub enum PenaltyConfig {
    /// Multi-task Lasso.
    Lasso {
        /// alpha.
        alpha: f64,
    },
    /// Multi-task elastic net.
    ElasticNet {
        /// alpha.
        alpha: f64,
        /// l1_ratio.
        l1_ratio: f64,
    },
}

/// A validated `fit` command.
#[derive(Debug)]
pub struct FitConfig {
    /// The penalty.
    pub penalty: PenaltyConfig,
    /// fit_intercept.
    pub fit_intercept: bool,
    /// tol.
    pub tol: f64,
    /// max_iter.
    pub max_iter: usize,
    /// selection.
    pub selection: Selection,
    /// random_state.
    pub random_state: u64,
    /// n_threads.
    pub n_threads: usize,
    /// Data.
    pub source: DataSource,
    /// Sample weights file.
    pub sample_weight: Option<PathBuf>,
    /// Losses (one for all tasks, or one per task).
    pub losses: Vec<Loss>,
    /// Loss scaling.
    pub scaling: LossScaling,
    /// Output model path.
    pub out: PathBuf,
    /// JSON output.
    pub json: bool,
}

impl TryFrom<FitArgs> for FitConfig {
    type Error = anyhow::Error;
    fn try_from(a: FitArgs) -> Result<Self> {
        Self::from_common(a.common, a.alpha, a.out, a.json)
    }
}

impl FitConfig {
    /// A validated configuration from the shared flags, `alpha`, the output path and `--json`.
    ///
    /// # Errors
    /// Conflicting or incomplete flags, named.
    pub fn from_common(a: CommonArgs, alpha: f64, out: PathBuf, json: bool) -> Result<Self> {
        let penalty = match (a.estimator, a.l1_ratio) {
            (EstimatorArg::MultitaskLasso, Some(_)) => {
                bail!(
                    "--l1-ratio applies to multitask-elasticnet only (the Lasso has l1_ratio = 1)"
                )
            }
            (EstimatorArg::MultitaskLasso, None) => PenaltyConfig::Lasso { alpha },
            (EstimatorArg::MultitaskElasticnet, r) => PenaltyConfig::ElasticNet {
                alpha,
                l1_ratio: r.unwrap_or(0.5),
            },
        };
        let source = match (a.x, a.y, a.data, a.targets) {
            (None, None, Some(path), None) if a.task_col.is_some() || a.target.is_some() => {
                match (a.task_col, a.target) {
                    (Some(task_col), Some(target)) if task_col != target => DataSource::Long {
                        path,
                        task_col,
                        target,
                    },
                    (Some(_), Some(_)) => {
                        bail!("--task-col and --target must be different columns")
                    }
                    (Some(_), None) => bail!("--task-col needs --target naming the target column"),
                    _ => bail!("--target needs --task-col naming the task column (long format)"),
                }
            }
            (_, _, _, _) if a.task_col.is_some() || a.target.is_some() => {
                bail!("--task-col/--target (long format) go with --data FILE.csv only")
            }
            (Some(x), Some(y), None, None) => DataSource::Files { x, y },
            (None, None, Some(path), Some(targets)) => {
                let targets: Vec<String> =
                    targets.into_iter().map(|t| t.trim().to_string()).collect();
                if targets.is_empty() || targets.iter().any(String::is_empty) {
                    bail!("--targets needs a comma-separated list of column names");
                }
                DataSource::Csv { path, targets }
            }
            (None, None, Some(_), None) => {
                bail!("--data needs --targets naming the target columns")
            }
            (None, None, None, Some(_)) => bail!("--targets needs --data FILE.csv"),
            (Some(_), None, _, _) | (None, Some(_), _, _) => {
                bail!("--x and --y must be given together")
            }
            _ => bail!(
                "give either --x X --y Y, or --data FILE.csv --targets col1,col2,..., not both"
            ),
        };
        Ok(Self {
            penalty,
            fit_intercept: a.fit_intercept,
            tol: a.tol,
            max_iter: a.max_iter,
            selection: match a.selection {
                SelectionArg::Cyclic => Selection::Cyclic,
                SelectionArg::Random => Selection::Random,
            },
            random_state: a.random_state,
            n_threads: a.n_threads,
            source,
            sample_weight: a.sample_weight,
            losses: a
                .loss
                .iter()
                .map(|l| match l {
                    LossArg::Squared => Loss::Squared,
                    LossArg::Logistic => Loss::Logistic,
                })
                .collect(),
            scaling: match a.scaling {
                ScalingArg::TaskMean => LossScaling::TaskMean,
                ScalingArg::AllSamples => LossScaling::AllSamples,
                ScalingArg::Sum => LossScaling::Sum,
            },
            out,
            json,
        })
    }
}
