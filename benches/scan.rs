//! Criterion benchmarks on a fixed synthetic corpus (generated here, deterministic).
//!
//! * `normalize/*`: the normaliser on ASCII, Latin-1-heavy and Danish upper-case text;
//! * `scan_engine/*`: the matcher with a fixed test lexicon, finding count asserted exactly;
//! * `scan_builtin/*`: end to end per note with the built-in lexicons (count asserted against
//!   the count of an untimed first pass), on 1 and 2 threads over the whole corpus.
//!
//! Run: `cargo bench --bench scan`. Figures go to BENCHMARKS.md.

use std::hint::black_box;

use art9::{LexiconSet, NormalizedText, Scanner, ScannerBuilder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

/// A small deterministic PRNG (xorshift) so the corpus is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const PLAIN: &[&str] = &[
    "Klant belde over de levering van de keuken, monteur komt dinsdag om 9:00.",
    "Factuur 2024-117 is betaald, geen verdere actie nodig.",
    "Kunden ringede om faktura 4471 og betaler på fredag.",
    "Levering til adressen aftalt, nøglen ligger hos naboen.",
    "Customer asked about the spring promotion; sent the flyer by e-mail.",
    "Quote for 12 chairs sent, expecting approval next week.",
    "Offerte voor 40 stoelen verstuurd naar de Kerkstraat-vestiging.",
    "Drej til venstre ved porten, varer afleveres ved rampen.",
    "Labour costs for the installation are included in the quote.",
    "Mw. Ødegård ønsker en ny aftale om året — ring efter kl. 14.",
    "Café Zeeuws Meisje wil een offerte voor 3 koelkasten (€ 4.200).",
];

/// Sensitive sentences for the engine lexicon: each holds exactly one finding.
const SENSITIVE_ENGINE: &[&str] = &[
    "Mw. is kankerpatiënt, afspraken flexibel plannen.",
    "Hr. Holm har tarmkræft og ønsker udskudt betaling.",
    "Dhr. ligt sinds vorige week in het ziekenhuis.",
    "Zij is suikerpatiënt en wil bezorging aan huis.",
    "Sinds zijn CVA loopt hij slecht.",
];

fn corpus(notes: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..notes)
        .map(|i| {
            let n = 1 + (rng.next() % 4) as usize;
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(rng.pick(PLAIN));
                s.push(' ');
            }
            if i % 10 == 0 {
                s.push_str(rng.pick(SENSITIVE_ENGINE));
            }
            s
        })
        .collect()
}

fn engine_scanner() -> Scanner {
    let mut set = LexiconSet::new();
    set.add_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/lexicons/engine-health.yaml"
    )))
    .expect("engine lexicon");
    ScannerBuilder::new()
        .lexicons(set)
        .build()
        .expect("scanner")
}

fn bench_normalize(c: &mut Criterion) {
    let ascii = "Customer asked about the spring promotion; sent the flyer by e-mail. ".repeat(20);
    let latin = "Mw. Ødegård ønsker één afspraak; café crème, naïve patiënt, Ærø. ".repeat(20);
    let caps = "KUNDEN HAR TARMKRÆFT OG ER SYGEMELDT PÅ ÅRHUS SYGEHUS. ".repeat(20);
    let mut g = c.benchmark_group("normalize");
    for (name, text) in [
        ("ascii", &ascii),
        ("latin1_heavy", &latin),
        ("danish_caps", &caps),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        let mut buf = NormalizedText::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.normalize(black_box(text));
                assert!(!buf.as_str().is_empty());
            })
        });
    }
    g.finish();
}

fn bench_engine(c: &mut Criterion) {
    let scanner = engine_scanner();
    let notes = corpus(2_000, 7);
    let bytes: usize = notes.iter().map(String::len).sum();
    let expected = notes.len() / 10;
    let mut g = c.benchmark_group("scan_engine");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("2000_notes", |b| {
        b.iter(|| {
            let n: usize = notes.iter().map(|t| scanner.scan(black_box(t)).len()).sum();
            assert_eq!(n, expected);
        })
    });
    g.finish();
}

fn bench_builtin(c: &mut Criterion) {
    let scanner = Scanner::builtin().expect("built-in lexicons");
    let notes = corpus(5_000, 11);
    let bytes: usize = notes.iter().map(String::len).sum();
    let expected: usize = notes.iter().map(|t| scanner.scan(t).len()).sum();
    assert!(
        expected >= notes.len() / 10,
        "built-in lexicons found only {expected}"
    );
    let mut g = c.benchmark_group("scan_builtin");
    g.throughput(Throughput::Bytes(bytes as u64));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| {
                let n: usize = pool.install(|| {
                    notes
                        .par_iter()
                        .with_min_len(64)
                        .map(|t| scanner.scan(black_box(t)).len())
                        .sum()
                });
                assert_eq!(n, expected);
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.bench_function("builtin_lexicons", |b| {
        b.iter(|| {
            let s = Scanner::builtin().expect("scanner");
            assert!(s.pattern_count() > 1000);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_normalize, bench_engine, bench_builtin);
criterion_main!(benches);
