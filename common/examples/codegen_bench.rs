//! Generates N distinct codes of length L over the look-alike-free alphabet,
//! in-process, with the service's own generators: the Rust side of
//! `scripts/bench-codegen.sh`.
//!
//! usage: codegen_bench MODE COUNT LENGTH
//!   service  what `POST /coupon` runs (`insert_generated` in
//!            functions/coupons/src/create.rs): `CodeFormat::distinct`, one
//!            unbiased 64-bit draw from the thread-local CSPRNG per twelve
//!            characters, the batch's fingerprints sorted to find repeats
//!   job      what a bulk job's worker runs for each slot: `SlotDraws::draw`
//!            (as `Job::slot_code`): SHA-256 of the job's seed, the slot and
//!            the attempt seeds a ChaCha12 `StdRng` that draws the code; a
//!            repeated code moves its slot to the next attempt, as a code
//!            the table already holds does in the worker
//!
//! Prints the wall time and this thread's CPU time in seconds on stdout, a
//! summary on stderr.

use std::time::Instant;

use common::code::FingerprintSet;
use common::job::{FormatSpec, SlotDraws};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or("MODE missing (service or job)")?;
    let count: usize = args.next().ok_or("COUNT missing")?.parse()?;
    let length: u64 = args.next().ok_or("LENGTH missing")?.parse()?;
    let spec = FormatSpec {
        code_length: Some(length),
        ..FormatSpec::default()
    };
    let format = spec.format()?;
    let cpu_at_start = cpu_seconds();
    let (elapsed, codes, redrawn) = match mode.as_str() {
        "service" => {
            let started = Instant::now();
            let (codes, fresh) = format.distinct(count);
            (started.elapsed(), codes, fresh.redrawn())
        }
        "job" => {
            let mut seed = [0u8; 32];
            rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
            let draws = SlotDraws::new(&hex::encode(seed));
            let started = Instant::now();
            let mut codes = Vec::with_capacity(count);
            let mut fingerprints = Vec::with_capacity(count);
            for slot in 0..count as u64 {
                let (code, fingerprint) = draws.draw(&format, slot, 0);
                codes.push(code);
                fingerprints.push(fingerprint);
            }
            // The worker's table refuses a code that exists; here a sorted
            // list of fingerprints stands in for it, as in `CodeFormat::distinct`.
            let mut sorted = fingerprints.clone();
            sorted.sort_unstable();
            let mut taken: FingerprintSet = sorted
                .windows(2)
                .filter(|pair| pair[0] == pair[1])
                .map(|pair| pair[0])
                .collect();
            let mut redrawn = 0;
            if !taken.is_empty() {
                let mut kept = FingerprintSet::default();
                for (slot, fingerprint) in fingerprints.into_iter().enumerate() {
                    if !taken.contains(&fingerprint) || kept.insert(fingerprint) {
                        continue;
                    }
                    // A taken code moves its slot to the next attempt.
                    for attempt in 1.. {
                        redrawn += 1;
                        let (code, fingerprint) = draws.draw(&format, slot as u64, attempt);
                        if sorted.binary_search(&fingerprint).is_err() && taken.insert(fingerprint)
                        {
                            codes[slot] = code;
                            break;
                        }
                    }
                }
            }
            (started.elapsed(), codes, redrawn)
        }
        other => return Err(format!("unknown mode {other:?}: service or job").into()),
    };
    let cpu = cpu_seconds();
    let elapsed = elapsed.as_secs_f64();
    assert_eq!(codes.len(), count);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), count, "codes are not distinct");
    println!("{elapsed:.3} {:.3}", cpu - cpu_at_start);
    eprintln!(
        "rust {mode}: {count} distinct codes of length {length} in {elapsed:.3} s \
         ({redrawn} drawn again)"
    );
    Ok(())
}

/// CPU time this thread has run, from /proc (0 where there is none): the
/// wall time includes waiting for a core on a busy machine, this does not.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}
