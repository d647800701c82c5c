//! The methods. Each has a typed config (serde, defaults of the paper or of its reference
//! implementation) and implements [`crate::Weighting`]. Build them directly or through
//! [`crate::Method::build`].

mod gramian;
mod jacobian;
mod loss;

pub use gramian::{
    AlignedMtl, AlignedMtlConfig, CaGrad, CaGradConfig, CaGradRescale, DualProj, DualProjConfig,
    FairGrad, FairGradConfig, GradNorm, GradNormConfig, GradVac, GradVacConfig, ImtlG, ImtlGConfig,
    Mgda, MgdaConfig, MgdaNormalization, MgdaSolver, NashMtl, NashMtlConfig, PcGrad, PcGradConfig,
    UpGrad, UpGradConfig, aligned_mtl_balance, pcgrad_projections,
};
pub use jacobian::{
    DbMtl, DbMtlConfig, ExcessMtl, ExcessMtlConfig, GradDrop, GradDropConfig, MoCo, MoCoConfig,
};
pub use loss::{
    Dwa, DwaConfig, Famo, FamoConfig, Fixed, FixedConfig, Gls, GlsConfig, ImtlL, ImtlLConfig,
    LogSum, LogSumConfig, Mean, MeanConfig, Rlw, RlwConfig, RlwDistribution, Stch, StchConfig, Sum,
    SumConfig, Uncertainty, UncertaintyConfig,
};
