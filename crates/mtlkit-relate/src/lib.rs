//! # mtlkit-relate
//!
//! Which tasks should be learned together, and which are hurt by it? This crate answers on the
//! user's own data:
//!
//! - [`affinity`]: task affinity matrices ([`TaskAffinity`], a JSON exchange format also used
//!   by the deep models' gradient affinities) from fitted linear models: cosine or correlation
//!   of task weight vectors, MTRL's learned task covariance, clustered MTL's cluster matrix,
//!   GO-MTL's basis usage.
//! - [`grouping`]: task groups from **any** symmetric affinity: average-linkage hierarchical
//!   clustering, or an exact search over partitions (TAG's objective) for small `T`; the
//!   adjusted Rand index to compare groupings.
//! - [`report`]: the negative-transfer report: per task, held-out R² of single-task, pooled
//!   and grouped models under K-fold CV within tasks, the paired gain ± its standard error,
//!   and the tasks multi-task learning hurts.
//! - [`synthetic`]: planted task groups with an adversarial task, to check all of the above.
//!
//! ```
//! use mtlkit_relate::grouping::{adjusted_rand_index, group_tasks, GroupingMethod};
//! use mtlkit_relate::report::{fit_affinity, ReportParams};
//! use mtlkit_relate::synthetic::{planted_groups, PlantedGroups};
//!
//! let (data, _w, planted) = planted_groups(&PlantedGroups::default(), 1)?;
//! let affinity = fit_affinity(&data, &ReportParams::default())?; // cosine of ridge weights
//! let groups = group_tasks(&affinity, 4, GroupingMethod::Hierarchical)?;
//! assert!(adjusted_rand_index(&groups.labels, &planted)? > 0.9);
//! # Ok::<(), mtlkit_relate::RelateError>(())
//! ```

pub mod affinity;
mod error;
pub mod grouping;
pub mod report;
pub mod synthetic;

pub use affinity::TaskAffinity;
pub use error::{RelateError, Result};
pub use grouping::{GroupingMethod, TaskGrouping, adjusted_rand_index, group_tasks};
pub use report::{AffinityMethod, ModelFamily, Report, ReportParams, negative_transfer_report};
