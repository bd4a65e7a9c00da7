#!/usr/bin/env python3
"""Write the Function Compute code package: a zip holding one executable named `bootstrap`.

Why a script of our own instead of `zip`: the archive must be byte-for-byte reproducible so
that the same binary always gives the same package (and the same CRC-64 checksum Terraform
sends), whatever the file's mtime, owner or umask on the build machine. Everything that could
vary is pinned here: one entry, fixed name, fixed timestamp (1980-01-01, the earliest DOS
date), Unix "made by" system, regular file mode 0755, Deflate at level 9, no extra fields and
no comment. Only the Python standard library is used (python3 is on every build machine).

Deflate output depends on the zlib build; the same machine image gives the same bytes.

Usage: make-zip.py <binary> <output.zip>
"""

import sys
import zipfile

ENTRY_NAME = "bootstrap"
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
UNIX_SYSTEM = 3
REGULAR_FILE_0755 = 0o100755


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: make-zip.py <binary> <output.zip>\n")
        return 2
    binary_path, zip_path = argv[1], argv[2]
    try:
        with open(binary_path, "rb") as binary:
            payload = binary.read()
    except OSError as err:
        sys.stderr.write(f"make-zip.py: cannot read {binary_path}: {err}\n")
        return 1

    info = zipfile.ZipInfo(ENTRY_NAME, date_time=FIXED_DATE_TIME)
    info.create_system = UNIX_SYSTEM
    info.external_attr = REGULAR_FILE_0755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED

    try:
        with zipfile.ZipFile(zip_path, "w") as archive:
            archive.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    except OSError as err:
        sys.stderr.write(f"make-zip.py: cannot write {zip_path}: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
