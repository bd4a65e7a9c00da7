//! The Function Compute code package built by `scripts/package.sh`.
//!
//! FC unpacks the zip to `/code` and runs `/code/bootstrap` (no `command` configured), so the
//! package must hold exactly one executable named `bootstrap` at its root, and that binary must
//! need no shared libraries: the custom runtimes span Debian 9 to 12, each with its own glibc.
//! The zip must also be reproducible, so the same binary always gives the same package and the
//! same checksum in Terraform (no spurious function updates).
//!
//! The packaging runs once per test process, with the quick `package-check` profile into
//! `target/package-check-dist/` (the zip's shape and the binary's linkage do not depend on
//! optimisation; `make package` ships the fat-LTO release build into `dist/`); every test below
//! reads its output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

struct Package {
    zip: Vec<u8>,
    binary: Vec<u8>,
}

fn repo_root() -> PathBuf {
    crate::repo_root()
}

/// Runs `scripts/package.sh` once and reads what it wrote.
fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let root = repo_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let dist = target.join("package-check-dist");
        // The musl build has a target directory of its own, so it never waits for the lock of
        // the directory the tests were built in (and `.ci/run` can start it early, beside them).
        let mut command = Command::new("bash");
        // As from a shell: without the variables cargo sets for this test process. ring's build
        // script reruns when `CARGO_MANIFEST_DIR` differs, so inheriting it would rebuild half
        // the graph that `.ci/run` built beforehand.
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(set_by_cargo_for_a_test) {
                command.env_remove(name);
            }
        }
        let output = command
            .env("CARGO_TARGET_DIR", target.join("package-check"))
            .arg(root.join("scripts/package.sh"))
            .args(["--profile", "package-check", "--out"])
            .arg(&dist)
            .current_dir(&root)
            .output()
            .expect("bash runs scripts/package.sh");
        assert!(
            output.status.success(),
            "scripts/package.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Package {
            zip: read(&dist.join("sg-remediator.zip")),
            binary: read(&dist.join("bootstrap")),
        }
    })
}

/// The variables `cargo test` adds to a test's environment (the Cargo book, "Environment
/// variables Cargo sets for crates"), which no shell running `scripts/package.sh` has.
fn set_by_cargo_for_a_test(name: &str) -> bool {
    matches!(
        name,
        "CARGO"
            | "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
    ) || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// One central-directory entry, with the fields FC's unzip relies on.
#[derive(Debug)]
struct ZipEntry {
    name: String,
    made_by_system: u8,
    unix_mode: u32,
    method: u16,
    dos_time: u16,
    dos_date: u16,
    crc32: u32,
    compressed_size: usize,
    size: usize,
    local_header_offset: usize,
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const METHOD_DEFLATE: u16 = 8;
const SYSTEM_UNIX: u8 = 3;

/// Reads the central directory (the authoritative listing, as `unzip -l` does).
fn central_directory(zip: &[u8]) -> Vec<ZipEntry> {
    let eocd = (0..=zip.len() - 22)
        .rev()
        .find(|&at| u32_at(zip, at) == EOCD_SIGNATURE)
        .expect("end of central directory record");
    let count = usize::from(u16_at(zip, eocd + 10));
    let mut at = u32_at(zip, eocd + 16) as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(u32_at(zip, at), CENTRAL_SIGNATURE, "central header at {at}");
        let name_len = usize::from(u16_at(zip, at + 28));
        let extra_len = usize::from(u16_at(zip, at + 30));
        let comment_len = usize::from(u16_at(zip, at + 32));
        entries.push(ZipEntry {
            name: String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).expect("utf-8"),
            made_by_system: zip[at + 5],
            unix_mode: u32_at(zip, at + 38) >> 16,
            method: u16_at(zip, at + 10),
            dos_time: u16_at(zip, at + 12),
            dos_date: u16_at(zip, at + 14),
            crc32: u32_at(zip, at + 16),
            compressed_size: u32_at(zip, at + 20) as usize,
            size: u32_at(zip, at + 24) as usize,
            local_header_offset: u32_at(zip, at + 42) as usize,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    entries
}

/// Inflates an entry's data as an unzip tool would (local header, then raw Deflate).
fn extract(zip: &[u8], entry: &ZipEntry) -> Vec<u8> {
    let at = entry.local_header_offset;
    assert_eq!(u32_at(zip, at), LOCAL_SIGNATURE, "local header at {at}");
    let data = at + 30 + usize::from(u16_at(zip, at + 26)) + usize::from(u16_at(zip, at + 28));
    let compressed = &zip[data..data + entry.compressed_size];
    assert_eq!(entry.method, METHOD_DEFLATE, "entry is Deflate-compressed");
    miniz_oxide::inflate::decompress_to_vec(compressed).expect("valid Deflate stream")
}

/// CRC-32 (IEEE, reflected), as zip stores it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn only_entry(zip: &[u8]) -> ZipEntry {
    let mut entries = central_directory(zip);
    assert_eq!(entries.len(), 1, "exactly one entry: {entries:?}");
    entries.pop().expect("one entry")
}

#[test]
fn package_holds_exactly_one_entry_named_bootstrap_at_the_root() {
    let entry = only_entry(&package().zip);
    assert_eq!(entry.name, "bootstrap");
}

#[test]
fn bootstrap_entry_is_a_unix_regular_file_with_mode_0755() {
    let entry = only_entry(&package().zip);
    assert_eq!(
        entry.made_by_system, SYSTEM_UNIX,
        "mode bits are only honoured for Unix entries"
    );
    assert_eq!(entry.unix_mode, 0o100755, "regular file, rwxr-xr-x");
}

#[test]
fn bootstrap_entry_has_the_fixed_1980_timestamp() {
    let entry = only_entry(&package().zip);
    // DOS date: (year - 1980) << 9 | month << 5 | day; time 00:00:00.
    assert_eq!((entry.dos_date, entry.dos_time), (1 << 5 | 1, 0));
}

#[test]
fn bootstrap_entry_unzips_to_the_built_binary() {
    let package = package();
    let entry = only_entry(&package.zip);
    let content = extract(&package.zip, &entry);
    assert_eq!(content.len(), entry.size);
    assert_eq!(
        crc32(&content),
        entry.crc32,
        "stored CRC-32 matches the content"
    );
    assert!(
        content == package.binary,
        "zip content equals dist/bootstrap"
    );
}

/// ELF facts the test needs: machine, and whether the loader or shared libraries are required.
struct ElfLinkage {
    machine: u16,
    has_interpreter: bool,
    needed_libraries: usize,
}

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const EM_X86_64: u16 = 62;

/// Parses the 64-bit little-endian ELF program headers.
///
/// Rust's musl target links static-PIE by default: such a binary has a `PT_DYNAMIC` segment (it
/// relocates itself) but no `PT_INTERP` and no `DT_NEEDED`. Those two are what would make the
/// kernel hand it to a dynamic loader and shared libraries that a runtime may not have.
fn elf_linkage(elf: &[u8]) -> ElfLinkage {
    assert_eq!(&elf[..4], b"\x7fELF", "ELF magic");
    assert_eq!(elf[4], 2, "64-bit ELF");
    assert_eq!(elf[5], 1, "little-endian ELF");
    let phoff = u64_at(elf, 0x20) as usize;
    let phentsize = usize::from(u16_at(elf, 0x36));
    let phnum = usize::from(u16_at(elf, 0x38));
    let mut linkage = ElfLinkage {
        machine: u16_at(elf, 0x12),
        has_interpreter: false,
        needed_libraries: 0,
    };
    for index in 0..phnum {
        let header = phoff + index * phentsize;
        match u32_at(elf, header) {
            PT_INTERP => linkage.has_interpreter = true,
            PT_DYNAMIC => {
                let offset = u64_at(elf, header + 0x08) as usize;
                let size = u64_at(elf, header + 0x20) as usize;
                for entry in (offset..offset + size).step_by(16) {
                    match u64_at(elf, entry) {
                        DT_NULL => break,
                        DT_NEEDED => linkage.needed_libraries += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    linkage
}

#[test]
fn bootstrap_is_a_static_x86_64_executable() {
    let linkage = elf_linkage(&package().binary);
    assert_eq!(linkage.machine, EM_X86_64, "FC custom runtimes are x86_64");
    assert!(
        !linkage.has_interpreter,
        "no PT_INTERP: no dynamic loader needed"
    );
    assert_eq!(linkage.needed_libraries, 0, "no DT_NEEDED shared libraries");
}

#[test]
fn elf_check_detects_a_dynamically_linked_executable() {
    // The test process itself is a normal glibc executable: the check must call it dynamic,
    // or a passing static check above would prove nothing.
    let me = read(&std::env::current_exe().expect("test executable path"));
    let linkage = elf_linkage(&me);
    assert!(linkage.has_interpreter || linkage.needed_libraries > 0);
}

#[test]
fn zipping_the_same_binary_again_gives_identical_bytes() {
    let package = package();
    // A copy with another mtime and mode: neither may leak into the archive.
    let dir = std::env::temp_dir().join(format!("sg-remediator-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let copy = dir.join("some-other-name");
    std::fs::write(&copy, &package.binary).expect("copy binary");
    let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .and_then(|file| file.set_modified(long_ago))
        .expect("set mtime of the copy");
    let zip = dir.join("again.zip");
    let status = Command::new("python3")
        .arg(repo_root().join("scripts/make-zip.py"))
        .arg(&copy)
        .arg(&zip)
        .status()
        .expect("python3 runs scripts/make-zip.py");
    assert!(status.success(), "make-zip.py failed: {status}");
    let again = read(&zip);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        again == package.zip,
        "second zip differs from the package's zip"
    );
}
