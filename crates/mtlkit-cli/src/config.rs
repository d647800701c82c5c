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

/// A structured model's regularizers and graph (`fit --penalty`).
#[derive(Debug, Clone)]
pub struct StructureConfig {
    /// The parts.
    pub parts: Vec<mtlkit_linear::structured::Regularizer>,
    /// Graph edges and weight.
    pub graph: Option<(Vec<(usize, usize)>, f64)>,
    /// An alternating model instead of parts.
    pub alternating: Option<AlternatingConfig>,
}

/// The alternating models of `--penalty`.
#[derive(Debug, Clone, Copy)]
pub enum AlternatingConfig {
    /// `mtrl=LAMBDA1:LAMBDA2`.
    Mtrl(f64, f64),
    /// `feature-learning=GAMMA`.
    FeatureLearning(f64),
    /// `clustered=RHO1:RHO2:K`.
    Clustered(f64, f64, usize),
    /// `go-mtl=K:MU:LAMBDA`.
    GoMtl(usize, f64, f64),
}

/// Parse an alternating model spec, if `spec` is one.
fn parse_alternating(spec: &str) -> Result<Option<AlternatingConfig>> {
    let Some((kind, val)) = spec.trim().split_once('=') else {
        return Ok(None);
    };
    let nums = |n: usize| -> Result<Vec<f64>> {
        let v: Vec<&str> = val.split(':').collect();
        if v.len() != n {
            bail!("--penalty: '{kind}' takes {n} value(s) separated by ':', got '{val}'");
        }
        v.iter()
            .map(|x| {
                x.trim()
                    .parse::<f64>()
                    .map_err(|_| anyhow::anyhow!("--penalty: '{x}' in '{spec}' is not a number"))
            })
            .collect()
    };
    Ok(match kind.trim() {
        "mtrl" => {
            let v = nums(2)?;
            Some(AlternatingConfig::Mtrl(v[0], v[1]))
        }
        "feature-learning" => Some(AlternatingConfig::FeatureLearning(nums(1)?[0])),
        "go-mtl" => {
            let v = nums(3)?;
            if v[0] < 1.0 || v[0].fract() != 0.0 {
                bail!(
                    "--penalty: the basis size K of go-mtl=K:MU:LAMBDA must be a whole number >= 1"
                );
            }
            Some(AlternatingConfig::GoMtl(v[0] as usize, v[1], v[2]))
        }
        "clustered" => {
            let v = nums(3)?;
            if v[2] < 1.0 || v[2].fract() != 0.0 {
                bail!(
                    "--penalty: the number of clusters K of clustered=RHO1:RHO2:K must be a whole number >= 1"
                );
            }
            Some(AlternatingConfig::Clustered(v[0], v[1], v[2] as usize))
        }
        _ => None,
    })
}

/// Parse `KIND=ALPHA[:GAMMA]+...`.
fn parse_penalty(spec: &str) -> Result<Vec<mtlkit_linear::structured::Regularizer>> {
    use mtlkit_linear::structured::Regularizer as R;
    let mut parts = Vec::new();
    for item in spec.split('+') {
        let item = item.trim();
        let Some((kind, val)) = item.split_once('=') else {
            bail!("--penalty: '{item}' is not KIND=ALPHA (e.g. trace-norm=0.1)");
        };
        if kind.trim() == "task-lasso" {
            // task-lasso=ALPHA:W1:W2:...: one weight per task
            let v: Vec<f64> = val
                .split(':')
                .map(|x| {
                    x.trim().parse::<f64>().map_err(|_| {
                        anyhow::anyhow!("--penalty: '{x}' in '{item}' is not a number")
                    })
                })
                .collect::<Result<_>>()?;
            if v.len() < 2 {
                bail!("--penalty: task-lasso=ALPHA:W1:W2:... needs one weight per task");
            }
            parts.push(R::TaskLasso {
                alpha: v[0],
                weights: v[1..].to_vec(),
            });
            continue;
        }
        let (alpha, gamma) = match val.split_once(':') {
            Some((a, g)) => (a, Some(g)),
            None => (val, None),
        };
        let num = |v: &str, what: &str| -> Result<f64> {
            v.trim()
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--penalty: {what} '{v}' of '{item}' is not a number"))
        };
        let alpha = num(alpha, "alpha")?;
        let gamma = gamma.map(|g| num(g, "gamma")).transpose()?;
        let no_gamma = |r: R| -> Result<R> {
            if gamma.is_some() {
                bail!("--penalty: '{kind}' takes no gamma");
            }
            Ok(r)
        };
        parts.push(match kind.trim() {
            "lasso" => no_gamma(R::Lasso { alpha })?,
            "l1-inf" => no_gamma(R::L1Inf { alpha })?,
            "l21" => no_gamma(R::L21 { alpha })?,
            "column-l21" => no_gamma(R::ColumnL21 { alpha })?,
            "trace-norm" => no_gamma(R::TraceNorm { alpha })?,
            "ridge" => no_gamma(R::Ridge { alpha })?,
            "shared-mean" => no_gamma(R::SharedMean { alpha })?,
            "block-mcp" => R::BlockMcp {
                alpha,
                gamma: gamma.unwrap_or(3.0),
            },
            "block-scad" => R::BlockScad {
                alpha,
                gamma: gamma.unwrap_or(3.7),
            },
            other => bail!(
                "--penalty: unknown regularizer '{other}' (lasso, task-lasso, l1-inf, l21, \
                 column-l21, trace-norm, ridge, shared-mean, block-mcp, block-scad)"
            ),
        });
    }
    Ok(parts)
}

/// Parse graph edges `S-T`.
fn parse_edges(edges: &[String]) -> Result<Vec<(usize, usize)>> {
    edges
        .iter()
        .map(|e| {
            let (s, t) = e
                .split_once('-')
                .ok_or_else(|| anyhow::anyhow!("--graph-edges: '{e}' is not S-T"))?;
            let idx = |v: &str| {
                v.trim().parse::<usize>().map_err(|_| {
                    anyhow::anyhow!("--graph-edges: '{v}' in '{e}' is not a task index")
                })
            };
            Ok((idx(s)?, idx(t)?))
        })
        .collect()
}

/// A validated `fit` command.
#[derive(Debug)]
pub struct FitConfig {
    /// `--penalty`: a structured model instead of the estimator's penalty.
    pub structure: Option<StructureConfig>,
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
    /// mixed_precision.
    pub mixed_precision: bool,
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
        let structure = match (&a.penalty, &a.graph_edges) {
            (Some(spec), edges) if spec.contains('+') || parse_alternating(spec)?.is_none() => {
                Some(StructureConfig {
                    parts: parse_penalty(spec)?,
                    alternating: None,
                    graph: edges
                        .as_ref()
                        .map(|e| parse_edges(e).map(|e| (e, a.graph_alpha)))
                        .transpose()?,
                })
            }
            (Some(_), Some(_)) => {
                bail!("--graph-edges does not combine with mtrl / feature-learning / clustered")
            }
            (Some(spec), None) => Some(StructureConfig {
                parts: Vec::new(),
                alternating: parse_alternating(spec)?,
                graph: None,
            }),
            (None, Some(_)) => bail!("--graph-edges goes with --penalty (a structured model)"),
            (None, None) => None,
        };
        let alpha = match (a.alpha, &structure) {
            (Some(_), Some(_)) => bail!(
                "--alpha is for --estimator; with --penalty each part has its own (KIND=ALPHA)"
            ),
            (Some(alpha), None) => alpha,
            (None, Some(_)) => 0.0,
            (None, None) => bail!("--alpha is required (or give --penalty KIND=ALPHA+...)"),
        };
        let mut cfg = Self::from_common(a.common, alpha, a.out, a.json)?;
        cfg.structure = structure;
        Ok(cfg)
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
            structure: None,
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
            mixed_precision: a.mixed_precision,
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
