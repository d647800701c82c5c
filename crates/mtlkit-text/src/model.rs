//! The shared sentence encoder and the task heads, in burn.
//!
//! Encoder: a lower-cased word embedding concatenated with embeddings of the word's character
//! features (prefixes, suffixes, shape — see [`crate::data::affixes`]), dropout, then
//! `layers` bidirectional LSTM layers. The backward direction runs on each sentence reversed
//! within its own length, so padding never reaches a real position. Heads: one linear layer
//! per tagging task (UPOS, XPOS, DEPREL, NER) and, for `head`, a bilinear arc scorer (Dozat &
//! Manning 2017, simplified): `s(i, j) = dᵢᵀ W hⱼ + bᵀ hⱼ` over the candidate heads `j` of the
//! sentence (ROOT included, padding excluded).

use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig,
};
use burn::tensor::{Device, Int, Tensor, activation};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, N_AFFIX, Task, Vocab};
use crate::error::{Result, config_err};

/// Model sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Word embedding width (default 100).
    pub word_dim: usize,
    /// Width of each character-feature embedding (default 16; 8 features per word).
    pub affix_dim: usize,
    /// LSTM hidden width per direction (default 128).
    pub hidden: usize,
    /// BiLSTM layers (default 1).
    pub layers: usize,
    /// Dropout on the embeddings and every BiLSTM output (default 0.33).
    pub dropout: f64,
    /// Probability of replacing a known word by the unknown word while training (default 0.1).
    pub word_dropout: f64,
    /// Width of the arc scorer's dependent and head projections (default 128).
    pub arc_dim: usize,
    /// Words seen fewer times in training are unknown (default 2).
    pub min_word_count: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            word_dim: 100,
            affix_dim: 16,
            hidden: 128,
            layers: 1,
            dropout: 0.33,
            word_dropout: 0.1,
            arc_dim: 128,
            min_word_count: 2,
        }
    }
}

impl ModelConfig {
    /// Check the sizes.
    ///
    /// # Errors
    /// [`crate::TextError::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        for (n, v) in [
            ("word_dim", self.word_dim),
            ("affix_dim", self.affix_dim),
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("arc_dim", self.arc_dim),
            ("min_word_count", self.min_word_count),
        ] {
            if v == 0 {
                return Err(config_err(format!("model.{n} must be ≥ 1")));
            }
        }
        for (n, v) in [
            ("dropout", self.dropout),
            ("word_dropout", self.word_dropout),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(config_err(format!("model.{n} must be in [0, 1), got {v}")));
            }
        }
        Ok(())
    }
}

/// The shared encoder with one head per task.
#[derive(Module, Debug)]
pub struct TextModel {
    word: Embedding,
    affix: Embedding,
    fwd: Vec<Lstm>,
    bwd: Vec<Lstm>,
    dropout: Dropout,
    /// One linear head per tagging task, in the model's task order.
    taggers: Vec<Linear>,
    /// Arc scorer (empty without the `head` task): dependent and head projections, bilinear
    /// map, head bias.
    arc: Vec<Linear>,
}

impl TextModel {
    /// A model for `tasks` (their order is the order of [`TextModel::outputs`]).
    pub fn new(cfg: &ModelConfig, vocab: &Vocab, tasks: &[Task], device: &Device) -> Self {
        let d_in = cfg.word_dim + N_AFFIX * cfg.affix_dim;
        let mut fwd = Vec::new();
        let mut bwd = Vec::new();
        for l in 0..cfg.layers {
            let d = if l == 0 { d_in } else { 2 * cfg.hidden };
            fwd.push(LstmConfig::new(d, cfg.hidden, true).init(device));
            bwd.push(LstmConfig::new(d, cfg.hidden, true).init(device));
        }
        let h = 2 * cfg.hidden;
        let taggers = tasks
            .iter()
            .filter(|t| **t != Task::Head)
            .map(|t| LinearConfig::new(h, vocab.classes(*t)).init(device))
            .collect();
        let arc = if tasks.contains(&Task::Head) {
            vec![
                LinearConfig::new(h, cfg.arc_dim).init(device),
                LinearConfig::new(h, cfg.arc_dim).init(device),
                LinearConfig::new(cfg.arc_dim, cfg.arc_dim)
                    .with_bias(false)
                    .init(device),
                LinearConfig::new(cfg.arc_dim, 1).init(device),
            ]
        } else {
            Vec::new()
        };
        Self {
            word: EmbeddingConfig::new(vocab.words.len(), cfg.word_dim).init(device),
            affix: EmbeddingConfig::new(vocab.affixes.len(), cfg.affix_dim).init(device),
            fwd,
            bwd,
            dropout: DropoutConfig::new(cfg.dropout).init(),
            taggers,
            arc,
        }
    }

    /// Contextual token states `[B, T, 2·hidden]`.
    pub fn encode(&self, b: &Batch) -> Tensor<3> {
        let [bs, t] = b.dims;
        let w = self.word.forward(b.words.clone());
        let a = self.affix.forward(b.affix.clone());
        let [_, _, ad] = a.dims();
        let a = a.reshape([bs, t, N_AFFIX * ad]);
        let mut x = self.dropout.forward(Tensor::cat(vec![w, a], 2));
        let rev = |x: Tensor<3>| -> Tensor<3> {
            let [_, _, d] = x.dims();
            x.reshape([bs * t, d])
                .select(0, b.reverse.clone())
                .reshape([bs, t, d])
        };
        for (f, r) in self.fwd.iter().zip(&self.bwd) {
            let (hf, _) = f.forward(x.clone(), None);
            let (hr, _) = r.forward(rev(x), None);
            x = self.dropout.forward(Tensor::cat(vec![hf, rev(hr)], 2));
        }
        x
    }

    /// Per task of `tasks` (the model's, in order): scores `[B, T, classes]` for a tagging
    /// task, `[B, T, T]` (dependent × candidate head) for `head`.
    pub fn outputs(&self, b: &Batch, tasks: &[Task]) -> Vec<Tensor<3>> {
        let h = self.encode(b);
        let mut taggers = self.taggers.iter();
        tasks
            .iter()
            .map(|t| {
                if *t == Task::Head {
                    self.arcs(h.clone(), b)
                } else {
                    match taggers.next() {
                        Some(l) => l.forward(h.clone()),
                        None => h.clone(), // unreachable for a model built for `tasks`
                    }
                }
            })
            .collect()
    }

    fn arcs(&self, h: Tensor<3>, b: &Batch) -> Tensor<3> {
        let [dep, head, bil, bias] = [&self.arc[0], &self.arc[1], &self.arc[2], &self.arc[3]];
        let d = activation::relu(dep.forward(h.clone()));
        let hd = activation::relu(head.forward(h));
        let s = bil.forward(d).matmul(hd.clone().swap_dims(1, 2)); // [B, T, T]
        let hb = bias.forward(hd).swap_dims(1, 2); // [B, 1, T]
        // padding columns are never heads
        let pad = b
            .mask
            .clone()
            .sub_scalar(1.0)
            .mul_scalar(1e4)
            .unsqueeze_dim::<3>(1);
        s + hb + pad
    }
}

/// Masked cross-entropy of scores `[B, T, C]` against labels `[B, T]`: mean over the labelled
/// positions (a scalar).
pub fn masked_ce(
    scores: Tensor<3>,
    labels: Tensor<2, Int>,
    mask: Tensor<2>,
    count: usize,
) -> Tensor<1> {
    let [b, t, _] = scores.dims();
    let logp = activation::log_softmax(scores, 2);
    #[allow(clippy::cast_precision_loss)]
    let n = count.max(1) as f64;
    let nll = logp
        .gather(2, labels.unsqueeze_dim::<3>(2))
        .reshape([b, t])
        .neg();
    (nll * mask).sum().div_scalar(n)
}

/// The arg-max class of every position, `[B·T]` row-major.
pub fn argmax(scores: Tensor<3>) -> Vec<i64> {
    scores
        .argmax(2)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default()
}
