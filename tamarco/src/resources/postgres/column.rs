//! One column of a row as a serde `Deserializer`. The common scalar types (booleans, integers,
//! floats, text) go to the visitor straight from the row; JSON, `bytea` and arrays go through a
//! `serde_json::Value`.

use serde::de::{self, DeserializeSeed, Visitor};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Kind, Type};

/// Errors of typed rows: serde's own messages, and ours.
pub(super) type Failure = serde_json::Error;

/// Column `index` of `row`.
#[derive(Clone, Copy)]
pub(super) struct Column<'a> {
    pub(super) row: &'a Row,
    pub(super) index: usize,
}

/// Any non-null value: only tells null from not null, whatever the column's type.
struct Present;

impl<'a> FromSql<'a> for Present {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Present)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl<'a> Column<'a> {
    /// Deserializes the column into `seed`; an error names the column.
    pub(super) fn read<'de, S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Failure> {
        seed.deserialize(self).map_err(|e| self.named(e))
    }

    /// `error` with the column's name in front.
    pub(super) fn named(self, error: impl std::fmt::Display) -> Failure {
        de::Error::custom(format_args!(
            "column `{}`: {error}",
            self.row.columns()[self.index].name()
        ))
    }

    fn get<T: FromSql<'a>>(self) -> Result<Option<T>, Failure> {
        self.row.try_get(self.index).map_err(de::Error::custom)
    }

    /// The column as a JSON value; types without a plain JSON form fail, saying how to read
    /// them instead.
    fn value(self) -> Result<Value, Failure> {
        let ty = self.row.columns()[self.index].type_();
        match *ty {
            Type::BOOL => json(self.get::<bool>()),
            Type::INT2 => json(self.get::<i16>()),
            Type::INT4 => json(self.get::<i32>()),
            Type::INT8 => json(self.get::<i64>()),
            Type::OID => json(self.get::<u32>()),
            Type::FLOAT4 => json(self.get::<f32>()),
            Type::FLOAT8 => json(self.get::<f64>()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                json(self.get::<&str>())
            }
            Type::JSON | Type::JSONB => Ok(self.get::<Value>()?.unwrap_or(Value::Null)),
            Type::BYTEA => json(self.get::<Vec<u8>>()),
            Type::BOOL_ARRAY => json(self.get::<Vec<Option<bool>>>()),
            Type::INT2_ARRAY => json(self.get::<Vec<Option<i16>>>()),
            Type::INT4_ARRAY => json(self.get::<Vec<Option<i32>>>()),
            Type::INT8_ARRAY => json(self.get::<Vec<Option<i64>>>()),
            Type::FLOAT8_ARRAY => json(self.get::<Vec<Option<f64>>>()),
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => json(self.get::<Vec<Option<&str>>>()),
            _ if matches!(ty.kind(), Kind::Enum(_)) => json(self.get::<&str>()),
            _ => Err(de::Error::custom(format_args!(
                "type {ty} is not one typed rows read: cast it in SQL (`::text`, `::float8`...) \
                 or use `Connection::query` for raw rows"
            ))),
        }
    }
}

fn json<T: serde::Serialize>(value: Result<Option<T>, Failure>) -> Result<Value, Failure> {
    // Serializing plain numbers, strings and vectors into a Value cannot fail.
    value.map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
}

impl<'de> de::Deserializer<'de> for Column<'_> {
    type Error = Failure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        // Null is a unit, as `Value::Null` deserializes.
        macro_rules! visit {
            ($ty:ty, $visit:ident) => {
                match self.get::<$ty>()? {
                    Some(value) => visitor.$visit(value),
                    None => visitor.visit_unit(),
                }
            };
        }
        match *self.row.columns()[self.index].type_() {
            Type::BOOL => visit!(bool, visit_bool),
            Type::INT2 => visit!(i16, visit_i16),
            Type::INT4 => visit!(i32, visit_i32),
            Type::INT8 => visit!(i64, visit_i64),
            Type::OID => visit!(u32, visit_u32),
            Type::FLOAT4 => visit!(f32, visit_f32),
            Type::FLOAT8 => visit!(f64, visit_f64),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                visit!(&str, visit_str)
            }
            _ => de::Deserializer::deserialize_any(self.value()?, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        match self.get::<Present>()? {
            Some(Present) => visitor.visit_some(self),
            None => visitor.visit_none(),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        de::Deserializer::deserialize_enum(self.value()?, name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        // A column no field asks for is not decoded at all.
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}
