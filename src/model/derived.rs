//! Values a document implies rather than states: a claim's type (from its bill type,
//! revenue codes, place of service or NDC), a subject's USUBJID (STUDYID-SITEID-SUBJID), a
//! member's X12 relationship code (from relationship text).

use serde_json::{Map, Value};

use super::coerce::{is_empty, text_of};
use super::fields::{field, first_of};

/// A claim's type as given (upper-cased), else what the claim implies: a bill type or
/// revenue codes make it institutional, a place of service professional, an NDC a
/// pharmacy claim; otherwise none.
pub fn claim_type(entity: &Map<String, Value>) -> Option<String> {
    if let Some(inner) = field(entity, "claim").and_then(Value::as_object)
        && let Some(given) = first_of(inner, &["claim_type"])
    {
        return Some(text_of(given).to_uppercase());
    }
    if let Some(given) = first_of(entity, &["claim_type"]) {
        return Some(text_of(given).to_uppercase());
    }
    let lines = entity.get("claim_lines").or_else(|| entity.get("lines")).and_then(Value::as_array);
    let line_has = |key: &str| lines.is_some_and(|l| l.iter().any(|line| line.get(key).is_some_and(|v| !is_empty(v))));
    if first_of(entity, &["bill_type", "type_of_bill", "drg_code", "drg"]).is_some() || line_has("revenue_code") {
        Some("INSTITUTIONAL".into())
    } else if first_of(entity, &["place_of_service"]).is_some() || line_has("place_of_service") {
        Some("PROFESSIONAL".into())
    } else if first_of(entity, &["ndc", "prescription_number"]).is_some() {
        Some("RX".into())
    } else {
        None
    }
}

/// CDISC USUBJID: as given, else STUDYID-SITEID-SUBJID when the subject names all three.
pub fn usubjid(entity: &Map<String, Value>) -> Option<String> {
    if let Some(given) = first_of(entity, &["usubjid", "USUBJID"]) {
        return Some(text_of(given));
    }
    let parts: Vec<String> =
        [&["study_id", "protocol_id", "STUDYID"][..], &["site_id", "SITEID"], &["subject_id", "SUBJID"]]
            .iter()
            .map(|keys| first_of(entity, keys).map(text_of))
            .collect::<Option<_>>()?;
    Some(parts.join("-"))
}

/// A subject entity's subject id and USUBJID, when it gives both (or the parts of one).
pub fn subject_usubjid(entity: &Map<String, Value>) -> Option<(String, String)> {
    let subject = first_of(entity, &["subject_id", "SUBJID", "id"]).map(text_of)?;
    Some((subject, usubjid(entity)?))
}

/// X12 individual relationship code: a code as given, or relationship text mapped.
pub fn relationship_code(entity: &Map<String, Value>) -> Option<String> {
    if let Some(code) = first_of(entity, &["relationship_code"]) {
        return Some(text_of(code));
    }
    let text = first_of(entity, &["relationship", "relationship_to_subscriber"]).map(text_of)?;
    Some(x12_relationship(&text).unwrap_or("21").to_owned())
}

/// Maps relationship text (or a bare code) to its X12 code; `None` for unknown text.
pub fn x12_relationship(text: &str) -> Option<&'static str> {
    let normalized = text.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    Some(match normalized.as_str() {
        "18" | "self" | "subscriber" | "employee self" => "18",
        "01" | "spouse" | "wife" | "husband" => "01",
        "19" | "child" | "dependent" | "son" | "daughter" => "19",
        "32" | "parent" | "mother" | "father" => "32",
        "04" | "grandparent" | "grandfather" | "grandmother" => "04",
        "05" | "grandchild" | "grandson" | "granddaughter" => "05",
        "07" | "nephew" | "niece" | "nephew or niece" | "nephew/niece" => "07",
        "10" | "foster child" => "10",
        "15" | "ward" => "15",
        "17" | "stepchild" | "step child" | "stepson" | "stepdaughter" => "17",
        "20" | "employee" => "20",
        "21" | "other" | "unknown" => "21",
        "53" | "life partner" | "domestic partner" | "partner" => "53",
        _ => return None,
    })
}
