//! Bulk jobs: a create of more codes than one request should write, a
//! campaign's import of existing codes and the deletion of a campaign's
//! codes are accepted as jobs, and a worker function works them in batches.
//!
//! A job survives a crash at any point and ends with exactly `quantity`
//! coupons: the code of slot `i` is drawn from a CSPRNG seeded with the
//! job's secret seed, `i` and an attempt number, so a resumed job draws the
//! same codes again and finds its own coupons (marked with the job and slot)
//! instead of writing new ones. A code taken by another coupon moves its
//! slot to the next attempt, and the job records that before writing it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::campaign::CampaignId;
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::invalid::Invalid;
use crate::pattern::{CodeFormat, FormatFields};

/// Coupons a job writes between two progress records.
pub const JOB_BATCH: u64 = 1_000;
/// Most coupons one job may create.
pub const MAX_JOB_QUANTITY: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The code-format fields of the create request, kept with the job so the
/// worker draws codes of the same format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormatSpec {
    pub code_length: Option<u64>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub pattern: Option<String>,
    pub charset: Option<String>,
}

impl FormatSpec {
    pub fn format(&self) -> Result<CodeFormat, Invalid> {
        CodeFormat::parse(FormatFields {
            code_length: self.code_length,
            prefix: self.prefix.as_deref(),
            suffix: self.suffix.as_deref(),
            pattern: self.pattern.as_deref(),
            charset: self.charset.as_deref(),
        })
    }
}

/// Most codes one import may list.
pub const MAX_IMPORT_CODES: usize = 100_000;

/// A code an import lists, with the uses it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCode {
    pub code: CouponCode,
    pub uses: u64,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum JobWork {
    /// Draws `quantity` codes of a format and writes them.
    Generate(Box<Generation>),
    /// Writes the codes listed in the job's input items (a campaign
    /// import): `template` gives their terms, the input each code's uses.
    Import { template: Box<Coupon> },
    /// Deletes every code of a campaign, a page at a time.
    DeleteCampaignCodes { campaign_id: CampaignId },
}

impl JobWork {
    /// The job's kind, as its view and its item name it.
    pub fn kind(&self) -> &'static str {
        match self {
            JobWork::Generate(_) => "generate",
            JobWork::Import { .. } => "import",
            JobWork::DeleteCampaignCodes { .. } => "delete_campaign_codes",
        }
    }

    /// The campaign the job works on, if any.
    pub fn campaign_id(&self) -> Option<&CampaignId> {
        match self {
            JobWork::Generate(generation) => generation.template.campaign_id.as_ref(),
            JobWork::Import { template } => template.campaign_id.as_ref(),
            JobWork::DeleteCampaignCodes { campaign_id } => Some(campaign_id),
        }
    }
}

/// A generation job's request: what its codes look like and the secret
/// they are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub format: FormatSpec,
    /// The terms every coupon of the job gets; its code is a placeholder.
    pub template: Coupon,
    /// The keyspace counter the job's codes count against.
    pub shape_key: String,
    /// 32 random bytes, hex: the secret the job's codes are drawn from.
    pub seed: String,
    /// Slots whose first draws were taken, and the attempt each uses now.
    pub replaced: BTreeMap<u64, u32>,
}

impl Generation {
    /// The code of `slot` at `attempt`: the same every time it is asked.
    pub fn slot_code(&self, format: &CodeFormat, slot: u64, attempt: u32) -> CouponCode {
        self.slot_draws().draw(format, slot, attempt).0
    }

    /// Draws the codes of this job's slots, for a worker drawing many.
    pub fn slot_draws(&self) -> SlotDraws {
        SlotDraws::new(&self.seed)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub status: JobStatus,
    pub work: JobWork,
    /// Codes to generate or import; for a delete, the campaign's codes
    /// when it was accepted.
    pub quantity: u64,
    /// Batches written (or, for a delete, pages deleted) and recorded.
    pub batches_done: u64,
    /// Codes an import wrote or a delete removed, as batches record them.
    pub written: u64,
    /// Codes an import found existing and left alone.
    pub skipped: u64,
    /// The last code a delete removed: the next page starts after it.
    pub resume_after: Option<CouponCode>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Job {
    fn new(work: JobWork, quantity: u64, now: DateTime<Utc>) -> Job {
        Job {
            job_id: uuid::Uuid::new_v4().to_string(),
            status: JobStatus::Pending,
            work,
            quantity,
            batches_done: 0,
            written: 0,
            skipped: 0,
            resume_after: None,
            error: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    /// A job generating `quantity` codes of `format` with `template`'s terms.
    pub fn generate(
        quantity: u64,
        format: FormatSpec,
        template: Coupon,
        shape_key: String,
        now: DateTime<Utc>,
    ) -> Job {
        let mut seed = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
        let generation = Generation {
            format,
            template,
            shape_key,
            seed: hex::encode(seed),
            replaced: BTreeMap::new(),
        };
        Job::new(JobWork::Generate(Box::new(generation)), quantity, now)
    }

    /// A job writing `quantity` listed codes with `template`'s terms.
    pub fn import(quantity: u64, template: Coupon, now: DateTime<Utc>) -> Job {
        let template = Box::new(template);
        Job::new(JobWork::Import { template }, quantity, now)
    }

    /// A job deleting the codes of a campaign that has `quantity` of them.
    pub fn delete_campaign_codes(
        campaign_id: CampaignId,
        quantity: u64,
        now: DateTime<Utc>,
    ) -> Job {
        Job::new(JobWork::DeleteCampaignCodes { campaign_id }, quantity, now)
    }

    /// The batches a generation or an import has; a delete pages until the
    /// campaign's index has no more codes, so its count is not known.
    pub fn batches(&self) -> Option<u64> {
        match self.work {
            JobWork::DeleteCampaignCodes { .. } => None,
            _ => Some(self.quantity.div_ceil(JOB_BATCH)),
        }
    }

    pub fn finished(&self) -> bool {
        matches!(self.status, JobStatus::Succeeded | JobStatus::Failed)
    }

    /// Whether a batch after `batch` is (or may still be) listed.
    pub fn lists_after(&self, batch: u64) -> bool {
        batch + 1 < self.batches_done || !self.finished()
    }

    /// Coupons written (or, for a delete, removed) and recorded so far.
    pub fn created(&self) -> u64 {
        match self.work {
            // Recorded by batch, from before jobs counted what they wrote.
            JobWork::Generate(_) => (self.batches_done * JOB_BATCH).min(self.quantity),
            _ => self.written,
        }
    }

    /// Codes counted into a campaign that the job has not written (nor,
    /// for an import, found existing): what a failed job counts back out.
    pub fn unwritten(&self) -> u64 {
        match self.work {
            JobWork::Generate(_) => self.quantity - self.created(),
            JobWork::Import { .. } => self.quantity.saturating_sub(self.written + self.skipped),
            JobWork::DeleteCampaignCodes { .. } => 0,
        }
    }

    /// The slots of batch `batch` (a generation's or an import's).
    pub fn slots(&self, batch: u64) -> std::ops::Range<u64> {
        batch * JOB_BATCH..((batch + 1) * JOB_BATCH).min(self.quantity)
    }
}

/// The codes of one job's slots: the code of `slot` at `attempt` is drawn
/// from a ChaCha12 `StdRng` seeded with SHA-256 of the job's secret seed,
/// `slot` and `attempt`, so the same three always give the same code.
///
/// The hash of the seed (its 64 hex characters are exactly one SHA-256
/// block) is taken once and carried on for every slot, which halves the
/// hashing per code and leaves the digest as it was.
#[derive(Clone)]
pub struct SlotDraws {
    seeded: Sha256,
}

impl SlotDraws {
    pub fn new(seed: &str) -> SlotDraws {
        SlotDraws {
            seeded: Sha256::new().chain_update(seed.as_bytes()),
        }
    }

    /// The code of `slot` at `attempt`, and its fingerprint.
    pub fn draw(&self, format: &CodeFormat, slot: u64, attempt: u32) -> (CouponCode, u64) {
        let seed: [u8; 32] = self
            .seeded
            .clone()
            .chain_update(slot.to_le_bytes())
            .chain_update(attempt.to_le_bytes())
            .finalize()
            .into();
        format.generate_with(&mut StdRng::from_seed(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coupon::Coupon;

    fn job(quantity: u64) -> Job {
        let now = Utc::now();
        let template = Coupon::bare("TEMPLATE", now);
        let format = FormatSpec {
            pattern: Some("XMAS-####-####".into()),
            ..FormatSpec::default()
        };
        Job::generate(quantity, format, template, "31:8".into(), now)
    }

    fn generation(job: &Job) -> &Generation {
        match &job.work {
            JobWork::Generate(generation) => generation,
            other => panic!("not a generation: {other:?}"),
        }
    }

    #[test]
    fn slot_codes_are_reproducible_and_distinct_per_slot_and_attempt() {
        let job = job(10);
        let job = generation(&job);
        let format = job.format.format().unwrap();
        let a = job.slot_code(&format, 7, 0);
        assert_eq!(a, job.slot_code(&format, 7, 0));
        assert_ne!(a, job.slot_code(&format, 7, 1));
        assert_ne!(a, job.slot_code(&format, 8, 0));
        assert!(a.as_str().starts_with("XMAS-") && a.as_str().len() == 14);
        // Another job's seed draws other codes.
        let other = super::tests::job(10);
        assert_ne!(a, generation(&other).slot_code(&format, 7, 0));
    }

    #[test]
    fn batches_cover_every_slot_once() {
        let job = job(2_500);
        assert_eq!(job.batches(), Some(3));
        assert_eq!(job.slots(0), 0..1_000);
        assert_eq!(job.slots(2), 2_000..2_500);
        let mut done = job.clone();
        done.batches_done = 3;
        assert_eq!(done.created(), 2_500);
    }

    /// Slot codes are drawn again after a crash or a deploy, so the draw
    /// must never change: these are what the service drew before the
    /// generator was made faster (and rand's `unbiased` sampling turned on).
    #[test]
    fn slot_codes_never_change() {
        let job = job(10);
        let mut job = generation(&job).clone();
        job.seed = "5eed".repeat(16);
        let cases: [(FormatSpec, [&str; 4]); 4] = [
            (
                FormatSpec {
                    code_length: Some(12),
                    ..FormatSpec::default()
                },
                [
                    "AHME6E2BVP3W",
                    "VBCWJGHAWDEE",
                    "NYWKW2X7XHSQ",
                    "HSXQTPPT5KQM",
                ],
            ),
            (
                FormatSpec {
                    pattern: Some("XMAS-####-####".into()),
                    ..FormatSpec::default()
                },
                [
                    "XMAS-6E2B-VP3W",
                    "XMAS-JGHA-WDEE",
                    "XMAS-W2X7-XHSQ",
                    "XMAS-TPPT-5KQM",
                ],
            ),
            (
                FormatSpec {
                    code_length: Some(64),
                    charset: Some("numbers".into()),
                    ..FormatSpec::default()
                },
                [
                    "5387601582631807278948175899757930934794318333062692364857422290",
                    "0186029147835289993436825571341767178463829838502459750473121133",
                    "7052971192097688107362343145341665108960210824393374385261256703",
                    "1970760817051270306606252632598268261769825585823516161654873586",
                ],
            ),
            (
                FormatSpec {
                    code_length: Some(40),
                    charset: Some("ab".into()),
                    prefix: Some("p-".into()),
                    ..FormatSpec::default()
                },
                [
                    "P-AABBAABAAAABABBBAABBAABBBAABABBABBBBBABB",
                    "P-ABBBBABBABAABBBABAAAAABABABAABBAABBAABBA",
                    "P-BBABAABBBAABAABAABABBABBABBBABABBBAABBAB",
                    "P-ABBABBBAAABBBBABBBBBABBBABAAABBAABABBAAB",
                ],
            ),
        ];
        for (spec, expected) in cases {
            let format = spec.format().unwrap();
            let drawn = [(0, 0), (7, 0), (7, 1), (999_999, 3)]
                .map(|(slot, attempt)| job.slot_code(&format, slot, attempt));
            assert_eq!(
                drawn.each_ref().map(CouponCode::as_str),
                expected,
                "{spec:?}"
            );
        }
    }
}
