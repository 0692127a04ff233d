#!/usr/bin/python3
"""Makes the hand-built zip fixtures of tests/test_torchbin.c under
tests/data/io/ with Python's zipfile alone (no torch; run once from the
project root, the outputs are committed):

  empty_prefix.bin   entries '/data.pkl' (an empty dict, protocol 2:
                     b'\\x80\\x02}.') and 'version': the archive prefix is
                     empty and an entry has no '/' at all (once a NULL
                     pointer handed to memcmp in the zip reader)
  crc_flipped.bin    state.bin with one byte of the storage 'data/0'
                     flipped after the fact: the central directory's CRC-32
                     no longer matches the data
  crc_pickle.bin     state.bin with one byte of data.pkl flipped
                     where the unpickler still reads it (the first key:
                     "weight" becomes "veight")
"""
import zipfile

OUT = "tests/data/io"


def stored(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)


def flip(src, dst, entry, find=None):
    """Copies src to dst with one byte of entry's data changed (the
    first byte, or the first byte of `find` inside it); the zip's CRCs are
    left as they were."""
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(entry)
        assert info.compress_type == zipfile.ZIP_STORED
        data = z.read(entry)
    raw = bytearray(open(src, "rb").read())
    lh = info.header_offset
    assert raw[lh:lh + 4] == b"PK\x03\x04"
    n = raw[lh + 26] | raw[lh + 27] << 8
    x = raw[lh + 28] | raw[lh + 29] << 8
    start = lh + 30 + n + x
    assert raw[start:start + len(data)] == data
    at = start + (data.index(find) if find else 0)
    raw[at] ^= 0x01
    open(dst, "wb").write(bytes(raw))


def main():
    stored(f"{OUT}/empty_prefix.bin",
           [("/data.pkl", b"\x80\x02}."), ("version", b"3\n")])
    flip(f"{OUT}/state.bin", f"{OUT}/crc_flipped.bin", "state/data/0")
    flip(f"{OUT}/state.bin", f"{OUT}/crc_pickle.bin", "state/data.pkl",
         b"weight")


if __name__ == "__main__":
    main()
