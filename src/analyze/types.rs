//! Column types, read from the type's text (as written, or as sqlparser spells it), and what
//! changing one into another costs.

/// A column type, reduced to what the lint rules need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    SmallInt,
    Int,
    BigInt,
    SmallSerial,
    Serial,
    BigSerial,
    /// `varchar(n)` / `character varying(n)`; `None` is unbounded.
    Varchar(Option<u32>),
    /// `char(n)` / `character(n)` (blank-padded).
    Char(Option<u32>),
    Text,
    Citext,
    /// `numeric(p, s)`; `None` is unconstrained.
    Numeric(Option<(u32, u32)>),
    Real,
    Double,
    Timestamp,
    Timestamptz,
    Date,
    Json,
    Jsonb,
    Uuid,
    Boolean,
    Inet,
    Cidr,
    /// Anything else, by its lower-cased name (may be an enum or a domain).
    Other(String),
}

/// What an `ALTER COLUMN ... TYPE` does to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Binary-coercible: no rewrite (varchar widening, varchar -> text, numeric precision up).
    Free,
    /// Rewrites the table and its indexes, but every value still fits.
    Rewrite,
    /// Rewrites, and values may no longer fit or lose information (narrowing, lossy).
    Narrowing,
}

impl ColumnType {
    /// Reads a type as written (`character varying(20)`, `int4`, `TIMESTAMP WITH TIME ZONE`).
    pub fn parse(text: &str) -> ColumnType {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
        let (base, args) = match lower.find('(') {
            Some(open) => {
                let close = lower.rfind(')').unwrap_or(lower.len());
                let args: Vec<u32> = lower[open + 1..close.max(open + 1)]
                    .split(',')
                    .filter_map(|a| a.trim().parse().ok())
                    .collect();
                let rest = lower[close.min(lower.len())..]
                    .trim_start_matches(')')
                    .trim();
                let base = format!("{} {rest}", lower[..open].trim());
                (base.trim().to_string(), args)
            }
            None => (lower.clone(), Vec::new()),
        };
        let base = base.trim_start_matches("pg_catalog.");
        let first = args.first().copied();
        match base {
            "smallint" | "int2" => ColumnType::SmallInt,
            "int" | "integer" | "int4" => ColumnType::Int,
            "bigint" | "int8" => ColumnType::BigInt,
            "smallserial" | "serial2" => ColumnType::SmallSerial,
            "serial" | "serial4" => ColumnType::Serial,
            "bigserial" | "serial8" => ColumnType::BigSerial,
            "varchar" | "character varying" => ColumnType::Varchar(first),
            "char" | "character" | "bpchar" => ColumnType::Char(first),
            "text" => ColumnType::Text,
            "citext" => ColumnType::Citext,
            "numeric" | "decimal" => {
                ColumnType::Numeric(first.map(|p| (p, args.get(1).copied().unwrap_or(0))))
            }
            "real" | "float4" => ColumnType::Real,
            "double precision" | "float8" | "float" => ColumnType::Double,
            "timestamp" | "timestamp without time zone" => ColumnType::Timestamp,
            "timestamptz" | "timestamp with time zone" => ColumnType::Timestamptz,
            "date" => ColumnType::Date,
            "json" => ColumnType::Json,
            "jsonb" => ColumnType::Jsonb,
            "uuid" => ColumnType::Uuid,
            "boolean" | "bool" => ColumnType::Boolean,
            "inet" => ColumnType::Inet,
            "cidr" => ColumnType::Cidr,
            other => ColumnType::Other(other.trim_start_matches("public.").to_string()),
        }
    }

    pub fn is_serial(&self) -> bool {
        matches!(
            self,
            ColumnType::SmallSerial | ColumnType::Serial | ColumnType::BigSerial
        )
    }

    /// 16/32-bit integer types (including their serial forms).
    pub fn is_small_integer(&self) -> bool {
        matches!(
            self,
            ColumnType::SmallInt | ColumnType::Int | ColumnType::SmallSerial | ColumnType::Serial
        )
    }

    /// A short lower-case name for messages.
    pub fn label(&self) -> String {
        match self {
            ColumnType::SmallInt => "smallint".into(),
            ColumnType::Int => "integer".into(),
            ColumnType::BigInt => "bigint".into(),
            ColumnType::SmallSerial => "smallserial".into(),
            ColumnType::Serial => "serial".into(),
            ColumnType::BigSerial => "bigserial".into(),
            ColumnType::Varchar(Some(n)) => format!("varchar({n})"),
            ColumnType::Varchar(None) => "varchar".into(),
            ColumnType::Char(Some(n)) => format!("char({n})"),
            ColumnType::Char(None) => "char".into(),
            ColumnType::Text => "text".into(),
            ColumnType::Citext => "citext".into(),
            ColumnType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            ColumnType::Numeric(None) => "numeric".into(),
            ColumnType::Real => "real".into(),
            ColumnType::Double => "double precision".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Timestamptz => "timestamptz".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Json => "json".into(),
            ColumnType::Jsonb => "jsonb".into(),
            ColumnType::Uuid => "uuid".into(),
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Inet => "inet".into(),
            ColumnType::Cidr => "cidr".into(),
            ColumnType::Other(name) => name.clone(),
        }
    }

    /// Whether a change to `to` may be free of a rewrite for some source type: used when the
    /// old type is unknown, so widening a varchar or moving to text is never reported.
    pub fn may_be_free_target(&self) -> bool {
        // No array type is reached for free (measured: varchar(n)[] to text[] or to
        // varchar(m)[] rewrites the table).
        match self {
            ColumnType::Varchar(_)
            | ColumnType::Text
            | ColumnType::Numeric(_)
            | ColumnType::Inet => true,
            ColumnType::Other(name) => !name.ends_with("[]"),
            _ => false,
        }
    }
}

/// What changing a column from `from` to `to` costs (docs/hazards.md 1C). `using` is a `USING`
/// expression, which PostgreSQL treats as a rewrite.
pub(crate) fn type_change(from: &ColumnType, to: &ColumnType, using: bool) -> TypeChange {
    use ColumnType as T;
    if from == to && !using {
        return TypeChange::Free;
    }
    let narrowing = match (from, to) {
        (T::Varchar(Some(a)), T::Varchar(Some(b))) => b < a,
        (T::Varchar(None) | T::Text | T::Citext, T::Varchar(Some(_)) | T::Char(Some(_))) => true,
        (T::Varchar(Some(a)), T::Char(Some(b))) | (T::Char(Some(a)), T::Char(Some(b))) => b < a,
        (T::BigInt | T::BigSerial, T::Int | T::SmallInt | T::Serial | T::SmallSerial) => true,
        (T::Int | T::Serial, T::SmallInt | T::SmallSerial) => true,
        (T::Numeric(_) | T::Real | T::Double, T::SmallInt | T::Int | T::BigInt) => true,
        (T::Numeric(None), T::Numeric(Some(_))) => true,
        (T::Numeric(Some((p1, s1))), T::Numeric(Some((p2, s2)))) => {
            s2 < s1 || (p2 - s2.min(p2)) < (p1 - s1.min(p1))
        }
        (T::Timestamp | T::Timestamptz, T::Date) => true,
        _ => false,
    };
    if narrowing {
        return TypeChange::Narrowing;
    }
    if using {
        return TypeChange::Rewrite;
    }
    let free = match (from, to) {
        (T::Varchar(Some(a)), T::Varchar(Some(b))) => b >= a,
        (T::Varchar(_), T::Varchar(None) | T::Text) => true,
        (T::Text, T::Varchar(None)) => true,
        (T::Char(_), T::Varchar(None) | T::Text) => false,
        (T::Numeric(Some((p1, s1))), T::Numeric(Some((p2, s2)))) => s1 == s2 && p2 >= p1,
        (T::Numeric(_), T::Numeric(None)) => true,
        (T::Cidr, T::Inet) => true,
        _ => false,
    };
    if free {
        TypeChange::Free
    } else {
        TypeChange::Rewrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_spellings() {
        assert_eq!(
            ColumnType::parse("character varying(20)"),
            ColumnType::Varchar(Some(20))
        );
        assert_eq!(ColumnType::parse("VARCHAR"), ColumnType::Varchar(None));
        assert_eq!(ColumnType::parse("int4"), ColumnType::Int);
        assert_eq!(
            ColumnType::parse("NUMERIC(12, 2)"),
            ColumnType::Numeric(Some((12, 2)))
        );
        assert_eq!(
            ColumnType::parse("TIMESTAMP WITH TIME ZONE"),
            ColumnType::Timestamptz
        );
        assert_eq!(
            ColumnType::parse("timestamp(3) without time zone"),
            ColumnType::Timestamp
        );
        assert_eq!(
            ColumnType::parse("public.mood"),
            ColumnType::Other("mood".into())
        );
    }

    #[test]
    fn widening_is_free_and_narrowing_is_not() {
        let p = ColumnType::parse;
        assert_eq!(
            type_change(&p("varchar(10)"), &p("varchar(20)"), false),
            TypeChange::Free
        );
        assert_eq!(
            type_change(&p("varchar(10)"), &p("text"), false),
            TypeChange::Free
        );
        assert_eq!(
            type_change(&p("numeric(10,2)"), &p("numeric(12,2)"), false),
            TypeChange::Free
        );
        assert_eq!(
            type_change(&p("numeric(10,2)"), &p("numeric"), false),
            TypeChange::Free
        );
        assert_eq!(
            type_change(&p("varchar(20)"), &p("varchar(5)"), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(&p("text"), &p("varchar(50)"), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(&p("int"), &p("bigint"), false),
            TypeChange::Rewrite
        );
        assert_eq!(
            type_change(&p("bigint"), &p("int"), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(&p("numeric(10,2)"), &p("numeric(10,4)"), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(&p("timestamp"), &p("date"), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(&p("text"), &p("text"), true),
            TypeChange::Rewrite
        );
    }
}
