//! Tasks, vocabularies, encoded sentences and padded batches.
//!
//! Every sentence is encoded with an artificial ROOT token at position 0 (the head of the
//! sentence's root word), so a sentence of `n` words has `n + 1` positions. Each task has one
//! label per position, `-1` where there is none (ROOT, padding, or a sentence without that
//! task's annotation): those positions are masked out of the loss and the metrics.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::conllu::Sentence;

/// A token-level task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Universal part-of-speech tag.
    Upos,
    /// Language-specific part-of-speech tag.
    Xpos,
    /// Dependency relation (with subtypes) of each word to its head.
    Deprel,
    /// Head selection (dependency parsing): which word, or ROOT, is each word's head.
    Head,
    /// Named-entity IOB2 tag (Universal NER), where the sentence has one.
    Ner,
}

impl Task {
    /// Every task.
    pub const ALL: [Task; 5] = [Task::Upos, Task::Xpos, Task::Deprel, Task::Head, Task::Ner];

    /// Its name in configurations and reports.
    pub fn name(self) -> &'static str {
        match self {
            Task::Upos => "upos",
            Task::Xpos => "xpos",
            Task::Deprel => "deprel",
            Task::Head => "head",
            Task::Ner => "ner",
        }
    }

    /// The metric reported for the task: token accuracy, unlabelled attachment score, or
    /// entity-level F1.
    pub fn metric(self) -> &'static str {
        match self {
            Task::Head => "uas",
            Task::Ner => "f1",
            _ => "acc",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown task '{s}' (expected upos, xpos, deprel, head, ner)"))
    }
}

/// Padding id (words, affixes and tags).
pub const PAD: u32 = 0;
/// Unknown id (words, affixes and tags).
pub const UNK: u32 = 1;
/// The ROOT token's word id.
pub const ROOT: u32 = 2;
/// Character features per word: prefixes of 1–3 characters, suffixes of 1–4, a word shape.
pub const N_AFFIX: usize = 8;

/// A string ↔ id table with reserved ids below `reserved` (deserialised with its lookup index
/// rebuilt: a table read back maps strings to the ids it was saved with).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "TableNames")]
pub struct Table {
    /// The strings, by id (reserved ids hold placeholder names).
    pub names: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// The serialised form of a [`Table`]: its names by id.
#[derive(Deserialize)]
struct TableNames {
    names: Vec<String>,
}

impl From<TableNames> for Table {
    fn from(t: TableNames) -> Self {
        Self {
            index: index_of(&t.names),
            names: t.names,
        }
    }
}

/// The lookup of a table's names: each name to its id.
fn index_of(names: &[String]) -> HashMap<String, u32> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            #[allow(clippy::cast_possible_truncation)]
            (n.clone(), i as u32)
        })
        .collect()
}

impl Table {
    fn new(reserved: &[&str]) -> Self {
        let mut t = Self::default();
        for r in reserved {
            t.add(r);
        }
        t
    }
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        #[allow(clippy::cast_possible_truncation)]
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
    /// The id of `s` (`UNK` when absent).
    pub fn id(&self, s: &str) -> u32 {
        self.index.get(s).copied().unwrap_or(UNK)
    }
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The word shape of a form: runs of upper-case (`X`), lower-case (`x`), digit (`d`) and other
/// (the character itself) collapsed, at most 4 runs.
fn shape(form: &str) -> String {
    let mut s = String::new();
    let mut last = None;
    for c in form.chars() {
        let k = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if last != Some(k) {
            s.push(k);
            last = Some(k);
            if s.chars().count() >= 4 {
                break;
            }
        }
    }
    s
}

/// The character features of a word form (see [`N_AFFIX`]).
pub fn affixes(form: &str) -> [String; N_AFFIX] {
    let lower = form.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    let pre = |k: usize| -> String { chars[..k.min(n)].iter().collect() };
    let suf = |k: usize| -> String { chars[n - k.min(n)..].iter().collect() };
    [
        format!("p1:{}", pre(1)),
        format!("p2:{}", pre(2)),
        format!("p3:{}", pre(3)),
        format!("s1:{}", suf(1)),
        format!("s2:{}", suf(2)),
        format!("s3:{}", suf(3)),
        format!("s4:{}", suf(4)),
        format!("h:{}", shape(form)),
    ]
}

/// A training sentence's raw material: the treebank sentence, its NER tags (if any), and which
/// tasks' labels may be used.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    /// The sentence.
    pub sentence: &'a Sentence,
    /// Its NER tags, when annotated.
    pub ner: Option<&'a [String]>,
    /// Per task (in [`Task::ALL`] order): whether its labels are used.
    pub use_task: [bool; 5],
}

/// Word, character-feature and label vocabularies, built on the training sentences.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Vocab {
    /// Lower-cased word forms seen at least `min_count` times.
    pub words: Table,
    /// Character features.
    pub affixes: Table,
    /// Labels per task in [`Task::ALL`] order (`head` has none: its labels are positions).
    pub labels: Vec<Table>,
}

impl Vocab {
    /// Build from training sources; a task's labels come only from sources that use it.
    pub fn build(train: &[Source<'_>], min_count: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut affixes = Table::new(&["<pad>", "<unk>"]);
        let mut labels: Vec<Table> = (0..5).map(|_| Table::new(&["<pad>", "<unk>"])).collect();
        for s in train {
            for w in s.sentence.words() {
                *counts.entry(w.form.to_lowercase()).or_default() += 1;
                for a in affixes_of(&w.form) {
                    affixes.add(&a);
                }
                let u = &s.use_task;
                if u[0] {
                    labels[0].add(&w.upos);
                }
                if u[1] {
                    labels[1].add(&w.xpos);
                }
                if u[2] {
                    labels[2].add(&w.deprel);
                }
            }
            if let (Some(tags), true) = (s.ner, s.use_task[4]) {
                for t in tags {
                    labels[4].add(t);
                }
            }
        }
        let mut words = Table::new(&["<pad>", "<unk>", "<root>"]);
        let mut sorted: Vec<(&String, &usize)> =
            counts.iter().filter(|(_, c)| **c >= min_count).collect();
        sorted.sort();
        for (w, _) in sorted {
            words.add(w);
        }
        Self {
            words,
            affixes,
            labels,
        }
    }

    /// Rebuild the lookup indices (after deserialisation).
    pub fn reindex(&mut self) {
        for t in std::iter::once(&mut self.words)
            .chain(std::iter::once(&mut self.affixes))
            .chain(self.labels.iter_mut())
        {
            t.index = index_of(&t.names);
        }
    }

    /// Number of classes of a tagging task.
    pub fn classes(&self, t: Task) -> usize {
        self.labels[t as usize].len()
    }

    /// Encode a sentence (labels of the unused tasks are `-1`).
    pub fn encode(&self, s: &Source<'_>) -> Encoded {
        let n = s.sentence.len() + 1;
        let mut words = Vec::with_capacity(n);
        let mut affix = Vec::with_capacity(n * N_AFFIX);
        let mut labels = vec![vec![-1i64; n]; 5];
        words.push(ROOT);
        affix.extend([PAD; N_AFFIX]);
        for (k, w) in s.sentence.words().enumerate() {
            let p = k + 1;
            words.push(self.words.id(&w.form.to_lowercase()));
            affix.extend(affixes_of(&w.form).iter().map(|a| self.affixes.id(a)));
            if s.use_task[0] {
                labels[0][p] = i64::from(self.labels[0].id(&w.upos));
            }
            if s.use_task[1] {
                labels[1][p] = i64::from(self.labels[1].id(&w.xpos));
            }
            if s.use_task[2] {
                labels[2][p] = i64::from(self.labels[2].id(&w.deprel));
            }
            if s.use_task[3]
                && let Some(h) = w.head
            {
                #[allow(clippy::cast_possible_wrap)]
                {
                    labels[3][p] = h as i64;
                }
            }
        }
        if let (Some(tags), true) = (s.ner, s.use_task[4]) {
            for (k, t) in tags.iter().enumerate().take(n - 1) {
                labels[4][k + 1] = i64::from(self.labels[4].id(t));
            }
        }
        Encoded {
            words,
            affix,
            labels,
        }
    }
}

fn affixes_of(form: &str) -> [String; N_AFFIX] {
    affixes(form)
}

/// An encoded sentence (position 0 is ROOT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Word ids.
    pub words: Vec<u32>,
    /// Character-feature ids, [`N_AFFIX`] per position.
    pub affix: Vec<u32>,
    /// Per task in [`Task::ALL`] order, one label per position (`-1`: none).
    pub labels: Vec<Vec<i64>>,
}

impl Encoded {
    /// Number of positions (words + ROOT).
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// Whether it has no position.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    /// Whether task `t` has at least one label.
    pub fn has(&self, t: Task) -> bool {
        self.labels[t as usize].iter().any(|&l| l >= 0)
    }
}

/// A padded batch as tensors.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Word ids `[B, T]`.
    pub words: Tensor<2, Int>,
    /// Character-feature ids `[B, T·N_AFFIX]`.
    pub affix: Tensor<2, Int>,
    /// 1 on real positions (ROOT included), 0 on padding: `[B, T]`.
    pub mask: Tensor<2>,
    /// Row index of each position in the sentence-wise reversed sequence (`[B·T]`, into the
    /// flattened `[B·T, ·]` states): reverses each sentence's real positions, keeps padding.
    pub reverse: Tensor<1, Int>,
    /// Per task in [`Task::ALL`] order: labels `[B, T]` (0 where masked), the label mask
    /// `[B, T]` and the number of labelled positions.
    pub labels: Vec<(Tensor<2, Int>, Tensor<2>, usize)>,
    /// Batch size and padded length.
    pub dims: [usize; 2],
    /// The raw labels (`-1` = none), per task, `[B·T]` row-major.
    pub raw: Vec<Vec<i64>>,
}

impl Batch {
    /// Pad `sents` into tensors on `device`. With `word_dropout > 0`, each word id is replaced
    /// by the unknown id with that probability (training only).
    pub fn new<R: Rng>(
        sents: &[&Encoded],
        device: &Device,
        word_dropout: f64,
        rng: &mut R,
    ) -> Self {
        let b = sents.len();
        let t = sents.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
        let mut words = vec![0i64; b * t];
        let mut affix = vec![0i64; b * t * N_AFFIX];
        let mut mask = vec![0f32; b * t];
        let mut reverse = vec![0i64; b * t];
        let mut raw = vec![vec![-1i64; b * t]; 5];
        for (i, s) in sents.iter().enumerate() {
            let n = s.len();
            for p in 0..t {
                let r = i * t + p;
                #[allow(clippy::cast_possible_wrap)]
                {
                    reverse[r] = if p < n {
                        (i * t + n - 1 - p) as i64
                    } else {
                        r as i64
                    };
                }
                if p >= n {
                    continue;
                }
                mask[r] = 1.0;
                let mut w = s.words[p];
                if word_dropout > 0.0 && w > ROOT && rng.random::<f64>() < word_dropout {
                    w = UNK;
                }
                words[r] = i64::from(w);
                for k in 0..N_AFFIX {
                    affix[r * N_AFFIX + k] = i64::from(s.affix[p * N_AFFIX + k]);
                }
                for (task, lab) in raw.iter_mut().enumerate() {
                    lab[r] = s.labels[task][p];
                }
            }
        }
        let int2 =
            |v: Vec<i64>, c: usize| Tensor::<2, Int>::from_data(TensorData::new(v, [b, c]), device);
        let labels = raw
            .iter()
            .map(|lab| {
                let ids: Vec<i64> = lab.iter().map(|&l| l.max(0)).collect();
                let m: Vec<f32> = lab
                    .iter()
                    .map(|&l| if l >= 0 { 1.0 } else { 0.0 })
                    .collect();
                let count = lab.iter().filter(|&&l| l >= 0).count();
                (
                    int2(ids, t),
                    Tensor::<2>::from_data(TensorData::new(m, [b, t]), device),
                    count,
                )
            })
            .collect();
        Self {
            words: int2(words, t),
            affix: int2(affix, t * N_AFFIX),
            mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            reverse: Tensor::from_data(TensorData::new(reverse, [b * t]), device),
            labels,
            dims: [b, t],
            raw,
        }
    }
}

/// Training batches of one epoch: shuffled, then sorted by length within pools of 20 batches
/// (less padding), then the batches shuffled.
pub fn epoch_batches<R: Rng>(lengths: &[usize], batch_size: usize, rng: &mut R) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    idx.shuffle(rng);
    let mut batches = Vec::new();
    for pool in idx.chunks(batch_size * 20) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| lengths[i]);
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_batches() {
        assert_eq!(shape("McDonald's"), "XxXx");
        assert_eq!(shape("1999"), "d");
        let a = affixes("Going");
        assert_eq!(a[0], "p1:g");
        assert_eq!(a[6], "s4:oing");
        let doc = "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n\n1\tDogs\tdog\tNOUN\tNNS\t_\t0\troot\t_\t_\n\n";
        let s = crate::conllu::parse(doc.as_bytes(), "x").expect("parses");
        let src: Vec<Source<'_>> = s
            .iter()
            .map(|s| Source {
                sentence: s,
                ner: None,
                use_task: [true, true, true, true, false],
            })
            .collect();
        let v = Vocab::build(&src, 1);
        let e: Vec<Encoded> = src.iter().map(|s| v.encode(s)).collect();
        assert_eq!(e[0].len(), 3);
        assert_eq!(e[0].labels[3], [-1, 2, 0]);
        assert_eq!(e[0].labels[4], [-1, -1, -1]);
        assert!(!e[0].has(Task::Ner) && e[0].has(Task::Upos));
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let b = Batch::new(&[&e[0], &e[1]], &Device::flex(), 0.0, &mut rng);
        assert_eq!(b.dims, [2, 3]);
        let rev = b
            .reverse
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("ints");
        assert_eq!(rev, [2, 1, 0, 4, 3, 5]);
        assert_eq!(b.labels[0].2, 3);
        assert_eq!(b.raw[3], [-1, 2, 0, -1, 0, -1]);
    }

    use rand::SeedableRng;
}
