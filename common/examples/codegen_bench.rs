//! Generates N distinct codes of length L over the look-alike-free alphabet,
//! in-process, the way `POST /coupon` draws and de-duplicates them: the Rust side of
//! `scripts/bench-codegen.sh`.   usage: codegen_bench COUNT LENGTH

use std::time::Instant;

use common::code::{CouponCode, FingerprintSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().ok_or("COUNT missing")?.parse()?;
    let length: usize = args.next().ok_or("LENGTH missing")?.parse()?;
    let started = Instant::now();
    let mut seen = FingerprintSet::with_capacity_and_hasher(count, Default::default());
    let mut codes = Vec::with_capacity(count);
    while codes.len() < count {
        let (code, fingerprint) = CouponCode::generate_with_fingerprint(length);
        if seen.insert(fingerprint) {
            codes.push(code);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{elapsed:.3}");
    eprintln!(
        "rust: {} distinct codes of length {length} in {elapsed:.3} s",
        codes.len()
    );
    Ok(())
}
