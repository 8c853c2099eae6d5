//! GGUF files (llama.cpp's format): the header, the metadata key/values, the tensor directory,
//! and dequantisation of F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K and Q6_K tensors to float.
//!
//! Layout (little-endian): magic `GGUF`, version (2 or 3), tensor count, key/value count, the
//! key/values, the tensor infos (name, dims innermost first, type, offset), then the tensor data
//! from the next multiple of `general.alignment` (default 32). Block layouts follow ggml's
//! `ggml-common.h`. The quantized blocks are decoded by the `kernels/` crate (compiled optimised
//! in debug builds too), whose products also run on them without dequantising (see
//! `GgmlType::block_kind`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "local")]
use llm_cooperation_kernels::BlockKind;
#[cfg(feature = "local")]
use tch::{Kind, Tensor};

use super::error::RunnerError;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<MetaValue>),
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is any number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            MetaValue::U8(_) => "u8",
            MetaValue::I8(_) => "i8",
            MetaValue::U16(_) => "u16",
            MetaValue::I16(_) => "i16",
            MetaValue::U32(_) => "u32",
            MetaValue::I32(_) => "i32",
            MetaValue::U64(_) => "u64",
            MetaValue::I64(_) => "i64",
            MetaValue::F32(_) => "f32",
            MetaValue::F64(_) => "f64",
            MetaValue::Bool(_) => "bool",
            MetaValue::String(_) => "string",
            MetaValue::Array(_) => "array",
        }
    }
}

/// A ggml tensor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
    BF16,
    /// A type this loader does not dequantise (its ggml id).
    Other(u32),
}

impl GgmlType {
    fn from_id(id: u32) -> Self {
        match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4K,
            13 => GgmlType::Q5K,
            14 => GgmlType::Q6K,
            30 => GgmlType::BF16,
            other => GgmlType::Other(other),
        }
    }

    /// Elements per block and bytes per block, for the types this loader reads.
    fn block(self) -> Option<(u64, u64)> {
        Some(match self {
            GgmlType::F32 => (1, 4),
            GgmlType::F16 | GgmlType::BF16 => (1, 2),
            GgmlType::Q4_0 => (32, 18),
            GgmlType::Q4_1 => (32, 20),
            GgmlType::Q8_0 => (32, 34),
            GgmlType::Q4K => (256, 144),
            GgmlType::Q5K => (256, 176),
            GgmlType::Q6K => (256, 210),
            GgmlType::Other(_) => return None,
        })
    }
}

#[cfg(feature = "local")]
impl GgmlType {
    /// The ggml block type, for the quantized types (kept in their blocks by `dtype = native`).
    pub fn block_kind(self) -> Option<BlockKind> {
        Some(match self {
            GgmlType::Q4_0 => BlockKind::Q4_0,
            GgmlType::Q4_1 => BlockKind::Q4_1,
            GgmlType::Q8_0 => BlockKind::Q8_0,
            GgmlType::Q4K => BlockKind::Q4K,
            GgmlType::Q5K => BlockKind::Q5K,
            GgmlType::Q6K => BlockKind::Q6K,
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 | GgmlType::Other(_) => return None,
        })
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgmlType::F32 => f.write_str("F32"),
            GgmlType::F16 => f.write_str("F16"),
            GgmlType::Q4_0 => f.write_str("Q4_0"),
            GgmlType::Q4_1 => f.write_str("Q4_1"),
            GgmlType::Q8_0 => f.write_str("Q8_0"),
            GgmlType::Q4K => f.write_str("Q4_K"),
            GgmlType::Q5K => f.write_str("Q5_K"),
            GgmlType::Q6K => f.write_str("Q6_K"),
            GgmlType::BF16 => f.write_str("BF16"),
            GgmlType::Other(id) => write!(f, "ggml type {id}"),
        }
    }
}

/// One entry of the tensor directory.
#[derive(Debug, Clone)]
pub struct GgufTensor {
    pub name: String,
    /// Dimensions as GGUF stores them: innermost (contiguous) first.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Byte offset from the start of the data section.
    pub offset: u64,
}

impl GgufTensor {
    /// The shape in libtorch order (outermost first).
    pub fn shape(&self) -> Vec<i64> {
        self.dims.iter().rev().map(|&d| d as i64).collect()
    }

    /// Elements in the tensor (`u64::MAX` if the dims overflow, which parsing rejects).
    pub fn elements(&self) -> u64 {
        self.dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .unwrap_or(u64::MAX)
    }
}

/// A parsed GGUF file held in memory.
pub struct Gguf {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<GgufTensor>,
    /// The whole file, shared with the quantized matrices a checkpoint keeps (no copies).
    data: Arc<Vec<u8>>,
    data_start: usize,
}

impl fmt::Debug for Gguf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gguf")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("tensors", &self.tensors.len())
            .finish_non_exhaustive()
    }
}

impl Gguf {
    /// Reads and parses `path`, checking that every tensor's data lies inside the file.
    pub fn open(path: &Path) -> Result<Gguf, RunnerError> {
        let data = std::fs::read(path).map_err(|source| RunnerError::Io {
            path: path.to_owned(),
            source,
        })?;
        Gguf::parse(path, data)
    }

    /// Parses GGUF bytes; `path` is only used in error messages.
    pub fn parse(path: &Path, data: Vec<u8>) -> Result<Gguf, RunnerError> {
        let mut r = Reader {
            data: &data,
            pos: 0,
        };
        let err = |m: String| RunnerError::format(path, m);
        let magic = r.bytes(4, "the magic number").map_err(err)?;
        if magic != MAGIC {
            return Err(RunnerError::format(
                path,
                format!("not a GGUF file (starts with {magic:02x?}, expected `GGUF`)"),
            ));
        }
        let version = r.u32("the version").map_err(err)?;
        if !(2..=3).contains(&version) {
            return Err(RunnerError::format(
                path,
                format!("GGUF version {version} is not supported (expected 2 or 3)"),
            ));
        }
        let n_tensors = r.u64("the tensor count").map_err(err)?;
        let n_kv = r.u64("the metadata count").map_err(err)?;
        let mut metadata = BTreeMap::new();
        for i in 0..n_kv {
            let key = r.string(&format!("metadata key #{i}")).map_err(err)?;
            let ty = r
                .u32(&format!("the type of metadata `{key}`"))
                .map_err(err)?;
            let value = r.value(ty, &format!("metadata `{key}`"), 0).map_err(err)?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::new();
        for i in 0..n_tensors {
            let name = r.string(&format!("tensor name #{i}")).map_err(err)?;
            let n_dims = r
                .u32(&format!("the rank of tensor `{name}`"))
                .map_err(err)?;
            if n_dims > 8 {
                return Err(RunnerError::tensor(
                    path,
                    name,
                    format!("rank {n_dims} (expected at most 8)"),
                ));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(
                    r.u64(&format!("the dims of tensor `{name}`"))
                        .map_err(err)?,
                );
            }
            let count = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
            if count.is_none_or(|n| n > i64::MAX as u64) {
                return Err(RunnerError::tensor(
                    path,
                    name,
                    format!("dims {dims:?} describe more elements than any file holds"),
                ));
            }
            let ty = GgmlType::from_id(
                r.u32(&format!("the type of tensor `{name}`"))
                    .map_err(err)?,
            );
            let offset = r
                .u64(&format!("the offset of tensor `{name}`"))
                .map_err(err)?;
            tensors.push(GgufTensor {
                name,
                dims,
                ty,
                offset,
            });
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(RunnerError::format(
                        path,
                        format!("`general.alignment` is {v:?}, expected a power of two"),
                    ));
                }
            },
        };
        let data_start = (r.pos as u64).div_ceil(alignment) * alignment;
        let gguf = Gguf {
            path: path.to_owned(),
            version,
            metadata,
            tensors,
            data_start: data_start as usize,
            data: Arc::new(data),
        };
        for t in &gguf.tensors {
            gguf.check_extent(t)?;
        }
        Ok(gguf)
    }

    /// Where a tensor's data starts in the file and how many bytes it takes, for a type with
    /// blocks of `block` elements in `size` bytes (saturating: overflow lands past the end).
    fn extent(&self, t: &GgufTensor, block: u64, size: u64) -> (u64, u64) {
        let start = (self.data_start as u64).saturating_add(t.offset);
        (start, (t.elements() / block).saturating_mul(size))
    }

    fn check_extent(&self, t: &GgufTensor) -> Result<(), RunnerError> {
        let Some((block, size)) = t.ty.block() else {
            // Reported when the tensor is loaded: files may carry tensors a model never uses.
            return Ok(());
        };
        let elements = t.elements();
        if !elements.is_multiple_of(block) {
            return Err(RunnerError::tensor(
                &self.path,
                &t.name,
                format!(
                    "{} elements of type {} (expected a multiple of its block size {block})",
                    elements, t.ty
                ),
            ));
        }
        let (start, bytes) = self.extent(t, block, size);
        let file = self.data.len() as u64;
        if start.checked_add(bytes).is_none_or(|end| end > file) {
            return Err(RunnerError::tensor(
                &self.path,
                &t.name,
                format!(
                    "{} data of {bytes} bytes at offset {start} runs past the end of the file ({file} bytes); the file is truncated",
                    t.ty
                ),
            ));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    fn wrong_type(&self, key: &str, value: &MetaValue, expected: &str) -> RunnerError {
        RunnerError::format(
            &self.path,
            format!(
                "metadata `{key}` is a {}, expected {expected}",
                value.type_name()
            ),
        )
    }

    /// A required unsigned integer.
    pub fn u64(&self, key: &str) -> Result<u64, RunnerError> {
        let v = self.get(key).ok_or_else(|| {
            RunnerError::format(&self.path, format!("metadata `{key}` is missing"))
        })?;
        v.as_u64()
            .ok_or_else(|| self.wrong_type(key, v, "an unsigned integer"))
    }

    /// An optional unsigned integer (present but mistyped is an error).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, RunnerError> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.wrong_type(key, v, "an unsigned integer"))
            })
            .transpose()
    }

    /// An optional float.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, RunnerError> {
        self.get(key)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| self.wrong_type(key, v, "a number"))
            })
            .transpose()
    }

    /// An optional string.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, RunnerError> {
        match self.get(key) {
            None => Ok(None),
            Some(MetaValue::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong_type(key, v, "a string")),
        }
    }

    /// An optional bool.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, RunnerError> {
        match self.get(key) {
            None => Ok(None),
            Some(MetaValue::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong_type(key, v, "a bool")),
        }
    }

    /// A required array of strings.
    pub fn str_array(&self, key: &str) -> Result<Vec<&str>, RunnerError> {
        let v = self.get(key).ok_or_else(|| {
            RunnerError::format(&self.path, format!("metadata `{key}` is missing"))
        })?;
        let MetaValue::Array(items) = v else {
            return Err(self.wrong_type(key, v, "an array of strings"));
        };
        items
            .iter()
            .map(|item| match item {
                MetaValue::String(s) => Ok(s.as_str()),
                other => Err(self.wrong_type(key, other, "an array of strings")),
            })
            .collect()
    }

    /// An optional array of integers.
    pub fn opt_int_array(&self, key: &str) -> Result<Option<Vec<i64>>, RunnerError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let MetaValue::Array(items) = v else {
            return Err(self.wrong_type(key, v, "an array of integers"));
        };
        items
            .iter()
            .map(|item| match *item {
                MetaValue::I32(x) => Ok(x.into()),
                MetaValue::I64(x) => Ok(x),
                ref other => other
                    .as_u64()
                    .map(|x| x as i64)
                    .ok_or_else(|| self.wrong_type(key, other, "an array of integers")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub fn opt_float_array(&self, key: &str) -> Result<Option<Vec<f64>>, RunnerError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let MetaValue::Array(items) = v else {
            return Err(self.wrong_type(key, v, "an array of numbers"));
        };
        items
            .iter()
            .map(|item| {
                item.as_f64()
                    .ok_or_else(|| self.wrong_type(key, item, "an array of numbers"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor (for this file's tensors, checked at parse to lie inside it).
    pub fn bytes(&self, t: &GgufTensor) -> Result<&[u8], RunnerError> {
        let (data, range) = self.shared_bytes(t)?;
        Ok(&data[range])
    }

    /// The whole file and where tensor `t`'s bytes lie in it, to keep them without a copy.
    pub fn shared_bytes(
        &self,
        t: &GgufTensor,
    ) -> Result<(&Arc<Vec<u8>>, std::ops::Range<usize>), RunnerError> {
        let (block, size) = t.ty.block().ok_or_else(|| {
            RunnerError::tensor(
                &self.path,
                &t.name,
                format!(
                    "type {} is not supported (expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K or Q6_K)",
                    t.ty
                ),
            )
        })?;
        let (start, len) = self.extent(t, block, size);
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(start, len)| {
                let range = start..start.checked_add(len)?;
                self.data.get(range.clone()).map(|_| (&self.data, range))
            })
            .ok_or_else(|| {
                RunnerError::tensor(
                    &self.path,
                    &t.name,
                    format!("{len} bytes at offset {start} lie outside the file"),
                )
            })
    }

    /// A tensor dequantised to `kind` (a float kind), in libtorch's shape order.
    #[cfg(feature = "local")]
    pub fn load(&self, t: &GgufTensor, kind: Kind) -> Result<Tensor, RunnerError> {
        let bytes = self.bytes(t)?;
        let shape = t.shape();
        let flat = dequantize(t.ty, bytes).map_err(|e| {
            RunnerError::tensor(&self.path, &t.name, format!("dequantising {}: {e}", t.ty))
        })?;
        Ok(flat.reshape(&shape).to_kind(kind))
    }
}

#[cfg(feature = "local")]
/// Dequantises a whole tensor's bytes to a flat f32 tensor (or f16/bf16 for those types).
pub fn dequantize(ty: GgmlType, bytes: &[u8]) -> Result<Tensor, tch::TchError> {
    let n = bytes.len() as i64;
    let raw = |kind: Kind, elt: i64| Tensor::f_from_data_size(bytes, &[n / elt], kind);
    match ty {
        GgmlType::F32 => raw(Kind::Float, 4),
        GgmlType::F16 => raw(Kind::Half, 2),
        GgmlType::BF16 => raw(Kind::BFloat16, 2),
        GgmlType::Other(id) => Err(tch::TchError::Kind(format!(
            "ggml type {id} is not supported"
        ))),
        GgmlType::Q4_0
        | GgmlType::Q4_1
        | GgmlType::Q8_0
        | GgmlType::Q4K
        | GgmlType::Q5K
        | GgmlType::Q6K => {
            let Some(kind) = ty.block_kind() else {
                unreachable!("{ty} is a block type");
            };
            let blocks = bytes.len() / kind.block_bytes();
            let mut out = vec![0f32; blocks * kind.block_elems()];
            llm_cooperation_kernels::dequantize(kind, bytes, &mut out)
                .map_err(tch::TchError::Kind)?;
            Ok(Tensor::from_slice(&out))
        }
    }
}

/// A bounds-checked little-endian cursor whose errors say what was being read.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(format!(
                "truncated: {what} needs {n} bytes at offset {} but the file has {} bytes",
                self.pos,
                self.data.len()
            ));
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn len(&mut self, what: &str) -> Result<usize, String> {
        let n = self.u64(what)?;
        // Every element takes at least one byte, so a length beyond the file is corrupt.
        if n > self.data.len() as u64 {
            return Err(format!(
                "{what}: length {n} at offset {} exceeds the file size {}",
                self.pos - 8,
                self.data.len()
            ));
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        let n = self.len(what)?;
        let bytes = self.bytes(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
    }

    /// A value of type `ty`; `what` names it in errors (built once per key, not per item).
    fn value(&mut self, ty: u32, what: &str, depth: u32) -> Result<MetaValue, String> {
        Ok(match ty {
            0 => MetaValue::U8(self.array::<1>(what)?[0]),
            1 => MetaValue::I8(i8::from_le_bytes(self.array(what)?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => MetaValue::U32(self.u32(what)?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => MetaValue::Bool(self.array::<1>(what)?[0] != 0),
            8 => MetaValue::String(self.string(what)?),
            9 => {
                if depth > 0 {
                    return Err(format!("{what}: nested arrays are not supported"));
                }
                let item_ty = self.u32(what)?;
                let n = self.len(what)?;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    items.push(self.value(item_ty, what, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64(what)?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(format!("{what} has unknown value type {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut b = (s.len() as u64).to_le_bytes().to_vec();
        b.extend(s.as_bytes());
        b
    }

    /// A GGUF v3 file with no metadata and one F32 tensor of `dims`, and `data` bytes of data.
    fn file(dims: &[u64], data: usize) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes()); // tensors
        b.extend(0u64.to_le_bytes()); // metadata
        b.extend(string("w"));
        b.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(0u32.to_le_bytes()); // F32
        b.extend(0u64.to_le_bytes()); // offset
        b.resize(b.len().div_ceil(32) * 32 + data, 0);
        b
    }

    #[test]
    fn a_small_file_parses() {
        let g = Gguf::parse(Path::new("m.gguf"), file(&[4, 2], 32)).unwrap();
        assert_eq!(g.tensors[0].shape(), [2, 4]);
        assert_eq!(g.bytes(&g.tensors[0]).unwrap().len(), 32);
    }

    /// Found by the `gguf` fuzz target: dims whose product overflows 64 bits used to panic
    /// (debug) or wrap to a small count that passed the size check (release).
    #[test]
    fn dims_that_overflow_are_an_error_naming_the_tensor() {
        for dims in [&[1u64 << 40, 1 << 40][..], &[u64::MAX, 2], &[1 << 63]] {
            let err = Gguf::parse(Path::new("m.gguf"), file(dims, 0)).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("`w`") && msg.contains("more elements"),
                "{msg}"
            );
        }
    }

    /// Also found by the fuzz target: an offset near `u64::MAX` overflowed the extent check.
    #[test]
    fn offsets_and_sizes_past_u64_are_truncation_errors() {
        let mut bytes = file(&[4, 2], 32);
        // magic, version, counts, the name `w`, its rank, two dims, its type; then the offset.
        let at = 4 + 4 + 8 + 8 + (8 + 1) + 4 + 2 * 8 + 4;
        bytes[at..at + 8].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
        let err = Gguf::parse(Path::new("m.gguf"), bytes).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = Gguf::parse(Path::new("m.gguf"), file(&[1 << 62], 0)).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn a_truncated_tensor_says_so() {
        let err = Gguf::parse(Path::new("m.gguf"), file(&[4, 2], 16)).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
