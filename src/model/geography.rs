//! Facts about US geography the server relies on: the states with their FIPS codes and
//! county counts (the reference data's places, the state filters of the tools).

/// State abbreviation, FIPS, name and number of counties (Alaska's 31 include the one
/// PLACES leaves out). The 50 states and DC: 3,144 counties.
#[rustfmt::skip]
pub const STATE_COUNTIES: &[(&str, &str, &str, u32)] = &[
    ("AL", "01", "Alabama", 67), ("AK", "02", "Alaska", 31), ("AZ", "04", "Arizona", 15),
    ("AR", "05", "Arkansas", 75), ("CA", "06", "California", 58), ("CO", "08", "Colorado", 64),
    ("CT", "09", "Connecticut", 8), ("DE", "10", "Delaware", 3), ("DC", "11", "District of Columbia", 1),
    ("FL", "12", "Florida", 67), ("GA", "13", "Georgia", 159), ("HI", "15", "Hawaii", 5),
    ("ID", "16", "Idaho", 44), ("IL", "17", "Illinois", 102), ("IN", "18", "Indiana", 92),
    ("IA", "19", "Iowa", 99), ("KS", "20", "Kansas", 105), ("KY", "21", "Kentucky", 120),
    ("LA", "22", "Louisiana", 64), ("ME", "23", "Maine", 16), ("MD", "24", "Maryland", 24),
    ("MA", "25", "Massachusetts", 14), ("MI", "26", "Michigan", 83), ("MN", "27", "Minnesota", 87),
    ("MS", "28", "Mississippi", 82), ("MO", "29", "Missouri", 115), ("MT", "30", "Montana", 56),
    ("NE", "31", "Nebraska", 93), ("NV", "32", "Nevada", 17), ("NH", "33", "New Hampshire", 10),
    ("NJ", "34", "New Jersey", 21), ("NM", "35", "New Mexico", 33), ("NY", "36", "New York", 62),
    ("NC", "37", "North Carolina", 100), ("ND", "38", "North Dakota", 53), ("OH", "39", "Ohio", 88),
    ("OK", "40", "Oklahoma", 77), ("OR", "41", "Oregon", 36), ("PA", "42", "Pennsylvania", 67),
    ("RI", "44", "Rhode Island", 5), ("SC", "45", "South Carolina", 46), ("SD", "46", "South Dakota", 66),
    ("TN", "47", "Tennessee", 95), ("TX", "48", "Texas", 254), ("UT", "49", "Utah", 29),
    ("VT", "50", "Vermont", 14), ("VA", "51", "Virginia", 133), ("WA", "53", "Washington", 39),
    ("WV", "54", "West Virginia", 55), ("WI", "55", "Wisconsin", 72), ("WY", "56", "Wyoming", 23),
];
