//! A CANopen object dictionary: objects by index, their sub-entries with data type,
//! access and PDO mappability, default and present values; lookups that fail with the
//! SDO abort code a device answers; and the EDS file (CiA 306) that describes it, so a
//! master such as python's `canopen` knows the device from the same table it runs on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use embody_protocol::canopen::{AbortCode, Address};

/// The data types used here (CiA 301's codes in [`Kind::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UNSIGNED8.
    U8,
    /// INTEGER8.
    I8,
    /// UNSIGNED16.
    U16,
    /// INTEGER16.
    I16,
    /// UNSIGNED32.
    U32,
    /// INTEGER32.
    I32,
    /// VISIBLE_STRING.
    Text,
}

impl Kind {
    /// Bytes a value takes (none fixed for text).
    pub fn size(self) -> Option<usize> {
        match self {
            Kind::U8 | Kind::I8 => Some(1),
            Kind::U16 | Kind::I16 => Some(2),
            Kind::U32 | Kind::I32 => Some(4),
            Kind::Text => None,
        }
    }

    /// The data type's code in an EDS.
    pub fn code(self) -> u16 {
        match self {
            Kind::I8 => 0x0002,
            Kind::I16 => 0x0003,
            Kind::I32 => 0x0004,
            Kind::U8 => 0x0005,
            Kind::U16 => 0x0006,
            Kind::U32 => 0x0007,
            Kind::Text => 0x0009,
        }
    }

    fn signed(self) -> bool {
        matches!(self, Kind::I8 | Kind::I16 | Kind::I32)
    }
}

/// Who may read and write an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only, changed by the device.
    Ro,
    /// Read and write.
    Rw,
    /// Read only, never changes.
    Const,
}

impl Access {
    fn eds(self) -> &'static str {
        match self {
            Access::Ro => "ro",
            Access::Rw => "rw",
            Access::Const => "const",
        }
    }
}

/// One value of the dictionary.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its name (the EDS's ParameterName).
    pub name: &'static str,
    /// Its data type.
    pub kind: Kind,
    /// Its access.
    pub access: Access,
    /// Whether a PDO may map it.
    pub mappable: bool,
    /// Its value after a reset, little-endian (text: its bytes).
    pub default: Vec<u8>,
    /// Its value now.
    pub value: Vec<u8>,
    /// The default is this plus the node id (a COB-ID): `$NODEID+…` in the EDS.
    pub plus_node: Option<u32>,
}

impl Entry {
    /// A numeric entry of `kind` whose default is `default` (truncated to the size).
    pub fn number(name: &'static str, kind: Kind, access: Access, default: i64) -> Entry {
        let size = kind.size().unwrap_or(4);
        let bytes = default.to_le_bytes()[..size].to_vec();
        Entry {
            name,
            kind,
            access,
            mappable: false,
            default: bytes.clone(),
            value: bytes,
            plus_node: None,
        }
    }

    /// A constant text entry.
    pub fn text(name: &'static str, text: &str) -> Entry {
        Entry {
            name,
            kind: Kind::Text,
            access: Access::Const,
            mappable: false,
            default: text.as_bytes().to_vec(),
            value: text.as_bytes().to_vec(),
            plus_node: None,
        }
    }

    /// The same, mappable to PDOs.
    pub fn mappable(mut self) -> Entry {
        self.mappable = true;
        self
    }

    /// The same, its default `base` plus `node` (a COB-ID).
    pub fn plus_node(mut self, base: u32, node: u8) -> Entry {
        let value = (base + u32::from(node)).to_le_bytes().to_vec();
        self.default.clone_from(&value);
        self.value = value;
        self.plus_node = Some(base);
        self
    }

    /// The value as a signed integer (sign-extended by the type).
    pub fn as_i64(&self) -> i64 {
        integer(self.kind, &self.value)
    }

    fn default_text(&self) -> String {
        match (self.kind, self.plus_node) {
            (Kind::Text, _) => String::from_utf8_lossy(&self.default).into_owned(),
            (_, Some(base)) => format!("$NODEID+{base:#X}"),
            _ => match integer(self.kind, &self.default) {
                v if v < 0 => format!("{v}"),
                v => format!("{v:#X}"),
            },
        }
    }
}

/// Little-endian `bytes` of `kind` as an integer, sign-extended for signed types.
fn integer(kind: Kind, bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    let raw = i64::from_le_bytes(b);
    match (kind.signed(), n) {
        (true, 1..=7) => {
            let shift = 64 - 8 * n as u32;
            (raw << shift) >> shift
        }
        _ => raw,
    }
}

/// An object: a single value (VAR) or numbered sub-entries (RECORD/ARRAY, sub 0 their
/// count).
#[derive(Clone, Debug)]
pub struct Object {
    /// Its name.
    pub name: &'static str,
    /// Its entries by sub-index (a VAR has only 0).
    pub entries: BTreeMap<u8, Entry>,
    /// A VAR: one value.
    pub var: bool,
}

/// The dictionary of one device.
#[derive(Clone, Debug, Default)]
pub struct Dictionary {
    objects: BTreeMap<u16, Object>,
}

impl Dictionary {
    /// Adds a single-value object.
    pub fn var(&mut self, index: u16, entry: Entry) {
        let name = entry.name;
        self.objects.insert(
            index,
            Object {
                name,
                entries: BTreeMap::from([(0, entry)]),
                var: true,
            },
        );
    }

    /// Adds a record of `entries` (sub 1, 2, …; sub 0 their count, `count_access`).
    pub fn record(
        &mut self,
        index: u16,
        name: &'static str,
        count_access: Access,
        entries: Vec<(u8, Entry)>,
    ) {
        let highest = entries.iter().map(|(s, _)| *s).max().unwrap_or(0);
        let mut map = BTreeMap::from([(
            0,
            Entry::number(
                "Highest sub-index supported",
                Kind::U8,
                count_access,
                i64::from(highest),
            ),
        )]);
        map.extend(entries);
        self.objects.insert(
            index,
            Object {
                name,
                entries: map,
                var: false,
            },
        );
    }

    /// The entry at `a`, or the abort code saying why not.
    pub fn entry(&self, a: Address) -> Result<&Entry, AbortCode> {
        self.objects
            .get(&a.index)
            .ok_or(AbortCode::NO_OBJECT)?
            .entries
            .get(&a.sub)
            .ok_or(AbortCode::NO_SUB_INDEX)
    }

    /// The entry at `a`, to change.
    pub fn entry_mut(&mut self, a: Address) -> Result<&mut Entry, AbortCode> {
        self.objects
            .get_mut(&a.index)
            .ok_or(AbortCode::NO_OBJECT)?
            .entries
            .get_mut(&a.sub)
            .ok_or(AbortCode::NO_SUB_INDEX)
    }

    /// The value at `a` as an integer (0 where there is none).
    pub fn get(&self, a: Address) -> i64 {
        self.entry(a).map_or(0, Entry::as_i64)
    }

    /// Sets the numeric value at `a` as the device (no access check; truncated to the
    /// type's size). Nothing where there is no such entry.
    pub fn set(&mut self, a: Address, value: i64) {
        if let Ok(e) = self.entry_mut(a) {
            let size = e.kind.size().unwrap_or(4);
            e.value = value.to_le_bytes()[..size].to_vec();
        }
    }

    /// Every entry back to its default, in the objects `indices` covers.
    pub fn reset(&mut self, indices: std::ops::RangeInclusive<u16>) {
        for (_, object) in self.objects.range_mut(indices) {
            for entry in object.entries.values_mut() {
                entry.value.clone_from(&entry.default);
            }
        }
    }

    /// The EDS file describing the dictionary (CiA 306), the COB-IDs relative to
    /// `$NODEID`.
    pub fn eds(&self, device: &DeviceInfo) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "[FileInfo]\nFileName={file}\nFileVersion=1\nFileRevision=0\nEDSVersion=4.0\n\
             Description={description}\nCreatedBy=embody\n\n\
             [DeviceInfo]\nVendorName={vendor}\nVendorNumber={vendor_id:#X}\n\
             ProductName={product}\nProductNumber={product_code:#X}\nRevisionNumber=0x1\n\
             BaudRate_10=0\nBaudRate_20=0\nBaudRate_50=0\nBaudRate_125=1\nBaudRate_250=1\n\
             BaudRate_500=1\nBaudRate_800=0\nBaudRate_1000=1\nSimpleBootUpMaster=0\n\
             SimpleBootUpSlave=1\nGranularity=8\nDynamicChannelsSupported=0\n\
             GroupMessaging=0\nNrOfRXPDO={rpdos}\nNrOfTXPDO={tpdos}\nLSS_Supported=0\n\n\
             [DummyUsage]\nDummy0001=0\nDummy0002=0\nDummy0003=0\nDummy0004=0\n\
             Dummy0005=0\nDummy0006=0\nDummy0007=0\n\n",
            file = device.file,
            description = device.description,
            vendor = device.vendor,
            vendor_id = device.vendor_id,
            product = device.product,
            product_code = device.product_code,
            rpdos = self.objects.range(0x1400..=0x15FF).count(),
            tpdos = self.objects.range(0x1800..=0x19FF).count(),
        );
        let mandatory = [0x1000u16, 0x1001, 0x1018];
        let groups: [(&str, Vec<u16>); 3] = [
            ("MandatoryObjects", mandatory.to_vec()),
            (
                "OptionalObjects",
                self.objects
                    .keys()
                    .copied()
                    .filter(|i| !mandatory.contains(i) && !(0x2000..0x6000).contains(i))
                    .collect(),
            ),
            (
                "ManufacturerObjects",
                self.objects
                    .range(0x2000..0x6000)
                    .map(|(i, _)| *i)
                    .collect(),
            ),
        ];
        for (group, indices) in groups {
            let _ = writeln!(s, "[{group}]\nSupportedObjects={}", indices.len());
            for (n, index) in indices.iter().enumerate() {
                let _ = writeln!(s, "{}={index:#06X}", n + 1);
            }
            s.push('\n');
            for index in indices {
                if let Some(object) = self.objects.get(&index) {
                    write_object(&mut s, index, object);
                }
            }
        }
        s
    }
}

/// What an EDS says about the device itself.
pub struct DeviceInfo {
    /// The file's name.
    pub file: &'static str,
    /// A line about it.
    pub description: &'static str,
    /// The vendor's name.
    pub vendor: &'static str,
    /// The vendor id (0x1018:1).
    pub vendor_id: u32,
    /// The product's name.
    pub product: &'static str,
    /// The product code (0x1018:2).
    pub product_code: u32,
}

fn write_entry(s: &mut String, section: &str, entry: &Entry) {
    let _ = write!(
        s,
        "[{section}]\nParameterName={}\nObjectType=0x7\nDataType={:#06X}\nAccessType={}\n\
         DefaultValue={}\nPDOMapping={}\n\n",
        entry.name,
        entry.kind.code(),
        entry.access.eds(),
        entry.default_text(),
        u8::from(entry.mappable),
    );
}

fn write_object(s: &mut String, index: u16, object: &Object) {
    let section = format!("{index:04X}");
    if object.var {
        if let Some(entry) = object.entries.get(&0) {
            write_entry(s, &section, entry);
        }
        return;
    }
    let _ = write!(
        s,
        "[{section}]\nParameterName={}\nObjectType=0x9\nSubNumber={}\n\n",
        object.name,
        object.entries.len()
    );
    for (sub, entry) in &object.entries {
        write_entry(s, &format!("{section}sub{sub:X}"), entry);
    }
}
