//! People's names and addresses for generated cohorts, from the word lists of the
//! provider registry (`providers.rs`): a ZIP code within its state's range, a city name
//! made of a common stem and suffix (not a real place).

use super::providers::{CITY_SUFFIXES, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, STREET_KINDS, STREETS, ZIP3};

/// Given and family name for a person of `gender` (`F`, `M`, or other).
pub fn person(rng: &mut fastrand::Rng, gender: &str) -> (String, String) {
    let given = match gender.to_ascii_uppercase().as_str() {
        "F" | "FEMALE" => FEMALE_NAMES,
        "M" | "MALE" => MALE_NAMES,
        _ if rng.bool() => FEMALE_NAMES,
        _ => MALE_NAMES,
    };
    (given[rng.usize(..given.len())].to_owned(), LAST_NAMES[rng.usize(..LAST_NAMES.len())].to_owned())
}

/// Street address, city and 5-digit ZIP code in `state`.
pub fn address(rng: &mut fastrand::Rng, state: &str) -> (String, String, String) {
    let (lo, hi) = ZIP3.iter().find(|z| z.0 == state).map_or((100, 999), |z| (z.1, z.2));
    let zip = format!("{:03}{:02}", rng.u16(lo..=hi), rng.u8(1..100));
    let street = format!(
        "{} {} {}",
        rng.u32(10..9900),
        STREETS[rng.usize(..STREETS.len())],
        STREET_KINDS[rng.usize(..STREET_KINDS.len())]
    );
    let stem = STREETS[rng.usize(..STREETS.len())];
    let city = format!("{stem}{}", CITY_SUFFIXES[rng.usize(..CITY_SUFFIXES.len())]);
    (street, city, zip)
}
