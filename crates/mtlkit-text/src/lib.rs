//! Token-level multi-task learning on text, on burn.
//!
//! * [`conllu`]: a CoNLL-U reader and writer (every line kept: a well-formed file round-trips
//!   exactly; malformed lines are rejected with their line number);
//! * [`iob2`]: IOB2 named-entity files joined to treebank sentences by `sent_id`, entity spans;
//! * [`data`]: tasks, vocabularies, encoded sentences with per-task label masks, padded batches;
//! * [`model`]: a shared BiLSTM sentence encoder over word and character-affix embeddings, with
//!   a linear head per tagging task and a bilinear head-selection scorer for parsing;
//! * [`train`]: the training loop (loss-level weighting from `mtlkit-weighting`, validation-only
//!   model selection), predictions and metrics (accuracy, UAS, LAS, entity F1);
//! * [`experiment`]: configurations, the data protocol, multi-task vs single-task runs over
//!   seeds, and the report.

pub mod conllu;
pub mod data;
pub mod error;
pub mod experiment;
pub mod iob2;
pub mod model;
pub mod train;

pub use data::Task;
pub use error::{Result, TextError};
pub use experiment::{TextConfig, TextReport, run_text_experiment};
