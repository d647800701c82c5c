//! Raw command-line flags, as typed by the user (validated in `config`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mtlkit: multi-task learning from the command line.
#[derive(Debug, Parser)]
#[command(name = "mtlkit", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a linear multi-task model and save it (safetensors + JSON metadata).
    Fit(FitArgs),
    /// Predict with a saved model.
    Predict(PredictArgs),
    /// Export a saved model's parameters to an .npz file.
    Export(ExportArgs),
    /// Regularization path: coefficients along a grid of alphas (table, JSON, figures).
    Path(PathArgs),
    /// Cross-validate alpha (and l1_ratio) within tasks, refit, save the model.
    Cv(CvArgs),
    /// Multi-task vs independent single-task models on the bundled Parkinson's data.
    Demo(DemoArgs),
    /// Train a deep multi-task model from a TOML configuration (architecture, tasks, data,
    /// trainer, seeds, single-task baselines); save it and report per-task metrics, Δm, Δp.
    Train(TrainArgs),
    /// Evaluate a saved deep model on a table (per-task metrics and losses).
    Evaluate(EvaluateArgs),
    /// Task structure: which tasks to learn together and which multi-task learning hurts
    /// (affinity, groups, per-task gain of pooled and grouped models under CV; table, JSON,
    /// figures).
    Relate(RelateArgs),
}

/// Where `relate` takes the task affinity from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AffinityArg {
    /// Cosine of the single-task models' weight vectors.
    Weights,
    /// Correlation of the single-task models' weight vectors.
    WeightCorrelation,
    /// MTRL's learned task covariance, as correlations.
    Mtrl,
    /// Clustered MTL's cluster matrix, as correlations.
    Clustered,
    /// GO-MTL's basis usage.
    GoMtl,
}

/// How `relate` groups tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupingArg {
    /// Exact search when the partitions are few enough (about 12 tasks), else hierarchical.
    Auto,
    /// Average-linkage hierarchical clustering.
    Hierarchical,
    /// Exhaustive search over partitions (TAG's objective).
    Exact,
}

/// The model family `relate` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// Ridge per task vs mean-regularized multi-task (w_t = w_0 + v_t).
    MeanRegularized,
    /// Lasso per task vs multi-task Lasso (L2,1).
    L21,
}

/// `mtlkit relate`.
#[derive(Debug, Args)]
pub struct RelateArgs {
    /// One CSV (.csv or .csv.gz): long format with --task-col and --target, or wide format
    /// (shared rows) with --targets.
    #[arg(long)]
    pub data: PathBuf,
    /// Long format: the column naming each row's task.
    #[arg(long)]
    pub task_col: Option<String>,
    /// Long format: the target column.
    #[arg(long)]
    pub target: Option<String>,
    /// Wide format: comma-separated target columns, one per task.
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Columns of --data that are neither features nor targets (comma-separated), e.g. a
    /// second target that would leak.
    #[arg(long, value_delimiter = ',')]
    pub drop: Vec<String>,
    /// The affinity fitted for grouping (on each training part, and on all data for the
    /// figure).
    #[arg(long, value_enum, default_value_t = AffinityArg::Weights, conflicts_with = "from")]
    pub affinity: AffinityArg,
    /// Take the affinity from this JSON file instead ({"kind", "tasks", "matrix"}, e.g. a deep
    /// model's gradient affinity); tasks are matched by name.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Use (A + A^T)/2 of an asymmetric --from affinity (e.g. TAG's lookahead affinity).
    #[arg(long)]
    pub symmetrize: bool,
    /// Number of task groups.
    #[arg(long, default_value_t = 2)]
    pub groups: usize,
    /// How groups are chosen.
    #[arg(long, value_enum, default_value_t = GroupingArg::Auto)]
    pub grouping: GroupingArg,
    /// The models compared.
    #[arg(long, value_enum, default_value_t = FamilyArg::MeanRegularized)]
    pub model: FamilyArg,
    /// Outer folds within each task.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Inner CV folds for the regularization.
    #[arg(long, default_value_t = 3)]
    pub inner_folds: usize,
    /// Seed of the fold shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder: report.json, affinity.json, heatmap.svg/png, gain.svg/png.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mtlkit train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The experiment configuration (TOML; data paths relative to its folder).
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder: model.safetensors (the best seed's model), report.json, per-run logs and
    /// checkpoints (a killed run started again with the same folder resumes).
    #[arg(long)]
    pub out: PathBuf,
    /// Override the configuration's seeds (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Override the configuration's number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Text configurations only: the corpus folder (overrides `corpus.dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Text configurations only: use the first N training, dev and test sentences.
    #[arg(long)]
    pub max_sentences: Option<usize>,
}

impl TrainArgs {
    /// Apply `--seeds` and `--epochs` to a configuration's seeds and epoch count.
    ///
    /// # Errors
    /// An empty `--seeds` list, or one that repeats a seed.
    pub fn override_seeds_epochs(
        &self,
        seeds: &mut Vec<u64>,
        epochs: &mut usize,
    ) -> anyhow::Result<()> {
        if let Some(s) = &self.seeds {
            if s.is_empty() {
                anyhow::bail!("--seeds is empty");
            }
            if let Some(d) = mtlkit_core::param::first_duplicate(s.iter().copied()) {
                anyhow::bail!("--seeds lists seed {d} twice");
            }
            seeds.clone_from(s);
        }
        if let Some(e) = self.epochs {
            *epochs = e;
        }
        Ok(())
    }
}

/// `mtlkit evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A model written by `mtlkit train`.
    pub model: PathBuf,
    /// A CSV with the model's feature columns and its tasks' label columns (named as the
    /// tasks' `column` in the training configuration, given with --config), or the task names.
    #[arg(long)]
    pub data: PathBuf,
    /// The training configuration (for the label columns and the task column); without it,
    /// each task's labels are read from the column named like the task.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Estimators the CLI can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstimatorArg {
    /// scikit-learn's MultiTaskLasso (L2,1 penalty).
    MultitaskLasso,
    /// scikit-learn's MultiTaskElasticNet (L2,1 + ridge).
    MultitaskElasticnet,
}

/// Feature order of coordinate descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SelectionArg {
    /// In order.
    Cyclic,
    /// Random (seeded by --random-state).
    Random,
}

/// A task's loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    /// Squared error (regression).
    Squared,
    /// Logistic (binary classification).
    Logistic,
}

/// How the tasks' losses are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScalingArg {
    /// 1/n_t per task.
    TaskMean,
    /// 1/N, N the samples of all tasks.
    AllSamples,
    /// 1 (unnormalised).
    Sum,
}

/// Estimator and data flags shared by `fit`, `path` and `cv`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The estimator (`fit --penalty ...` fits a structured model instead).
    #[arg(long, value_enum, default_value_t = EstimatorArg::MultitaskLasso)]
    pub estimator: EstimatorArg,
    /// L2,1 vs ridge mix in [0, 1] (elastic net only; default 0.5).
    #[arg(long, allow_negative_numbers = true)]
    pub l1_ratio: Option<f64>,
    /// Fit an intercept per task.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub fit_intercept: bool,
    /// Tolerance on the duality gap, relative to ||Y||^2 / n.
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub tol: f64,
    /// Maximum passes over the features.
    #[arg(long, default_value_t = 1000)]
    pub max_iter: usize,
    /// Feature order.
    #[arg(long, value_enum, default_value_t = SelectionArg::Cyclic)]
    pub selection: SelectionArg,
    /// Seed of random selection.
    #[arg(long, default_value_t = 0)]
    pub random_state: u64,
    /// Threads for the matrix products (coordinate descent itself is sequential).
    #[arg(long, default_value_t = 1)]
    pub n_threads: usize,
    /// Mixed precision for the multi-task Lasso / elastic net on a dense design: the inner
    /// loops' matrix products in f32, every duality gap and stopping test exact in f64
    /// (`false`: everything in f64).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub mixed_precision: bool,
    /// Design matrix X (n_samples x n_features), .npy or .csv with a header.
    #[arg(long)]
    pub x: Option<PathBuf>,
    /// Targets Y (n_samples x n_tasks; a 1-D .npy is one task), .npy or .csv with a header.
    #[arg(long)]
    pub y: Option<PathBuf>,
    /// One CSV with features and targets (use with --targets).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Comma-separated target columns of --data (wide format: one column per task, empty/NA =
    /// missing label); the other columns are the features.
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Long format: the column of --data naming each row's task (one design per task, tasks of
    /// any size); use with --target.
    #[arg(long)]
    pub task_col: Option<String>,
    /// Long format: the target column of --data.
    #[arg(long)]
    pub target: Option<String>,
    /// Loss: `squared` (regression) or `logistic` (binary classification, labels 0/1 or
    /// -1/1); one for all tasks or a comma-separated list, one per task in task order.
    #[arg(long, value_delimiter = ',', default_value = "squared")]
    pub loss: Vec<LossArg>,
    /// Weight of each task's loss: task-mean (1/n_t; scikit-learn's objective for a shared X),
    /// all-samples (1/N over all tasks' samples) or sum (1; MALSAR's).
    #[arg(long, value_enum, default_value_t = ScalingArg::TaskMean)]
    pub scaling: ScalingArg,
    /// One weight per sample (.npy, or a one-column .csv); rescaled to sum to n_samples as in
    /// scikit-learn, so integer weights equal repeated rows.
    #[arg(long)]
    pub sample_weight: Option<PathBuf>,
}

/// `mtlkit fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Estimator and data.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Regularization strength (>= 0) of --estimator (not used with --penalty).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// Structural regularizers instead of --estimator: parts joined by '+', each KIND=ALPHA (or
    /// KIND=ALPHA:GAMMA for block-mcp / block-scad, task-lasso=ALPHA:W1:W2:... for a Lasso with
    /// one weight per task); W is the sum of the parts. KIND: lasso, task-lasso, l1-inf, l21,
    /// column-l21, trace-norm, ridge, shared-mean, block-mcp, block-scad. E.g.
    /// `trace-norm=100`, `l1-inf=0.1+lasso=0.05` (dirty model), `shared-mean=0.1+ridge=1`
    /// (mean regularization), `l21=0.1+column-l21=0.2` (rMTFL). Alternating models, alone:
    /// `mtrl=LAMBDA1:LAMBDA2` (learned task covariance), `feature-learning=GAMMA`,
    /// `clustered=RHO1:RHO2:K` (clustered MTL, K clusters), `go-mtl=K:MU:LAMBDA` (latent basis
    /// of size K, sparse codes).
    #[arg(long)]
    pub penalty: Option<String>,
    /// With --penalty: a task graph (SRMTL), comma-separated edges `S-T` of task indices; adds
    /// --graph-alpha * ||W R||^2 with one column e_S - e_T of R per edge.
    #[arg(long, value_delimiter = ',')]
    pub graph_edges: Option<Vec<String>>,
    /// Weight of the graph term.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub graph_alpha: f64,
    /// Where to write the model (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The alpha grid of `path` and `cv`.
#[derive(Debug, Args)]
pub struct GridArgs {
    /// Number of alphas, from alpha_max down to eps * alpha_max (log-spaced).
    #[arg(long, default_value_t = 100, conflicts_with = "alphas")]
    pub n_alphas: usize,
    /// alpha_min / alpha_max.
    #[arg(
        long,
        default_value_t = 1e-3,
        allow_negative_numbers = true,
        conflicts_with = "alphas"
    )]
    pub eps: f64,
    /// Explicit alphas (comma-separated) instead of the grid.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub alphas: Option<Vec<f64>>,
    /// Write figures (SVG and PNG) into this folder.
    #[arg(long)]
    pub figures: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mtlkit path`.
#[derive(Debug, Args)]
pub struct PathArgs {
    /// Estimator and data.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The grid.
    #[command(flatten)]
    pub grid: GridArgs,
}

/// `mtlkit cv`.
#[derive(Debug, Args)]
pub struct CvArgs {
    /// Estimator and data.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The grid.
    #[command(flatten)]
    pub grid: GridArgs,
    /// l1_ratios to search (elastic net; comma-separated). Default: --l1-ratio, or 0.5.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub l1_ratios: Option<Vec<f64>>,
    /// Number of folds (split within each task).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Shuffle the samples with this seed before splitting (default: in order, as scikit-learn).
    #[arg(long)]
    pub shuffle_seed: Option<u64>,
    /// Choose the largest alpha within one standard error of the best score.
    #[arg(long)]
    pub one_se: bool,
    /// Threads for the fold paths (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    pub n_jobs: usize,
    /// Where to write the refitted model (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// `mtlkit predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model written by `mtlkit fit`.
    pub model: PathBuf,
    /// Inputs, .npy (n x n_features) or .csv whose header names the model's features; every
    /// task is predicted for every row.
    #[arg(long)]
    pub x: Option<PathBuf>,
    /// Long format: a CSV with a task column (--task-col) and the model's features; each row is
    /// predicted for its own task. Other columns are ignored.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Long format: the column of --data naming each row's task.
    #[arg(long)]
    pub task_col: Option<String>,
    /// Where to write predictions (.npy, or .csv with task names as header; long format: a CSV
    /// with the task, the prediction and, for classification tasks, P(y = 1)).
    #[arg(long)]
    pub out: PathBuf,
}

/// `mtlkit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A model written by `mtlkit fit`.
    pub model: PathBuf,
    /// Where to write the .npz (coef, intercept, dual_gap, n_iter).
    #[arg(long)]
    pub out: PathBuf,
}

/// `mtlkit demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Regularization as a fraction of alpha_max of the multi-task problem (0, 1].
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub alpha_ratio: f64,
    /// Fraction of each task's samples held out for testing (0, 1).
    #[arg(long, default_value_t = 0.25, allow_negative_numbers = true)]
    pub test_size: f64,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
