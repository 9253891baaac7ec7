//! Field infos `.fnm` (`Lucene60FieldInfos` v0–v2, Lucene 6.0–8.x; little-endian `Lucene90FieldInfos`,
//! 9.0–9.3, and `Lucene94FieldInfos` v0–v2, 9.4–10.x): the segment's fields by name and number,
//! which field carries soft deletes, and which doc-values format and generation hold each field's values.
//! Stored fields refer to fields by number only, so this is also the name table for documents.

use std::collections::HashMap;

use crate::codec::verify_footer;
use crate::{DataInput, FileBytes, Result};

/// Which `.fnm` layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `Lucene60FieldInfos` with its header version.
    Lucene60(i32),
    /// `Lucene90FieldInfos`: adds a vector dimension and similarity byte per field.
    Lucene90,
    /// `Lucene94FieldInfos` with its header version: adds the vector encoding byte.
    Lucene94(i32),
}

const FORMAT_SELECTIVE_INDEXING: i32 = 2;
/// `Lucene94FieldInfos` version 1 (Lucene 9.10) adds the parent-field bit.
const FORMAT_PARENT_FIELD: i32 = 1;
/// `Lucene94FieldInfos` version 2 (Lucene 10.0) adds the doc-values skip-index byte.
const FORMAT_DOCVALUE_SKIPPER: i32 = 2;
const PARENT_FIELD: u8 = 0x10;
const STORE_TERMVECTOR: u8 = 0x1;
const OMIT_NORMS: u8 = 0x2;
const STORE_PAYLOADS: u8 = 0x4;
const SOFT_DELETES_FIELD: u8 = 0x8;

/// The kind of doc values a field has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocValuesType {
    /// No doc values.
    None,
    /// One number per document.
    Numeric,
    /// One byte string per document.
    Binary,
    /// One ordinal into a sorted term dictionary per document.
    Sorted,
    /// Several ordinals per document.
    SortedSet,
    /// Several numbers per document.
    SortedNumeric,
}

/// One field of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Field name, e.g. `_source`.
    pub name: String,
    /// Field number, as stored fields and doc values refer to it.
    pub number: u32,
    /// Whether term vectors are stored.
    pub store_term_vectors: bool,
    /// Whether norms are omitted.
    pub omit_norms: bool,
    /// Whether payloads are stored.
    pub store_payloads: bool,
    /// Whether this is the segment's soft-deletes field (Elasticsearch: `__soft_deletes`).
    pub soft_deletes: bool,
    /// Lucene's `IndexOptions` ordinal (0 = not indexed … 4 = with offsets).
    pub index_options: u8,
    /// Doc-values kind.
    pub doc_values_type: DocValuesType,
    /// Whether the field's doc values have a skip index (Lucene 10+), which adds a skipper entry to the
    /// field's doc-values metadata.
    pub doc_values_skip_index: bool,
    /// Whether this is the index's parent field for document blocks (Lucene 9.10+).
    pub parent_field: bool,
    /// Generation of the doc-values update holding this field's values, or -1 for the base files.
    pub dv_gen: i64,
    /// Per-field attributes, e.g. `PerFieldDocValuesFormat.format`.
    pub attributes: Vec<(String, String)>,
    /// Number of point dimensions (0 when the field has no points).
    pub point_dimension_count: u32,
    /// Number of indexed point dimensions.
    pub point_index_dimension_count: u32,
    /// Bytes per point dimension.
    pub point_num_bytes: u32,
    /// Number of vector dimensions (Lucene 9+; 0 when the field has no vectors).
    pub vector_dimension: u32,
}

impl FieldInfo {
    /// The value of a field attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// All fields of a segment, with lookup by name and by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldInfos {
    fields: Vec<FieldInfo>,
    by_name: HashMap<String, usize>,
    by_number: HashMap<u32, usize>,
}

impl FieldInfos {
    /// Parses a `.fnm` file after checking its checksum and that its header names segment `id` and
    /// `suffix` (`""` for the base file, the base-36 field-infos generation otherwise).
    pub fn read(file: &FileBytes, id: &[u8; 16], suffix: &str) -> Result<FieldInfos> {
        verify_footer(file)?;
        let mut input = DataInput::new(file.name(), file);
        let at = input.offset();
        let codec = input.read_header_name()?;
        let format = match codec.as_str() {
            "Lucene60FieldInfos" => Format::Lucene60(input.check_version(&codec, 0, FORMAT_SELECTIVE_INDEXING)?),
            "Lucene90FieldInfos" => {
                input.check_version(&codec, 0, 0)?;
                Format::Lucene90
            }
            "Lucene94FieldInfos" => Format::Lucene94(input.check_version(&codec, 0, FORMAT_DOCVALUE_SKIPPER)?),
            _ => {
                return Err(input.corrupt_at(
                    at,
                    "codec Lucene60FieldInfos, Lucene90FieldInfos or Lucene94FieldInfos",
                    format!("{codec:?}"),
                ))
            }
        };
        input.check_id_and_suffix(id, suffix)?;
        if !matches!(format, Format::Lucene60(_)) {
            input.set_endian(crate::Endian::Little);
        }
        let count = input.read_vint_len("field count")?;
        let mut infos = FieldInfos::default();
        for _ in 0..count {
            let at = input.offset();
            let field = read_field(&mut input, format)?;
            if infos.by_number.contains_key(&field.number) || infos.by_name.contains_key(&field.name) {
                return Err(input.corrupt_at(
                    at,
                    "unique field names and numbers",
                    format!("field {:?} number {} repeated", field.name, field.number),
                ));
            }
            if field.soft_deletes && infos.soft_deletes_field().is_some() {
                return Err(input.corrupt_at(
                    at,
                    "at most one soft-deletes field",
                    format!("{:?} as well", field.name),
                ));
            }
            infos.by_name.insert(field.name.clone(), infos.fields.len());
            infos.by_number.insert(field.number, infos.fields.len());
            infos.fields.push(field);
        }
        input.expect_footer_next()?;
        Ok(infos)
    }

    /// The field called `name`.
    pub fn by_name(&self, name: &str) -> Option<&FieldInfo> {
        self.by_name.get(name).and_then(|&i| self.fields.get(i))
    }

    /// The field numbered `number`.
    pub fn by_number(&self, number: u32) -> Option<&FieldInfo> {
        self.by_number.get(&number).and_then(|&i| self.fields.get(i))
    }

    /// The field marked as the soft-deletes field, if any.
    pub fn soft_deletes_field(&self) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.soft_deletes)
    }

    /// All fields, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &FieldInfo> {
        self.fields.iter()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn read_field(input: &mut DataInput<'_>, format: Format) -> Result<FieldInfo> {
    let name = input.read_string()?;
    let number_at = input.offset();
    let number = input.read_vint()?;
    if number > i32::MAX as u32 {
        return Err(input.corrupt_at(number_at, "a non-negative field number", (number as i32).to_string()));
    }
    let bits_at = input.offset();
    let bits = input.read_u8()?;
    let allowed = match format {
        Format::Lucene94(version) if version >= FORMAT_PARENT_FIELD => 0x1f,
        _ => 0x0f,
    };
    if bits & !allowed != 0 {
        return Err(input.corrupt_at(bits_at, format!("field bits within {allowed:#04x}"), format!("{bits:#04x}")));
    }
    let at = input.offset();
    let index_options = input.read_u8()?;
    if index_options > 4 {
        return Err(input.corrupt_at(at, "IndexOptions 0..=4", index_options.to_string()));
    }
    let at = input.offset();
    let doc_values_type = match input.read_u8()? {
        0 => DocValuesType::None,
        1 => DocValuesType::Numeric,
        2 => DocValuesType::Binary,
        3 => DocValuesType::Sorted,
        4 => DocValuesType::SortedSet,
        5 => DocValuesType::SortedNumeric,
        other => return Err(input.corrupt_at(at, "DocValuesType 0..=5", other.to_string())),
    };
    let doc_values_skip_index = match format {
        Format::Lucene94(version) if version >= FORMAT_DOCVALUE_SKIPPER => {
            let at = input.offset();
            match input.read_u8()? {
                0 => false,
                1 => true,
                other => return Err(input.corrupt_at(at, "DocValuesSkipIndexType 0 or 1", other.to_string())),
            }
        }
        _ => false,
    };
    let dv_gen = input.read_i64()?;
    let attributes = input.read_string_map()?;
    let point_dimension_count = input.read_vint()?;
    let selective = !matches!(format, Format::Lucene60(v) if v < FORMAT_SELECTIVE_INDEXING);
    let (point_index_dimension_count, point_num_bytes) = if point_dimension_count != 0 {
        let index_dims = if selective { input.read_vint()? } else { point_dimension_count };
        (index_dims, input.read_vint()?)
    } else {
        (0, 0)
    };
    let vector_dimension = match format {
        Format::Lucene60(_) => 0,
        Format::Lucene90 => {
            let dims = input.read_vint()?;
            input.read_u8()?; // similarity function
            dims
        }
        Format::Lucene94(_) => {
            let dims = input.read_vint()?;
            input.read_u8()?; // vector encoding
            input.read_u8()?; // similarity function
            dims
        }
    };
    Ok(FieldInfo {
        name,
        number,
        store_term_vectors: bits & STORE_TERMVECTOR != 0,
        omit_norms: bits & OMIT_NORMS != 0,
        store_payloads: bits & STORE_PAYLOADS != 0,
        soft_deletes: bits & SOFT_DELETES_FIELD != 0,
        index_options,
        doc_values_type,
        doc_values_skip_index,
        parent_field: bits & PARENT_FIELD != 0,
        dv_gen,
        attributes,
        point_dimension_count,
        point_index_dimension_count,
        point_num_bytes,
        vector_dimension,
    })
}
