#!/usr/bin/python3
# Writes tests/data/spm/hard_cases.txt: one hard case per line (LF only).
# Run once from the project root; the output is committed.  Bytes are
# written exactly (one line holds invalid UTF-8 on purpose).
lines = [
    "Habari yako? Watu wote wamezaliwa huru, hadhi na haki zao ni sawa.",
    "Dukkan ’yan Adam an haife su ’yantattu, kuma kowa na da mutunci.",
    "ɓaɗaɗɗen ƙasa ƴaƴa Ɓ Ɗ Ƙ Ƴ ’yan ’ya’ya ƙƙƙ ɗɗɗ",
    "👨‍👩‍👧‍👦 familia 👍🏽 ❤️ 🇰🇪🇳🇬 emoji😀😀😀",
    "e\u0301 a\u0300 n\u0303 \u0253\u0301 o\u0308\u0304 combining",
    "a   b\t\tc \t d",
    "   leading spaces",
    "trailing spaces   ",
    "\ttab first and last\t",
    "2024 ni mwaka 1,234.56 na 0001 F1 3rd 4x4 v2.0 1000000",
    "Habari 你好 مرحبا Привет नमस्ते こんにちは 안녕 Γειά",
    "ninakupenda" * 150,
    "",
    "    ",
    "<s> </s> <unk> <pad> <0x41> literal specials",
    "ｆｕｌｌｗｉｄｔｈ ﬁnance ① ² Ⅻ ㌀ \u00a0nbsp\u3000ideographic …",
    "zero\u200bwidth \ufeffbom soft\u00adhyphen",
    "▁ already has meta ▁▁ symbols▁",
    "«Hello», “quoted” — dash – ‘single’ \"ascii\" 'apos'",
    "a",
    " ",
    "▁",
    "😀" * 60,
    "Ωμέγα ÅÅ ﬀ Ｋ ℃ ¼ ﾊﾝｶｸ",
    "control\x01\x07chars\x7f",
    "x" * 3000,
]
raw = [l.encode("utf-8") for l in lines]
raw.append(b"invalid \xff\xfe utf8 \xc3( and \xe2\x82 truncated \xf0\x9f")
raw.append(b"overlong \xc0\xaf and surrogate \xed\xa0\x80 end")
raw.append("crlf line\r".encode())
with open("tests/data/spm/hard_cases.txt", "wb") as f:
    for r in raw:
        assert b"\n" not in r
        f.write(r + b"\n")
