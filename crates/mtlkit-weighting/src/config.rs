//! [`Method`]: the serde-friendly choice of a method and its hyperparameters.

use serde::{Deserialize, Serialize};

use crate::Weighting;
use crate::error::{Result, WeightingError};
use crate::methods::*;

/// A weighting method and its config, as written in a training config.
///
/// Internally tagged by `"method"` (kebab-case names); omitted fields take their defaults:
///
/// ```
/// use mtlkit_weighting::Method;
/// let m: Method = serde_json::from_str(r#"{"method": "cagrad", "c": 0.4}"#)?;
/// let w = m.build(3, 0)?;
/// assert_eq!(w.name(), "cagrad");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method")]
pub enum Method {
    /// [`Mean`]: weights `1/k`.
    #[serde(rename = "mean")]
    Mean(MeanConfig),
    /// [`Sum`]: weights 1 (also accepted as `"equal"` / `"ew"`).
    #[serde(rename = "sum", alias = "equal", alias = "ew")]
    Sum(SumConfig),
    /// [`Fixed`]: user weights.
    #[serde(rename = "fixed")]
    Fixed(FixedConfig),
    /// [`LogSum`]: `Σ log L_t`.
    #[serde(rename = "log-sum")]
    LogSum(LogSumConfig),
    /// [`Uncertainty`]: uncertainty weighting.
    #[serde(rename = "uncertainty")]
    Uncertainty(UncertaintyConfig),
    /// [`Dwa`]: dynamic weight average.
    #[serde(rename = "dwa")]
    Dwa(DwaConfig),
    /// [`Gls`]: geometric mean of the losses.
    #[serde(rename = "gls")]
    Gls(GlsConfig),
    /// [`Rlw`]: random loss weights.
    #[serde(rename = "rlw")]
    Rlw(RlwConfig),
    /// [`Stch`]: smooth Tchebycheff.
    #[serde(rename = "stch")]
    Stch(StchConfig),
    /// [`Famo`]: fast adaptive multitask optimization.
    #[serde(rename = "famo")]
    Famo(FamoConfig),
    /// [`ImtlL`]: IMTL's loss balancing.
    #[serde(rename = "imtl-l")]
    ImtlL(ImtlLConfig),
    /// [`Mgda`]: min-norm point.
    #[serde(rename = "mgda")]
    Mgda(MgdaConfig),
    /// [`PcGrad`]: gradient surgery.
    #[serde(rename = "pcgrad")]
    PcGrad(PcGradConfig),
    /// [`GradVac`]: gradient vaccine.
    #[serde(rename = "gradvac")]
    GradVac(GradVacConfig),
    /// [`ImtlG`]: IMTL's gradient balancing.
    #[serde(rename = "imtl-g")]
    ImtlG(ImtlGConfig),
    /// [`CaGrad`]: conflict-averse gradient descent.
    #[serde(rename = "cagrad")]
    CaGrad(CaGradConfig),
    /// [`NashMtl`]: Nash bargaining.
    #[serde(rename = "nash-mtl")]
    NashMtl(NashMtlConfig),
    /// [`AlignedMtl`]: aligned principal components.
    #[serde(rename = "aligned-mtl")]
    AlignedMtl(AlignedMtlConfig),
    /// [`UpGrad`]: unconflicting projections.
    #[serde(rename = "upgrad")]
    UpGrad(UpGradConfig),
    /// [`DualProj`]: mean projected onto the dual cone.
    #[serde(rename = "dualproj")]
    DualProj(DualProjConfig),
    /// [`FairGrad`]: α-fair allocation.
    #[serde(rename = "fairgrad")]
    FairGrad(FairGradConfig),
    /// [`ExcessMtl`]: excess-risk weighting.
    #[serde(rename = "excess-mtl")]
    ExcessMtl(ExcessMtlConfig),
    /// [`GradNorm`]: gradient normalization.
    #[serde(rename = "gradnorm")]
    GradNorm(GradNormConfig),
    /// [`DbMtl`]: dual balancing.
    #[serde(rename = "db-mtl")]
    DbMtl(DbMtlConfig),
    /// [`MoCo`]: bias-corrected MGDA.
    #[serde(rename = "moco")]
    MoCo(MoCoConfig),
    /// [`GradDrop`]: gradient sign dropout.
    #[serde(rename = "graddrop")]
    GradDrop(GradDropConfig),
}

impl Method {
    /// Every method with its default config (for tests, listings and sweeps). `Fixed` gets
    /// the weights `[1.0; num_tasks]`.
    pub fn all_defaults(num_tasks: usize) -> Vec<Method> {
        vec![
            Method::Mean(MeanConfig::default()),
            Method::Sum(SumConfig::default()),
            Method::Fixed(FixedConfig {
                weights: vec![1.0; num_tasks],
            }),
            Method::LogSum(LogSumConfig::default()),
            Method::Uncertainty(UncertaintyConfig::default()),
            Method::Dwa(DwaConfig::default()),
            Method::Gls(GlsConfig::default()),
            Method::Rlw(RlwConfig::default()),
            Method::Stch(StchConfig::default()),
            Method::Famo(FamoConfig::default()),
            Method::ImtlL(ImtlLConfig::default()),
            Method::Mgda(MgdaConfig::default()),
            Method::PcGrad(PcGradConfig::default()),
            Method::GradVac(GradVacConfig::default()),
            Method::ImtlG(ImtlGConfig::default()),
            Method::CaGrad(CaGradConfig::default()),
            Method::NashMtl(NashMtlConfig::default()),
            Method::AlignedMtl(AlignedMtlConfig::default()),
            Method::UpGrad(UpGradConfig::default()),
            Method::DualProj(DualProjConfig::default()),
            Method::FairGrad(FairGradConfig::default()),
            Method::ExcessMtl(ExcessMtlConfig::default()),
            Method::GradNorm(GradNormConfig::default()),
            Method::DbMtl(DbMtlConfig::default()),
            Method::MoCo(MoCoConfig::default()),
            Method::GradDrop(GradDropConfig::default()),
        ]
    }

    /// Builds the method for `num_tasks ≥ 1` tasks; `seed` drives the random methods (RLW,
    /// PCGrad, GradVac, GradDrop). Invalid hyperparameters are errors.
    pub fn build(&self, num_tasks: usize, seed: u64) -> Result<Box<dyn Weighting>> {
        if num_tasks == 0 {
            return Err(WeightingError::InvalidParameter {
                name: "num_tasks",
                value: "0".into(),
                reason: "must be >= 1",
            });
        }
        let n = num_tasks;
        Ok(match self.clone() {
            Method::Mean(_) => Box::new(Mean::new(n)),
            Method::Sum(_) => Box::new(Sum::new(n)),
            Method::Fixed(c) => Box::new(Fixed::new(n, c)?),
            Method::LogSum(c) => Box::new(LogSum::new(n, c)?),
            Method::Uncertainty(c) => Box::new(Uncertainty::new(n, c)?),
            Method::Dwa(c) => Box::new(Dwa::new(n, c)?),
            Method::Gls(_) => Box::new(Gls::new(n)),
            Method::Rlw(c) => Box::new(Rlw::new(n, c, seed)),
            Method::Stch(c) => Box::new(Stch::new(n, c)?),
            Method::Famo(c) => Box::new(Famo::new(n, c)?),
            Method::ImtlL(c) => Box::new(ImtlL::new(n, c)?),
            Method::Mgda(c) => Box::new(Mgda::new(n, c)?),
            Method::PcGrad(_) => Box::new(PcGrad::new(n, seed)),
            Method::GradVac(c) => Box::new(GradVac::new(n, c, seed)?),
            Method::ImtlG(c) => Box::new(ImtlG::new(n, c)?),
            Method::CaGrad(c) => Box::new(CaGrad::new(n, c)?),
            Method::NashMtl(c) => Box::new(NashMtl::new(n, c)?),
            Method::AlignedMtl(c) => Box::new(AlignedMtl::new(n, c)?),
            Method::UpGrad(c) => Box::new(UpGrad::new(n, c)?),
            Method::DualProj(c) => Box::new(DualProj::new(n, c)?),
            Method::FairGrad(c) => Box::new(FairGrad::new(n, c)?),
            Method::ExcessMtl(c) => Box::new(ExcessMtl::new(n, c)?),
            Method::GradNorm(c) => Box::new(GradNorm::new(n, c)?),
            Method::DbMtl(c) => Box::new(DbMtl::new(n, c)?),
            Method::MoCo(c) => Box::new(MoCo::new(n, c)?),
            Method::GradDrop(c) => Box::new(GradDrop::new(n, c, seed)?),
        })
    }
}
