//! Rows into serde types: a struct or a map reads the columns by name, a tuple or a `Vec` by
//! position, and a plain value (`i64`, `String`, `Option<T>`...) the only column.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::{Kind, Type};

/// Reads one row into `T`; the error names the column or field at fault.
pub(crate) fn decode<T: DeserializeOwned>(row: &Row) -> Result<T, String> {
    T::deserialize(RowDeserializer { row }).map_err(|e| e.to_string())
}

/// One column as a JSON value; types without a plain JSON form fail, naming the column.
fn column(row: &Row, index: usize) -> Result<Value, serde_json::Error> {
    let ty = row.columns()[index].type_();
    let value = match *ty {
        Type::BOOL => json(row.try_get::<_, Option<bool>>(index)),
        Type::INT2 => json(row.try_get::<_, Option<i16>>(index)),
        Type::INT4 => json(row.try_get::<_, Option<i32>>(index)),
        Type::INT8 => json(row.try_get::<_, Option<i64>>(index)),
        Type::OID => json(row.try_get::<_, Option<u32>>(index)),
        Type::FLOAT4 => json(row.try_get::<_, Option<f32>>(index)),
        Type::FLOAT8 => json(row.try_get::<_, Option<f64>>(index)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            json(row.try_get::<_, Option<String>>(index))
        }
        Type::JSON | Type::JSONB => row
            .try_get::<_, Option<Value>>(index)
            .map(|v| v.unwrap_or(Value::Null)),
        Type::BYTEA => json(row.try_get::<_, Option<Vec<u8>>>(index)),
        Type::BOOL_ARRAY => json(row.try_get::<_, Option<Vec<Option<bool>>>>(index)),
        Type::INT2_ARRAY => json(row.try_get::<_, Option<Vec<Option<i16>>>>(index)),
        Type::INT4_ARRAY => json(row.try_get::<_, Option<Vec<Option<i32>>>>(index)),
        Type::INT8_ARRAY => json(row.try_get::<_, Option<Vec<Option<i64>>>>(index)),
        Type::FLOAT8_ARRAY => json(row.try_get::<_, Option<Vec<Option<f64>>>>(index)),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => {
            json(row.try_get::<_, Option<Vec<Option<String>>>>(index))
        }
        _ if matches!(ty.kind(), Kind::Enum(_)) => json(row.try_get::<_, Option<String>>(index)),
        _ => {
            return Err(de::Error::custom(format_args!(
                "column `{}` has type {ty}, which typed rows do not read: cast it in SQL \
                 (`::text`, `::float8`...) or use `Connection::query` for raw rows",
                row.columns()[index].name()
            )));
        }
    };
    value.map_err(|e| {
        de::Error::custom(format_args!(
            "column `{}`: {e}",
            row.columns()[index].name()
        ))
    })
}

fn json<T: serde::Serialize>(
    value: Result<T, tokio_postgres::Error>,
) -> Result<Value, tokio_postgres::Error> {
    // Serializing plain numbers, strings and vectors into a Value cannot fail.
    value.map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
}

/// A row as a serde `Deserializer`.
struct RowDeserializer<'a> {
    row: &'a Row,
}

impl RowDeserializer<'_> {
    fn values(&self) -> Result<Vec<Value>, serde_json::Error> {
        (0..self.row.len()).map(|i| column(self.row, i)).collect()
    }

    fn only(&self) -> Result<Value, serde_json::Error> {
        match self.row.len() {
            1 => column(self.row, 0),
            n => Err(de::Error::custom(format_args!(
                "a single value was asked for, but the row has {n} columns"
            ))),
        }
    }

    fn by_name<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        let values = self.values()?;
        let names = self.row.columns().iter().map(|c| c.name());
        let mut map = MapDeserializer::new(names.zip(values));
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    fn by_position<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        let values = self.values()?;
        let mut seq = SeqDeserializer::new(values.into_iter());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }
}

macro_rules! single_column {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            de::Deserializer::$method(self.only()?, visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.by_name(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.by_name(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.by_name(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.by_position(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.by_position(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.by_position(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self.only()?.into_deserializer())
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.only()?, name, variants, visitor)
    }

    single_column! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit deserialize_identifier deserialize_ignored_any
    }
}
