//! The 20 canonical entity tables: columns, ids, links, dates and defaults, as pure data.
//!
//! The column lists are written in the same compact notation as `spec/schema.md`
//! (`name [TYPE] [NN] [=default]`), so a reviewer can diff them against the spec by eye.
//! The DDL in `db::schema` and the field mapping in `model::mapping` are both generated
//! from these specs; nothing else names canonical columns.

use std::sync::LazyLock;

/// SQL type of a canonical column; `Varchar` unless the spec says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Varchar,
    Date,
    Timestamp,
    Integer,
    Boolean,
    Json,
    /// DECIMAL(precision, scale).
    Decimal(u8, u8),
}

impl ColumnType {
    pub fn sql(self) -> String {
        match self {
            ColumnType::Varchar => "VARCHAR".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::Timestamp => "TIMESTAMP".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Json => "JSON".into(),
            ColumnType::Decimal(p, s) => format!("DECIMAL({p},{s})"),
        }
    }
}

/// One column of a canonical table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// NOT NULL in the DDL; a row missing it (after defaults) is skipped with a warning.
    pub not_null: bool,
    /// The DDL default as text (already unquoted), also applied by the mapping because
    /// bulk inserts name every column.
    pub default: Option<&'static str>,
}

/// Which product line generates a table; decides the default `source_system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    PatientSim,
    MemberSim,
    RxMemberSim,
    TrialSim,
}

impl Product {
    pub fn source_system(self) -> &'static str {
        match self {
            Product::PatientSim => "patientsim",
            Product::MemberSim => "membersim",
            Product::RxMemberSim => "rxmembersim",
            Product::TrialSim => "trialsim",
        }
    }
}

/// A canonical table: its name, the entity-type keys that land in it, and its layout.
#[derive(Debug)]
pub struct TableSpec {
    /// Table name in schema `main`, also the plural entity-type key.
    pub name: &'static str,
    /// Singular entity-type key accepted by save (`patient` for `patients`).
    pub singular: &'static str,
    /// The data column that, with `scenario_id`, forms the primary key.
    pub id_column: &'static str,
    /// Entity keys tried (in order, before `id`) for the entity's id.
    pub id_keys: &'static [&'static str],
    pub product: Product,
    /// Data columns in DDL order (provenance columns follow, see [`PROVENANCE`]).
    pub columns: Vec<Column>,
    /// The column that links a row to its person, claim or subject (`patient_mrn`,
    /// `member_id`, `claim_id`, `usubjid`); `None` for the person tables themselves.
    pub link_column: Option<&'static str>,
    /// The row's main date (an encounter's admission, a diagnosis's date, a claim's
    /// service date); `None` where a table has none.
    pub date_column: Option<&'static str>,
    /// Whether a row without its date takes the date of the parent that holds it in a
    /// document (an encounter's diagnoses, labs and vitals, a claim's lines).
    pub inherits_date: bool,
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Provenance columns that end every canonical table, in DDL order.
pub const PROVENANCE: &[(&str, &str)] = &[
    ("scenario_id", "VARCHAR"),
    ("created_at", "TIMESTAMP DEFAULT now()"),
    ("source_type", "VARCHAR"),
    ("source_system", "VARCHAR"),
    ("skill_used", "VARCHAR"),
    ("generation_seed", "INTEGER"),
];

struct RawSpec {
    name: &'static str,
    singular: &'static str,
    id_column: &'static str,
    id_keys: &'static [&'static str],
    product: Product,
    columns: &'static str,
    link: Option<&'static str>,
    date: Option<&'static str>,
    inherits_date: bool,
}

const RAW: &[RawSpec] = &[
    RawSpec {
        name: "patients",
        singular: "patient",
        id_column: "id",
        id_keys: &["patient_id"],
        product: Product::PatientSim,
        columns: "id NN, mrn, ssn, given_name, middle_name, family_name, suffix, prefix, \
                  birth_date DATE, gender, race, ethnicity, language ='en', street_address, \
                  street_address_2, city, state, postal_code, country ='US', phone, phone_mobile, \
                  email, deceased BOOLEAN =false, death_date DATE",
        link: None,
        date: None,
        inherits_date: false,
    },
    RawSpec {
        name: "encounters",
        singular: "encounter",
        id_column: "encounter_id",
        id_keys: &["encounter_id"],
        product: Product::PatientSim,
        columns: "encounter_id NN, patient_mrn, class_code, status, admission_time TIMESTAMP, \
                  discharge_time TIMESTAMP, facility, department, room, bed, chief_complaint, \
                  admitting_diagnosis, discharge_disposition, attending_physician, admitting_physician",
        link: Some("patient_mrn"),
        date: Some("admission_time"),
        inherits_date: false,
    },
    RawSpec {
        name: "diagnoses",
        singular: "diagnosis",
        id_column: "id",
        id_keys: &["diagnosis_id"],
        product: Product::PatientSim,
        columns: "id NN, code, description, type ='final', patient_mrn, encounter_id, \
                  diagnosed_date DATE, resolved_date DATE",
        link: Some("patient_mrn"),
        date: Some("diagnosed_date"),
        inherits_date: true,
    },
    RawSpec {
        name: "medications",
        singular: "medication",
        id_column: "id",
        id_keys: &["medication_id"],
        product: Product::PatientSim,
        columns: "id NN, name, code, dose, route, frequency, patient_mrn, encounter_id, \
                  start_date TIMESTAMP, end_date TIMESTAMP, status ='active', prescriber, indication",
        link: Some("patient_mrn"),
        date: Some("start_date"),
        inherits_date: true,
    },
    RawSpec {
        name: "lab_results",
        singular: "lab_result",
        id_column: "id",
        id_keys: &["lab_result_id", "result_id"],
        product: Product::PatientSim,
        columns: "id NN, test_name, loinc_code, value, unit, reference_range, abnormal_flag, \
                  patient_mrn, encounter_id, collected_time TIMESTAMP, resulted_time TIMESTAMP, \
                  performing_lab, ordering_provider",
        link: Some("patient_mrn"),
        date: Some("collected_time"),
        inherits_date: true,
    },
    RawSpec {
        name: "vital_signs",
        singular: "vital_sign",
        id_column: "id",
        id_keys: &["vital_sign_id", "observation_id"],
        product: Product::PatientSim,
        columns: "id NN, patient_mrn, encounter_id, observation_time TIMESTAMP, \
                  temperature DECIMAL(5,2), heart_rate INTEGER, respiratory_rate INTEGER, \
                  systolic_bp INTEGER, diastolic_bp INTEGER, spo2 INTEGER, height_cm DECIMAL(5,2), \
                  weight_kg DECIMAL(6,2)",
        link: Some("patient_mrn"),
        date: Some("observation_time"),
        inherits_date: true,
    },
    RawSpec {
        name: "orders",
        singular: "order",
        id_column: "order_id",
        id_keys: &["order_id"],
        product: Product::PatientSim,
        columns: "order_id NN, patient_mrn, encounter_id, order_type, code, code_system ='CPT', \
                  description, priority ='routine', status ='new', ordered_datetime TIMESTAMP, \
                  scheduled_datetime TIMESTAMP, collected_datetime TIMESTAMP, resulted_datetime TIMESTAMP, \
                  ordering_provider_npi, ordering_provider_name, clinical_indication, specimen_type",
        link: Some("patient_mrn"),
        date: Some("ordered_datetime"),
        inherits_date: true,
    },
    RawSpec {
        name: "clinical_notes",
        singular: "clinical_note",
        id_column: "id",
        id_keys: &["note_id", "clinical_note_id"],
        product: Product::PatientSim,
        columns: "id NN, patient_mrn, encounter_id, note_type, note_datetime TIMESTAMP, author, content",
        link: Some("patient_mrn"),
        date: Some("note_datetime"),
        inherits_date: true,
    },
    RawSpec {
        name: "members",
        singular: "member",
        id_column: "id",
        id_keys: &["member_id"],
        product: Product::MemberSim,
        columns: "id NN, member_id, subscriber_id, relationship_code ='18', ssn, given_name, \
                  middle_name, family_name, birth_date DATE, gender, street_address, city, \
                  state, postal_code, phone, email, group_id, plan_code, coverage_start DATE, \
                  coverage_end DATE, pcp_npi",
        link: None,
        date: None,
        inherits_date: false,
    },
    RawSpec {
        name: "claims",
        singular: "claim",
        id_column: "claim_id",
        id_keys: &["claim_id", "claim.claim_id"],
        product: Product::MemberSim,
        columns: "claim_id NN, claim_type, member_id, subscriber_id, provider_npi, facility_npi, \
                  service_date DATE, admission_date DATE, discharge_date DATE, place_of_service ='11', \
                  principal_diagnosis, other_diagnoses JSON, authorization_number, \
                  total_charge DECIMAL(12,2), total_allowed DECIMAL(12,2), total_paid DECIMAL(12,2), \
                  member_responsibility DECIMAL(12,2)",
        link: Some("member_id"),
        date: Some("service_date"),
        inherits_date: true,
    },
    RawSpec {
        name: "claim_lines",
        singular: "claim_line",
        id_column: "id",
        id_keys: &["claim_line_id", "line_id"],
        product: Product::MemberSim,
        columns: "id NN, claim_id, line_number INTEGER, procedure_code, procedure_modifiers JSON, \
                  service_date DATE, units DECIMAL(6,2) =1, charge_amount DECIMAL(12,2), \
                  allowed_amount DECIMAL(12,2), paid_amount DECIMAL(12,2), diagnosis_pointers JSON, \
                  revenue_code, ndc_code, place_of_service ='11'",
        link: Some("claim_id"),
        date: Some("service_date"),
        inherits_date: true,
    },
    RawSpec {
        name: "prescriptions",
        singular: "prescription",
        id_column: "prescription_number",
        id_keys: &["prescription_number", "prescription_id"],
        product: Product::RxMemberSim,
        columns: "prescription_number NN, patient_mrn, member_id, ndc, drug_name, \
                  quantity_prescribed DECIMAL(10,2), days_supply INTEGER, refills_authorized INTEGER =0, \
                  refills_remaining INTEGER =0, prescriber_npi, prescriber_name, prescriber_dea, \
                  written_date DATE, expiration_date DATE, daw_code ='0', directions",
        link: Some("member_id"),
        date: Some("written_date"),
        inherits_date: false,
    },
    RawSpec {
        name: "pharmacy_claims",
        singular: "pharmacy_claim",
        id_column: "claim_id",
        id_keys: &["claim_id", "claim.claim_id"],
        product: Product::RxMemberSim,
        columns: "claim_id NN, transaction_code, service_date DATE, pharmacy_npi, pharmacy_ncpdp, \
                  member_id, cardholder_id, person_code, bin, pcn, group_number, \
                  prescription_number, fill_number INTEGER =0, ndc, quantity_dispensed DECIMAL(10,2), \
                  days_supply INTEGER, daw_code, prescriber_npi, ingredient_cost_submitted DECIMAL(12,2), \
                  dispensing_fee_submitted DECIMAL(12,2), usual_customary_charge DECIMAL(12,2), \
                  gross_amount_due DECIMAL(12,2), patient_pay_amount DECIMAL(12,2)",
        link: Some("member_id"),
        date: Some("service_date"),
        inherits_date: true,
    },
    RawSpec {
        name: "subjects",
        singular: "subject",
        id_column: "id",
        id_keys: &["subject_id"],
        product: Product::TrialSim,
        columns: "id NN, subject_id, usubjid, study_id, site_id, patient_ref, ssn, given_name, \
                  family_name, birth_date DATE, gender, race, ethnicity, screening_id, \
                  screening_date DATE, informed_consent_date DATE, randomization_date DATE, \
                  treatment_arm, status",
        link: Some("study_id"),
        date: None,
        inherits_date: false,
    },
    RawSpec {
        name: "trial_visits",
        singular: "trial_visit",
        id_column: "id",
        id_keys: &["visit_id", "trial_visit_id"],
        product: Product::TrialSim,
        columns: "id NN, usubjid, visit_num DECIMAL(5,1), visit_name, visit_date DATE, \
                  study_day INTEGER, visit_status, window_deviation_days INTEGER =0",
        link: Some("usubjid"),
        date: Some("visit_date"),
        inherits_date: false,
    },
    RawSpec {
        name: "adverse_events",
        singular: "adverse_event",
        id_column: "id",
        id_keys: &["adverse_event_id", "ae_id"],
        product: Product::TrialSim,
        columns: "id NN, usubjid, aeseq INTEGER, aeterm, aedecod, aebodsys, aestdtc DATE, \
                  aeendtc DATE, aesev, aetoxgr, aeser, aerel, aeacn, aeout",
        link: Some("usubjid"),
        date: Some("aestdtc"),
        inherits_date: false,
    },
    RawSpec {
        name: "exposures",
        singular: "exposure",
        id_column: "id",
        id_keys: &["exposure_id"],
        product: Product::TrialSim,
        columns: "id NN, usubjid, exseq INTEGER, extrt, exdose DECIMAL(12,4), exdosu, exdosfrq, \
                  exroute, exstdtc DATE, exendtc DATE, exadj, dose_modification",
        link: Some("usubjid"),
        date: Some("exstdtc"),
        inherits_date: false,
    },
    RawSpec {
        name: "procedures",
        singular: "procedure",
        id_column: "id",
        id_keys: &["procedure_id"],
        product: Product::PatientSim,
        columns: "id NN, code, code_system, description, patient_mrn, encounter_id, performed_datetime TIMESTAMP, \
                  performer, status",
        link: Some("patient_mrn"),
        date: Some("performed_datetime"),
        inherits_date: true,
    },
    RawSpec {
        name: "allergies",
        singular: "allergy",
        id_column: "id",
        id_keys: &["allergy_id"],
        product: Product::PatientSim,
        columns: "id NN, substance, code, code_system, reaction, severity, status, onset_date DATE, patient_mrn",
        link: Some("patient_mrn"),
        date: None,
        inherits_date: false,
    },
    RawSpec {
        name: "immunizations",
        singular: "immunization",
        id_column: "id",
        id_keys: &["immunization_id"],
        product: Product::PatientSim,
        columns: "id NN, cvx_code, vaccine, administered_date DATE, patient_mrn, encounter_id, lot_number, route, \
                  status",
        link: Some("patient_mrn"),
        date: Some("administered_date"),
        inherits_date: true,
    },
];

/// All canonical tables, in the order of `spec/schema.md`.
pub fn canonical_tables() -> &'static [TableSpec] {
    static TABLES: LazyLock<Vec<TableSpec>> = LazyLock::new(|| {
        RAW.iter()
            .map(|raw| TableSpec {
                name: raw.name,
                singular: raw.singular,
                id_column: raw.id_column,
                id_keys: raw.id_keys,
                product: raw.product,
                columns: parse_columns(raw.columns),
                link_column: raw.link,
                date_column: raw.date,
                inherits_date: raw.inherits_date,
            })
            .collect()
    });
    &TABLES
}

/// The canonical table called `name`.
pub fn table_named(name: &str) -> Option<&'static TableSpec> {
    canonical_tables().iter().find(|t| t.name == name)
}

/// The canonical table an entity-type key lands in: the table name or its singular,
/// case-insensitive (`Patient`, `patients`, `lab_result`), or a key HealthSim uses for it
/// ([`TYPE_KEYS`]: `labs`, `vitals`, `conditions`, `visits`, ...).
pub fn table_for_entity_type(key: &str) -> Option<&'static TableSpec> {
    let key = key.trim();
    canonical_tables()
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(key) || t.singular.eq_ignore_ascii_case(key))
        .or_else(|| TYPE_KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, name)| table_named(name)))
}

/// The type keys HealthSim's generators, skills and folder loader use besides the table
/// names and their singulars.
const TYPE_KEYS: &[(&str, &str)] = &[
    ("labs", "lab_results"),
    ("lab", "lab_results"),
    ("results", "lab_results"),
    ("vitals", "vital_signs"),
    ("vital", "vital_signs"),
    ("conditions", "diagnoses"),
    ("condition", "diagnoses"),
    ("rx_members", "members"),
    ("rx_member", "members"),
    ("visits", "trial_visits"),
    ("visit", "trial_visits"),
];

/// Parses the compact column notation; panics on a malformed spec, which the unit tests
/// catch (the notation is a compile-time constant).
fn parse_columns(text: &'static str) -> Vec<Column> {
    split_top_level(text)
        .into_iter()
        .map(|part| {
            let mut words = part.split_whitespace();
            let name = words.next().expect("column name");
            let mut column = Column { name, ty: ColumnType::Varchar, not_null: false, default: None };
            for word in words {
                if word == "NN" {
                    column.not_null = true;
                } else if let Some(default) = word.strip_prefix('=') {
                    column.default = Some(default.trim_matches('\''));
                } else {
                    column.ty = parse_type(word);
                }
            }
            column
        })
        .collect()
}

/// Splits on commas that are not inside parentheses (`DECIMAL(5,2)` stays whole).
fn split_top_level(text: &'static str) -> Vec<&'static str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

fn parse_type(word: &str) -> ColumnType {
    match word {
        "DATE" => ColumnType::Date,
        "TIMESTAMP" => ColumnType::Timestamp,
        "INTEGER" => ColumnType::Integer,
        "BOOLEAN" => ColumnType::Boolean,
        "JSON" => ColumnType::Json,
        other => {
            let inner = other
                .strip_prefix("DECIMAL(")
                .and_then(|rest| rest.strip_suffix(')'))
                .unwrap_or_else(|| panic!("unknown column type {other}"));
            let (p, s) = inner.split_once(',').expect("DECIMAL(p,s)");
            ColumnType::Decimal(p.parse().expect("precision"), s.parse().expect("scale"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spec parses, ids are real columns, and the column counts match schema.md.
    #[test]
    fn specs_parse_and_match_the_schema_document() {
        let tables = canonical_tables();
        assert_eq!(tables.len(), 20);
        let counts: Vec<(&str, usize)> = tables.iter().map(|t| (t.name, t.columns.len())).collect();
        assert_eq!(
            counts,
            vec![
                ("patients", 24),
                ("encounters", 15),
                ("diagnoses", 8),
                ("medications", 13),
                ("lab_results", 13),
                ("vital_signs", 12),
                ("orders", 17),
                ("clinical_notes", 7),
                ("members", 21),
                ("claims", 17),
                ("claim_lines", 14),
                ("prescriptions", 16),
                ("pharmacy_claims", 23),
                ("subjects", 19),
                ("trial_visits", 8),
                ("adverse_events", 14),
                ("exposures", 12),
                ("procedures", 9),
                ("allergies", 9),
                ("immunizations", 9),
            ]
        );
        for table in tables {
            let id = table.column(table.id_column).expect("id column exists");
            assert!(id.not_null, "{} id column is NOT NULL", table.name);
            // December 2026: only the id is required.
            let required: Vec<&str> = table.columns.iter().filter(|c| c.not_null).map(|c| c.name).collect();
            assert_eq!(required, vec![table.id_column], "{}", table.name);
            for column in table.link_column.iter().chain(&table.date_column) {
                assert!(table.column(column).is_some(), "{}.{column} link/date column exists", table.name);
            }
        }
    }

    /// Types, NOT NULL markers and quoted defaults are read from the notation.
    #[test]
    fn column_notation_is_parsed() {
        let patients = table_for_entity_type("Patient").unwrap();
        let language = patients.column("language").unwrap();
        assert_eq!((language.ty, language.not_null, language.default), (ColumnType::Varchar, false, Some("en")));
        let birth = patients.column("birth_date").unwrap();
        assert_eq!((birth.ty, birth.not_null), (ColumnType::Date, false));
        assert!(patients.column("id").unwrap().not_null);
        let units = table_for_entity_type("claim_lines").unwrap().column("units").unwrap();
        assert_eq!((units.ty, units.default), (ColumnType::Decimal(6, 2), Some("1")));
        assert!(table_for_entity_type("widgets").is_none());
        // HealthSim's own type keys.
        assert_eq!(table_for_entity_type("labs").unwrap().name, "lab_results");
        assert_eq!(table_for_entity_type("Vitals").unwrap().name, "vital_signs");
        assert_eq!(table_for_entity_type("visits").unwrap().name, "trial_visits");
        assert_eq!(table_for_entity_type("allergy").unwrap().name, "allergies");
    }
}
