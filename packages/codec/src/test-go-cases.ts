import type { NamingErrorCode } from "./naming-error.js";

export type Expected = { addr: string; metadata?: unknown; op?: 0 | 1 } | NamingErrorCode;

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

// Each row was checked against Go 1.19's encoding/json unmarshalling into etcd's
// struct { Op uint8; Addr string; Metadata interface{} } (an empty address is our extra rejection).
export const goDecodeCases: [name: string, value: string | Uint8Array, expected: Expected][] = [
  [
    "any ASCII casing of a field name",
    '{"aDdR":"h:1","METADATA":"m","oP":1}',
    { addr: "h:1", metadata: "m", op: 1 },
  ],
  ["escaped field name", '{"\\u0041ddr":"h:1"}', { addr: "h:1" }],
  ["non-ASCII look-alike is not the field", '{"Addr":"h:1","Ａddr":"x"}', { addr: "h:1" }],
  ["last duplicate wins", '{"Addr":"a","addr":"b"}', { addr: "b" }],
  ["null leaves a string field untouched", '{"Addr":"a","Addr":null}', { addr: "a" }],
  ["null Addr alone is empty", '{"Addr":null}', "EMPTY_ADDRESS"],
  ["empty Addr", '{"Addr":""}', "EMPTY_ADDRESS"],
  ["a wrong-typed duplicate rejects even if a later one is fine", '{"Addr":5,"Addr":"h:1"}', "INVALID_VALUE"],
  [
    "null Metadata replaces an earlier one",
    '{"Addr":"a","Metadata":1,"Metadata":null}',
    { addr: "a", metadata: null },
  ],
  ["Op null is ignored", '{"Op":null,"Addr":"a"}', { addr: "a", op: 0 }],
  ["Op 255", '{"Op":255,"Addr":"a"}', { addr: "a", op: 0 }],
  ["Op 1.0", '{"Op":1.0,"Addr":"a"}', "INVALID_VALUE"],
  ["Op 1e0", '{"Op":1e0,"Addr":"a"}', "INVALID_VALUE"],
  ["Op -0", '{"Op":-0,"Addr":"a"}', "INVALID_VALUE"],
  ["Op as a string", '{"Op":"1","Addr":"a"}', "INVALID_VALUE"],
  ["Op as a bool", '{"Op":true,"Addr":"a"}', "INVALID_VALUE"],
  ["Op as an object", '{"Op":{},"Addr":"a"}', "INVALID_VALUE"],
  ["Op beyond uint64", '{"Op":18446744073709551616,"Addr":"a"}', "INVALID_VALUE"],
  ["Addr as an object", '{"Addr":{"x":1}}', "INVALID_VALUE"],
  ["Addr as a bool", '{"Addr":true}', "INVALID_VALUE"],
  ["top-level true", "true", "INVALID_VALUE"],
  ["top-level number", "42", "INVALID_VALUE"],
  ["leading zero", '{"Addr":"a","x":01}', "INVALID_JSON"],
  ["trailing comma", '{"Addr":"a",}', "INVALID_JSON"],
  ["single quotes", "{'Addr':'a'}", "INVALID_JSON"],
  ["raw control character in a string", '{"Addr":"a\tb"}', "INVALID_JSON"],
  ["unknown escape", '{"Addr":"a\\xb"}', "INVALID_JSON"],
  ["short \\u escape", '{"Addr":"\\u12"}', "INVALID_JSON"],
  ["two values", '{"Addr":"a"}{"Addr":"b"}', "INVALID_JSON"],
  ["NaN literal", '{"Addr":"a","Metadata":NaN}', "INVALID_JSON"],
  ["type error, then syntax error: syntax wins", '{"Addr":5,', "INVALID_JSON"],
  ["metadata number overflowing float64", '{"Addr":"a","Metadata":1e400}', "INVALID_METADATA"],
  ["overflow inside metadata", '{"Addr":"a","Metadata":[1,-1e309]}', "INVALID_METADATA"],
  ["overflow in an ignored field is fine", '{"Addr":"a","Extra":1e400}', { addr: "a" }],
  ["underflow becomes 0", '{"Addr":"a","Metadata":1e-400}', { addr: "a", metadata: 0 }],
  ["negative zero", '{"Addr":"a","Metadata":-0}', { addr: "a", metadata: -0 }],
  [
    "largest float64",
    '{"Addr":"a","Metadata":1.7976931348623157e308}',
    { addr: "a", metadata: 1.7976931348623157e308 },
  ],
  ["lone high surrogate escape", '{"Addr":"a\\ud800b"}', { addr: "a\uFFFDb" }],
  ["lone low surrogate escape", '{"Addr":"\\udc00"}', { addr: "\uFFFD" }],
  ["reversed pair", '{"Addr":"\\ude00\\ud83d"}', { addr: "\uFFFD\uFFFD" }],
  ["high surrogate then a plain escape", '{"Addr":"\\ud83d\\u0041"}', { addr: "\uFFFDA" }],
  ["valid pair", '{"Addr":"\\uD83D\\uDE00"}', { addr: "\u{1F600}" }],
  ["high, then a valid pair", '{"Addr":"\\ud800\\ud800\\udc00"}', { addr: "\uFFFD\u{10000}" }],
  ["short escapes", '{"Addr":"\\"\\\\\\/\\b\\f\\n\\r\\t"}', { addr: '"\\/\b\f\n\r\t' }],
  ["NUL escape", '{"Addr":"a\\u0000"}', { addr: "a\u0000" }],
  ["lone surrogate in a JS string is U+FFFD (what etcd stores)", '{"Addr":"a\ud800"}', { addr: "a\uFFFD" }],
  [
    "metadata keys keep __proto__ as data",
    '{"Addr":"a","Metadata":{"__proto__":1}}',
    { addr: "a", metadata: JSON.parse('{"__proto__":1}') },
  ],
  [
    "duplicate metadata keys: last wins",
    '{"Addr":"a","Metadata":{"k":1,"k":2}}',
    { addr: "a", metadata: { k: 2 } },
  ],
  [
    "invalid UTF-8: one U+FFFD per bad byte",
    bytes('{"Addr":"a', [0xe2, 0x82], 'b"}'),
    { addr: "a\uFFFD\uFFFDb" },
  ],
  ["UTF-8 encoded surrogate", bytes('{"Addr":"', [0xed, 0xa0, 0x80], '"}'), { addr: "\uFFFD\uFFFD\uFFFD" }],
  ["overlong encoding", bytes('{"Addr":"', [0xc0, 0xaf], '"}'), { addr: "\uFFFD\uFFFD" }],
  ["beyond U+10FFFF", bytes('{"Addr":"', [0xf4, 0x90, 0x80, 0x80], '"}'), { addr: "\uFFFD".repeat(4) }],
  [
    "invalid UTF-8 in a metadata key",
    bytes('{"Addr":"a","Metadata":{"', [0xff], '":1}}'),
    { addr: "a", metadata: { "\uFFFD": 1 } },
  ],
  ["invalid UTF-8 outside a string", bytes('{"Addr":"a"}', [0xff]), "INVALID_JSON"],
  ["a byte order mark", bytes([0xef, 0xbb, 0xbf], '{"Addr":"a"}'), "INVALID_JSON"],
  ["valid multi-byte UTF-8", bytes('{"Addr":"東京","Metadata":"😀"}'), { addr: "東京", metadata: "😀" }],
];

// Each expected value is the output of Go 1.19 json.Marshal of etcd's endpoint update for
// { Addr: "h:1", Metadata: <the JSON metadata> }.
export const goEncodeCases: [name: string, metadata: unknown, value: string][] = [
  [
    "control characters",
    "\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f\u0080\u009f",
    '{"Op":0,"Addr":"h:1","Metadata":"\\u0000\\u0001\\u0008\\t\\n\\u000b\\u000c\\r\\u001f\u007f\u0080\u009f"}',
  ],
  ["quotes, backslash, slash", '"\\/', '{"Op":0,"Addr":"h:1","Metadata":"\\"\\\\/"}'],
  [
    "HTML characters",
    "<script>&amp;</script>",
    '{"Op":0,"Addr":"h:1","Metadata":"\\u003cscript\\u003e\\u0026amp;\\u003c/script\\u003e"}',
  ],
  [
    "line and paragraph separators",
    "a\u2028b\u2029c",
    '{"Op":0,"Addr":"h:1","Metadata":"a\\u2028b\\u2029c"}',
  ],
  [
    "astral and private-use characters stay raw",
    "\ud83d\ude00\ue000\uffff",
    '{"Op":0,"Addr":"h:1","Metadata":"\ud83d\ude00\ue000\uffff"}',
  ],
  [
    "keys sorted by UTF-8 bytes, not UTF-16 units",
    { "\uff21": 1, "\ud83d\ude00": 2, "\u00e9": 3, Z: 4, a: 5, "": 6, aa: 7 },
    '{"Op":0,"Addr":"h:1","Metadata":{"":6,"Z":4,"a":5,"aa":7,"\u00e9":3,"\uff21":1,"\ud83d\ude00":2}}',
  ],
  [
    "nested keys sorted",
    { b: { d: 1, c: [{ f: 1, e: 2 }] }, a: null },
    '{"Op":0,"Addr":"h:1","Metadata":{"a":null,"b":{"c":[{"e":2,"f":1}],"d":1}}}',
  ],
  [
    "exponent form from 1e21",
    [1e21, 1.5e300, 999999999999999900000, -1e21],
    '{"Op":0,"Addr":"h:1","Metadata":[1e+21,1.5e+300,999999999999999900000,-1e+21]}',
  ],
  [
    "exponent form below 1e-6",
    [1e-7, 5e-7, 1.5e-10, 5e-324, 1e-6, 1.5e-6],
    '{"Op":0,"Addr":"h:1","Metadata":[1e-7,5e-7,1.5e-10,5e-324,0.000001,0.0000015]}',
  ],
  [
    "integers and fractions",
    [0, 1, -1, 42.5, 9007199254740992, 0.1, 0.3333333333333333, 100, 123456789],
    '{"Op":0,"Addr":"h:1","Metadata":[0,1,-1,42.5,9007199254740992,0.1,0.3333333333333333,100,123456789]}',
  ],
  ["empty containers", { a: {}, b: [] }, '{"Op":0,"Addr":"h:1","Metadata":{"a":{},"b":[]}}'],
  ["booleans and null", [true, false, null], '{"Op":0,"Addr":"h:1","Metadata":[true,false,null]}'],
];
