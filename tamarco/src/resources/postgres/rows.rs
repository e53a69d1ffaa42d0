//! Rows into serde types: a struct or a map reads the columns by name, a tuple or a `Vec` by
//! position, and a plain value (`i64`, `String`, `Option<T>`...) the only column. Each column
//! is decoded straight into the field asking for it ([`Column`]).

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use tokio_postgres::Row;

use super::column::{Column, Failure};

/// Reads one row into `T`; the error names the column or field at fault.
pub(crate) fn decode<T: DeserializeOwned>(row: &Row) -> Result<T, String> {
    T::deserialize(RowDeserializer { row }).map_err(|e| e.to_string())
}

/// A row as a serde `Deserializer`.
struct RowDeserializer<'a> {
    row: &'a Row,
}

impl<'a> RowDeserializer<'a> {
    fn only(&self) -> Result<Column<'a>, Failure> {
        match self.row.len() {
            1 => Ok(Column {
                row: self.row,
                index: 0,
            }),
            n => Err(de::Error::custom(format_args!(
                "a single value was asked for, but the row has {n} columns"
            ))),
        }
    }

    fn by_name<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        let mut columns = Columns::new(self.row);
        let value = visitor.visit_map(&mut columns)?;
        columns.end()?;
        Ok(value)
    }

    fn by_position<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        let mut columns = Columns::new(self.row);
        let value = visitor.visit_seq(&mut columns)?;
        columns.end()?;
        Ok(value)
    }
}

/// The columns of a row, in order: map entries (name and value) or sequence elements.
struct Columns<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> Columns<'a> {
    fn new(row: &'a Row) -> Self {
        Columns { row, next: 0 }
    }

    fn take(&mut self) -> Option<Column<'a>> {
        let index = self.next;
        (index < self.row.len()).then(|| {
            self.next += 1;
            Column {
                row: self.row,
                index,
            }
        })
    }

    /// Every column was read.
    fn end(&self) -> Result<(), Failure> {
        match self.row.len() - self.next {
            0 => Ok(()),
            _ => Err(de::Error::custom(format_args!(
                "the row has {} columns, {} were read",
                self.row.len(),
                self.next
            ))),
        }
    }
}

impl<'de> de::MapAccess<'de> for Columns<'_> {
    type Error = Failure;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Failure> {
        match self.row.columns().get(self.next) {
            Some(column) => seed
                .deserialize(column.name().into_deserializer())
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Failure> {
        match self.take() {
            Some(column) => column.read(seed),
            None => Err(de::Error::custom(
                "a value was asked for after the last column",
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.len() - self.next)
    }
}

impl<'de> de::SeqAccess<'de> for Columns<'_> {
    type Error = Failure;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Failure> {
        self.take().map(|column| column.read(seed)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.len() - self.next)
    }
}

macro_rules! single_column {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let column = self.only()?;
            de::Deserializer::$method(column, visitor).map_err(|e| column.named(e))
        })*
    };
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = Failure;

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
        let column = self.only()?;
        visitor
            .visit_newtype_struct(column)
            .map_err(|e| column.named(e))
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
        let column = self.only()?;
        de::Deserializer::deserialize_enum(column, name, variants, visitor)
            .map_err(|e| column.named(e))
    }

    single_column! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit deserialize_identifier deserialize_ignored_any
    }
}
