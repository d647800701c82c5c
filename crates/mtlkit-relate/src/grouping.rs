//! Choosing task groups from any affinity matrix (a **partition**: every task in exactly one
//! group), and comparing groupings.
//!
//! Both methods work on a symmetric affinity `A` ([`TaskAffinity::check_symmetric`]):
//!
//! - [`hierarchical`]: agglomerative clustering with **average linkage** on the distance
//!   `D_st = max_{u≠v} A_uv − A_st`, cut at `n_groups` clusters. Average linkage merges the two
//!   clusters with the smallest mean distance, i.e. (the shift being constant) the largest mean
//!   affinity between their tasks; ties go to the lowest cluster indices. `O(T³)`.
//! - [`exact`]: the partition into **at most** `n_groups` groups that maximises the total
//!   affinity onto each task from its group-mates, as TAG's network selection (Fifty et al.,
//!   2021) restricted to partitions:
//!   `score = Σ_t mean_{s ∈ G(t), s ≠ t} A_st`, a task alone scoring 0 ("no transfer", the
//!   neutral value of cosines, correlations and lookahead affinities). Every set partition is
//!   enumerated (restricted growth strings); the number of partitions `Σ_{j≤k} S(T, j)` must
//!   stay below [`EXACT_LIMIT`] (about T = 12 for any k), else [`RelateError::TooManyPartitions`].
//!
//! [`adjusted_rand_index`] compares two labelings (Hubert & Arabie, 1985).

use serde::{Deserialize, Serialize};

use crate::affinity::TaskAffinity;
use crate::{RelateError, Result};

/// The most partitions [`exact`] enumerates (Bell(12) ≈ 4.2 million fits).
pub const EXACT_LIMIT: f64 = 5.0e6;

/// How groups are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupingMethod {
    /// Average-linkage hierarchical clustering ([`hierarchical`]).
    Hierarchical,
    /// Exhaustive search over partitions ([`exact`]).
    Exact,
    /// [`exact`] when the number of partitions is within [`EXACT_LIMIT`], else
    /// [`hierarchical`].
    Auto,
}

impl GroupingMethod {
    /// The method's name (`hierarchical`, `exact`, `auto`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hierarchical => "hierarchical",
            Self::Exact => "exact",
            Self::Auto => "auto",
        }
    }
}

/// A partition of the tasks into groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskGrouping {
    /// The method that produced it (`hierarchical` or `exact`).
    pub method: String,
    /// Group of each task (`0..n_groups`, numbered by the first task of each group).
    pub labels: Vec<usize>,
    /// Task indices of each group, ascending.
    pub groups: Vec<Vec<usize>>,
    /// The exact search's objective `Σ_t mean_{s ∈ G(t), s≠t} A_st` of this partition.
    pub score: f64,
}

impl TaskGrouping {
    /// A grouping from labels (any integers; renumbered by first appearance), scored on `a`.
    ///
    /// # Errors
    /// [`RelateError::LabelsLength`] when `labels` and `a` disagree in size.
    pub fn from_labels(method: &str, labels: &[usize], a: &TaskAffinity) -> Result<Self> {
        if labels.len() != a.n_tasks() {
            return Err(RelateError::LabelsLength {
                a: labels.len(),
                b: a.n_tasks(),
            });
        }
        let labels = canonical(labels);
        let k = labels.iter().max().map_or(0, |m| m + 1);
        let mut groups = vec![Vec::new(); k];
        for (t, &g) in labels.iter().enumerate() {
            groups[g].push(t);
        }
        let score = partition_score(&a.to_array(), &labels, k);
        Ok(Self {
            method: method.to_string(),
            labels,
            groups,
            score,
        })
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// Task order with the groups contiguous (group by group, tasks ascending within).
    pub fn order(&self) -> Vec<usize> {
        self.groups.concat()
    }
}

/// Labels renumbered `0, 1, …` by first appearance.
fn canonical(labels: &[usize]) -> Vec<usize> {
    let mut seen: Vec<usize> = Vec::new();
    labels
        .iter()
        .map(|l| match seen.iter().position(|s| s == l) {
            Some(i) => i,
            None => {
                seen.push(*l);
                seen.len() - 1
            }
        })
        .collect()
}

fn check(a: &TaskAffinity, n_groups: usize) -> Result<()> {
    a.validate()?;
    a.check_symmetric()?;
    let nt = a.n_tasks();
    if n_groups == 0 || n_groups > nt {
        return Err(RelateError::InvalidGroups {
            n_groups,
            n_tasks: nt,
        });
    }
    Ok(())
}

/// Choose `n_groups` groups with `method` (see the module docs).
///
/// ```
/// use mtlkit_relate::{TaskAffinity, grouping::{group_tasks, GroupingMethod}};
/// use ndarray::array;
///
/// let a = array![[1.0, 0.9, 0.1, 0.0], [0.9, 1.0, 0.0, 0.1], [0.1, 0.0, 1.0, 0.8], [0.0, 0.1, 0.8, 1.0]];
/// let aff = TaskAffinity::new("example", vec!["a".into(), "b".into(), "c".into(), "d".into()], a.view())?;
/// let g = group_tasks(&aff, 2, GroupingMethod::Exact)?;
/// assert_eq!(g.labels, vec![0, 0, 1, 1]);
/// assert_eq!(group_tasks(&aff, 2, GroupingMethod::Hierarchical)?.labels, g.labels);
/// # Ok::<(), mtlkit_relate::RelateError>(())
/// ```
///
/// # Errors
/// An invalid or asymmetric affinity, `n_groups` outside `1..=T`, and (exact) too many
/// partitions.
pub fn group_tasks(
    a: &TaskAffinity,
    n_groups: usize,
    method: GroupingMethod,
) -> Result<TaskGrouping> {
    match method {
        GroupingMethod::Hierarchical => hierarchical(a, n_groups),
        GroupingMethod::Exact => exact(a, n_groups),
        GroupingMethod::Auto => {
            check(a, n_groups)?;
            if partition_count(a.n_tasks(), n_groups) <= EXACT_LIMIT {
                exact(a, n_groups)
            } else {
                hierarchical(a, n_groups)
            }
        }
    }
}

/// Average-linkage agglomerative clustering cut at `n_groups` clusters (module docs).
///
/// # Errors
/// An invalid or asymmetric affinity, `n_groups` outside `1..=T`.
pub fn hierarchical(a: &TaskAffinity, n_groups: usize) -> Result<TaskGrouping> {
    check(a, n_groups)?;
    let m = a.to_array();
    let nt = m.nrows();
    // clusters: members; sums[i][j] = Σ of affinities between clusters i and j
    let mut members: Vec<Vec<usize>> = (0..nt).map(|t| vec![t]).collect();
    let mut sums: Vec<Vec<f64>> = (0..nt)
        .map(|s| (0..nt).map(|t| m[[s, t]]).collect())
        .collect();
    let mut alive: Vec<bool> = vec![true; nt];
    let mut n_alive = nt;
    while n_alive > n_groups {
        let mut best: Option<(usize, usize, f64)> = None;
        for i in 0..nt {
            if !alive[i] {
                continue;
            }
            for j in (i + 1)..nt {
                if !alive[j] {
                    continue;
                }
                let avg = sums[i][j] / (members[i].len() * members[j].len()) as f64;
                if best.is_none_or(|(_, _, b)| avg > b) {
                    best = Some((i, j, avg));
                }
            }
        }
        let Some((i, j, _)) = best else { break };
        let moved = std::mem::take(&mut members[j]);
        members[i].extend(moved);
        alive[j] = false;
        n_alive -= 1;
        for k in 0..nt {
            if alive[k] && k != i {
                let v = sums[i][k] + sums[j][k];
                sums[i][k] = v;
                sums[k][i] = v;
            }
        }
    }
    let mut labels = vec![0usize; nt];
    for (c, mem) in members.iter().enumerate() {
        for &t in mem {
            labels[t] = c;
        }
    }
    TaskGrouping::from_labels("hierarchical", &labels, a)
}

/// `Σ_{j=1..k} S(n, j)` (Stirling numbers of the second kind), as `f64`.
pub fn partition_count(n: usize, k: usize) -> f64 {
    // s[j] = S(i, j) for the current i
    let mut s = vec![0.0f64; k + 1];
    s[0] = 1.0;
    for _ in 0..n {
        for j in (1..=k).rev() {
            s[j] = j as f64 * s[j] + s[j - 1];
        }
        s[0] = 0.0;
    }
    s[1..].iter().sum()
}

/// `Σ_t mean_{s ∈ G(t), s≠t} A_st`, a task alone scoring 0.
fn partition_score(m: &ndarray::Array2<f64>, labels: &[usize], k: usize) -> f64 {
    let nt = labels.len();
    let mut size = vec![0usize; k];
    for &g in labels {
        size[g] += 1;
    }
    let mut total = 0.0;
    for t in 0..nt {
        let g = labels[t];
        if size[g] < 2 {
            continue;
        }
        let mut sum = 0.0;
        for s in 0..nt {
            if s != t && labels[s] == g {
                sum += m[[s, t]];
            }
        }
        total += sum / (size[g] - 1) as f64;
    }
    total
}

/// The best partition into at most `n_groups` groups by exhaustive search (module docs); ties
/// go to the first partition in restricted-growth order (fewer, earlier groups).
///
/// # Errors
/// An invalid or asymmetric affinity, `n_groups` outside `1..=T`,
/// [`RelateError::TooManyPartitions`].
pub fn exact(a: &TaskAffinity, n_groups: usize) -> Result<TaskGrouping> {
    check(a, n_groups)?;
    let nt = a.n_tasks();
    let count = partition_count(nt, n_groups);
    if count > EXACT_LIMIT {
        return Err(RelateError::TooManyPartitions {
            n_tasks: nt,
            n_groups,
            count,
            limit: EXACT_LIMIT,
        });
    }
    let m = a.to_array();
    let mut labels = vec![0usize; nt];
    let mut best = (f64::NEG_INFINITY, labels.clone());
    // iterate restricted growth strings: labels[0] = 0, labels[i] <= max(labels[..i]) + 1
    fn rec(
        i: usize,
        used: usize,
        k: usize,
        labels: &mut Vec<usize>,
        m: &ndarray::Array2<f64>,
        best: &mut (f64, Vec<usize>),
    ) {
        if i == labels.len() {
            let s = partition_score(m, labels, used);
            if s > best.0 + 1e-12 {
                *best = (s, labels.clone());
            }
            return;
        }
        let top = if used < k { used + 1 } else { used };
        for g in 0..top {
            labels[i] = g;
            rec(i + 1, used.max(g + 1), k, labels, m, best);
        }
    }
    rec(1, 1, n_groups, &mut labels, &m, &mut best);
    TaskGrouping::from_labels("exact", &best.1, a)
}

/// Adjusted Rand index of two labelings of the same items (1 = identical partitions, about 0
/// for independent ones). Two single-cluster labelings, or two all-singleton labelings, give 1.
///
/// ```
/// use mtlkit_relate::grouping::adjusted_rand_index;
/// assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 2, 2])?, 1.0);
/// assert!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1])? < 0.0);
/// # Ok::<(), mtlkit_relate::RelateError>(())
/// ```
///
/// # Errors
/// [`RelateError::LabelsLength`] for labelings of different lengths.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(RelateError::LabelsLength {
            a: a.len(),
            b: b.len(),
        });
    }
    let (ca, cb) = (canonical(a), canonical(b));
    let (ka, kb) = (
        ca.iter().max().map_or(0, |m| m + 1),
        cb.iter().max().map_or(0, |m| m + 1),
    );
    let mut table = vec![vec![0usize; kb]; ka];
    for (&x, &y) in ca.iter().zip(&cb) {
        table[x][y] += 1;
    }
    let c2 = |n: usize| (n * n.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.iter().flatten().map(|&n| c2(n)).sum();
    let rows: f64 = table.iter().map(|r| c2(r.iter().sum())).sum();
    let cols: f64 = (0..kb).map(|j| c2(table.iter().map(|r| r[j]).sum())).sum();
    let total = c2(a.len());
    if total == 0.0 {
        return Ok(1.0);
    }
    let expected = rows * cols / total;
    let max = (rows + cols) / 2.0;
    if (max - expected).abs() < 1e-300 {
        return Ok(1.0);
    }
    Ok((index - expected) / (max - expected))
}
