// The GGUF reader: values, layouts and versions it must read, and malformed
// files it must reject with a message naming the file and the key or tensor.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "common/error.h"
#include "gguf/gguf_file.h"
#include "gguf_builder.h"

using ghostline::Error;
using ghostline::ErrorCode;
using ghostline::GgufFile;
using ghostline::GgufOpenOptions;
using ghostline::GgufValue;
using ghostline::GgufValueType;
using ghostline::TensorType;
using gguf_test::ByteWriter;
using gguf_test::GgufBuilder;

namespace {

constexpr uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8, kQ4_K = 12, kBF16 = 30;

// A file parsed from memory, kept together with the bytes it points into.
struct Parsed {
  std::unique_ptr<std::vector<uint8_t>> bytes;
  std::unique_ptr<GgufFile> file;
  GgufFile* operator->() const { return file.get(); }
};

Parsed parse(std::vector<uint8_t> bytes, const GgufOpenOptions& options = {}) {
  Parsed p;
  p.bytes = std::make_unique<std::vector<uint8_t>>(std::move(bytes));
  p.file = GgufFile::from_memory(p.bytes->data(), p.bytes->size(), "test.gguf", options);
  return p;
}

std::vector<uint8_t> filled(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(first + i);
  return v;
}

template <typename T>
T element(const GgufValue& v, size_t i) {
  T x;
  std::memcpy(&x, v.array_data + i * sizeof(T), sizeof(T));
  return x;
}

// A small but complete model-like file: metadata of several kinds and three tensors.
GgufBuilder small_model() {
  GgufBuilder b;
  b.add_string("general.architecture", "llama");
  b.add_u32("llama.block_count", 2);
  b.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  b.add_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
  b.add_tensor("token_embd.weight", {32, 4}, kQ8_0, filled(4 * 34, 1));
  b.add_tensor("output_norm.weight", {32}, kF32, filled(32 * 4, 7));
  b.add_tensor("blk.0.ffn_down.weight", {3, 2}, kF16, filled(3 * 2 * 2, 9));
  return b;
}

// Overwrites a u32 or u64 field of a built file.
template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

}  // namespace

TEST("gguf: reads back every scalar value type") {
  GgufBuilder b;
  b.add_u8("u8", 200);
  b.add_i8("i8", -100);
  b.add_u16("u16", 60000);
  b.add_i16("i16", -30000);
  b.add_u32("u32", 4000000000u);
  b.add_i32("i32", -2000000000);
  b.add_u64("u64", 18000000000000000000ull);
  b.add_i64("i64", -9000000000000000000ll);
  b.add_f32("f32", 0.25f);
  b.add_f64("f64", -1.0e300);
  b.add_bool("yes", true);
  b.add_bool("no", false);
  b.add_string("str", "hello, gguf");
  b.add_string("empty", "");
  auto f = parse(b.build());

  CHECK_EQ(f->metadata().size(), size_t(14));
  CHECK(f->find("u8")->type == GgufValueType::UINT8);
  CHECK_EQ(f->get_u64("u8"), uint64_t(200));
  CHECK_EQ(f->get_i64("i8", 0), int64_t(-100));
  CHECK_EQ(f->get_u64("u16"), uint64_t(60000));
  CHECK_EQ(f->get_i64("i16", 0), int64_t(-30000));
  CHECK_EQ(f->get_u64("u32"), uint64_t(4000000000u));
  CHECK_EQ(f->get_i64("i32", 0), int64_t(-2000000000));
  CHECK_EQ(f->get_u64("u64"), uint64_t(18000000000000000000ull));
  CHECK_EQ(f->get_i64("i64", 0), int64_t(-9000000000000000000ll));
  CHECK_EQ(f->get_f64("f32"), 0.25);
  CHECK_EQ(f->get_f64("f64"), -1.0e300);
  CHECK(f->get_bool("yes", false));
  CHECK(!f->get_bool("no", true));
  CHECK(f->get_string("str") == "hello, gguf");
  CHECK(f->get_string("empty", "x").empty());
  CHECK(f->find("f64")->type == GgufValueType::FLOAT64);
  CHECK(f->find("missing") == nullptr);
}

TEST("gguf: reads back arrays of every element type, and skips arrays of arrays") {
  GgufBuilder b;
  b.add_array_u8("a.u8", {1, 2, 255});
  b.add_array("a.i8", GgufValueType::INT8, std::vector<int8_t>{-1, 5});
  b.add_array("a.u16", GgufValueType::UINT16, std::vector<uint16_t>{65535});
  b.add_array("a.i16", GgufValueType::INT16, std::vector<int16_t>{-2, 3, -4});
  b.add_array_u32("a.u32", {7, 8});
  b.add_array_i32("a.i32", {-9, 10, 11, 12});
  b.add_array_f32("a.f32", {0.5f, -1.5f});
  b.add_array("a.bool", GgufValueType::BOOL, std::vector<uint8_t>{1, 0, 1});
  b.add_array("a.u64", GgufValueType::UINT64, std::vector<uint64_t>{1ull << 40});
  b.add_array("a.i64", GgufValueType::INT64, std::vector<int64_t>{-(1ll << 41)});
  b.add_array("a.f64", GgufValueType::FLOAT64, std::vector<double>{3.25});
  b.add_array_string("a.str", {"x", "", "longer string"});
  b.add_array_f32("a.empty", {});
  b.add_array_of_arrays("a.nested", {{1, 2}, {}, {3}});
  b.add_u32("after", 42);  // proves the skipped arrays were stepped over exactly
  auto f = parse(b.build());

  const GgufValue* v = f->find("a.u8");
  CHECK(v->type == GgufValueType::ARRAY && v->array_type == GgufValueType::UINT8);
  CHECK_EQ(v->array_count, uint64_t(3));
  CHECK_EQ(element<uint8_t>(*v, 2), uint8_t(255));
  CHECK_EQ(element<int8_t>(*f->find("a.i8"), 0), int8_t(-1));
  CHECK_EQ(element<uint16_t>(*f->find("a.u16"), 0), uint16_t(65535));
  CHECK_EQ(element<int16_t>(*f->find("a.i16"), 2), int16_t(-4));
  CHECK_EQ(element<uint32_t>(*f->find("a.u32"), 1), uint32_t(8));
  CHECK_EQ(element<int32_t>(*f->find("a.i32"), 3), int32_t(12));
  CHECK_EQ(element<float>(*f->find("a.f32"), 1), -1.5f);
  CHECK_EQ(element<uint8_t>(*f->find("a.bool"), 1), uint8_t(0));
  CHECK_EQ(element<uint64_t>(*f->find("a.u64"), 0), uint64_t(1ull << 40));
  CHECK_EQ(element<int64_t>(*f->find("a.i64"), 0), int64_t(-(1ll << 41)));
  CHECK_EQ(element<double>(*f->find("a.f64"), 0), 3.25);
  const GgufValue* s = f->find("a.str");
  CHECK(s->array_type == GgufValueType::STRING);
  CHECK_EQ(s->array_strings.size(), size_t(3));
  CHECK(s->array_strings[0] == "x" && s->array_strings[1].empty() && s->array_strings[2] == "longer string");
  CHECK_EQ(f->find("a.empty")->array_count, uint64_t(0));
  const GgufValue* n = f->find("a.nested");
  CHECK(n->array_type == GgufValueType::ARRAY);
  CHECK_EQ(n->array_count, uint64_t(3));
  CHECK(n->array_data == nullptr);
  CHECK_EQ(f->get_u64("after"), uint64_t(42));
}

TEST("gguf: reads versions 2 and 3 alike") {
  for (uint32_t version : {2u, 3u}) {
    auto f = parse(small_model().build(version));
    CHECK_EQ(f->version(), version);
    CHECK_EQ(f->get_u64("llama.block_count"), uint64_t(2));
    CHECK_EQ(f->tensors().size(), size_t(3));
  }
}

TEST("gguf: places tensor data at alignments 32, 64 and a custom 256") {
  for (uint32_t alignment : {32u, 64u, 256u}) {
    GgufBuilder b = small_model();
    auto layout = b.build_with_layout(3, alignment);
    auto f = parse(layout.bytes);
    CHECK_EQ(f->alignment(), uint64_t(alignment));
    CHECK_EQ(f->data_offset(), uint64_t(layout.data_start));
    CHECK_EQ(f->data_offset() % alignment, uint64_t(0));
    for (size_t i = 0; i < f->tensors().size(); i++) {
      const auto& t = f->tensors()[i];
      CHECK_EQ(t.offset, layout.tensor_offset[i]);
      CHECK_EQ(t.offset % alignment, uint64_t(0));
      CHECK(t.data == f->data() + f->data_offset() + t.offset);
    }
    const auto* norm = f->find_tensor("output_norm.weight");
    CHECK(norm != nullptr && norm->data[0] == 7 && norm->data[127] == uint8_t(7 + 127));
  }
}

TEST("gguf: sizes F32, F16, BF16 and Q8_0 tensors") {
  GgufBuilder b;
  b.add_tensor("f32", {5, 3}, kF32, filled(5 * 3 * 4, 0));
  b.add_tensor("f16", {5, 3, 2}, kF16, filled(5 * 3 * 2 * 2, 0));
  b.add_tensor("bf16", {7}, kBF16, filled(7 * 2, 0));
  b.add_tensor("q8_0", {64, 3, 1, 2}, kQ8_0, filled(2 * 3 * 2 * 34, 0));
  auto f = parse(b.build());
  CHECK_EQ(f->find_tensor("f32")->n_bytes, uint64_t(60));
  CHECK_EQ(f->find_tensor("f16")->n_bytes, uint64_t(60));
  CHECK_EQ(f->find_tensor("f16")->n_dims, uint32_t(3));
  CHECK_EQ(f->find_tensor("bf16")->n_bytes, uint64_t(14));
  const auto* q = f->find_tensor("q8_0");
  CHECK_EQ(q->n_bytes, uint64_t(408));
  CHECK_EQ(q->n_elements(), int64_t(384));
  CHECK_EQ(q->ne[3], int64_t(2));
  CHECK_EQ(q->type, uint32_t(TensorType::Q8_0));
  CHECK(f->find_tensor("absent") == nullptr);
}

TEST("gguf: keeps a tensor of a type it does not run, with no data pointer") {
  GgufBuilder b;
  b.add_tensor("blk.0.attn_k.weight", {256, 2}, kQ4_K, filled(2 * 144, 0));
  b.add_tensor("after", {8}, kF32, filled(32, 0));
  auto f = parse(b.build());
  const auto* t = f->find_tensor("blk.0.attn_k.weight");
  CHECK(t != nullptr);
  CHECK_EQ(t->type, kQ4_K);
  CHECK(ghostline::tensor_type_name(t->type) == "q4_K");
  CHECK_EQ(t->n_bytes, uint64_t(0));
  CHECK(t->data == nullptr);
  CHECK_EQ(f->find_tensor("after")->offset, uint64_t(288));
}

TEST("gguf: bounds tensors of types it does not run") {
  GgufBuilder outside;
  outside.add_tensor_info("blk.0.attn_k.weight", {256, 4}, kQ4_K, 0);  // 576 bytes, none present
  CHECK_THROWS_WITH(parse(outside.build()), "tensor \"blk.0.attn_k.weight\" data [");

  GgufBuilder overlap;
  overlap.add_tensor("q4k", {256, 2}, kQ4_K, filled(288, 0));
  overlap.add_tensor("f32", {8}, kF32, filled(32, 0), 256);
  CHECK_THROWS_WITH(parse(overlap.build()), "tensor \"f32\" overlaps tensor \"q4k\"");
}

TEST("gguf: opens a vocabulary-only file with no tensors and no data section") {
  GgufBuilder b;
  b.add_string("tokenizer.ggml.model", "llama");
  b.add_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  std::vector<uint8_t> bytes = b.build();
  // The builder pads to the alignment; a real vocabulary file may end right after the metadata.
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == 0 && end % 32 != 0) end--;
  std::vector<uint8_t> unpadded(bytes.begin(), bytes.begin() + static_cast<long>(end));
  for (const auto* file : {&bytes, &unpadded}) {
    auto meta = parse(*file, {true});
    CHECK(meta->tensors().empty());
    CHECK_EQ(meta->find("tokenizer.ggml.tokens")->array_strings.size(), size_t(3));
    auto full = parse(*file);
    CHECK(full->tensors().empty());
  }
}

TEST("gguf: typed getters convert integers that fit and name the key otherwise") {
  GgufBuilder b;
  b.add_string("llama.block_count", "two");
  b.add_u8("small", 9);
  b.add_i32("negative", -3);
  b.add_u64("huge", 1ull << 63);
  b.add_f32("eps", 1e-6f);
  b.add_bool("flag", true);
  auto f = parse(b.build());
  CHECK_THROWS_WITH(f->get_u64("llama.block_count"),
                    "test.gguf: key \"llama.block_count\" has type string, expected an integer");
  CHECK_EQ(f->get_u64("small"), uint64_t(9));
  CHECK_EQ(f->get_i64("small", 0), int64_t(9));
  CHECK_EQ(f->get_i64("negative", 0), int64_t(-3));
  CHECK_THROWS_WITH(f->get_u64("negative"), "key \"negative\" is -3, expected a non-negative integer");
  CHECK_THROWS_WITH(f->get_i64("huge", 0), "key \"huge\" is 9223372036854775808");
  CHECK_EQ(f->get_u64("huge"), uint64_t(1) << 63);
  CHECK_THROWS_WITH(f->get_u64("absent"), "test.gguf: key \"absent\" is missing");
  CHECK_EQ(f->get_u64("absent", 17), uint64_t(17));
  CHECK_EQ(f->get_i64("absent", -17), int64_t(-17));
  CHECK_NEAR(f->get_f64("eps"), 1e-6, 1e-12);
  CHECK_EQ(f->get_f64("absent", 2.5), 2.5);
  CHECK_THROWS_WITH(f->get_f64("small"), "key \"small\" has type u8, expected a float");
  CHECK_THROWS_WITH(f->get_f64("absent"), "key \"absent\" is missing");
  CHECK(f->get_bool("flag", false));
  CHECK_THROWS_WITH(f->get_bool("small", false), "key \"small\" has type u8, expected a bool");
  CHECK_THROWS_WITH(f->get_string("small"), "key \"small\" has type u8, expected a string");
  CHECK(f->get_string("absent", "fallback") == "fallback");
}

TEST("gguf: rejects every truncated prefix of a valid file") {
  std::vector<uint8_t> bytes = small_model().build();
  int truncated = 0;
  for (size_t n = 0; n < bytes.size(); n++) {
    // A fresh copy of exactly n bytes, so that ASan sees any read past the end.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    try {
      GgufFile::from_memory(prefix.data(), prefix.size(), "cut.gguf");
      check::fail(__FILE__, __LINE__, "prefix of " + std::to_string(n) + " bytes was accepted");
    } catch (const Error& e) {
      if (std::strncmp(e.what(), "cut.gguf: ", 10) != 0) check::fail(__FILE__, __LINE__, e.what());
      if (std::strstr(e.what(), "truncated")) truncated++;
    }
  }
  CHECK(truncated > 100);
  CHECK_EQ(parse(bytes)->tensors().size(), size_t(3));
}

TEST("gguf: says where a file is truncated") {
  GgufBuilder b;
  b.add_u32("first", 1);
  b.add_array_string("tokenizer.ggml.tokens", {"abcdefghijkl", "b"});
  std::vector<uint8_t> bytes = b.build();
  // Cut 3 bytes into the length of the second token: header, first kv, second key, type,
  // element type and count, first token.
  size_t at = 24 + (8 + 5 + 4 + 4) + (8 + 21 + 4 + 4 + 8) + (8 + 12);
  bytes.resize(at + 3);
  CHECK_THROWS_WITH(parse(bytes),
                    ("test.gguf: truncated: metadata key #1 (\"tokenizer.ggml.tokens\") needs 5 more bytes at offset " +
                     std::to_string(at)).c_str());
  bytes.resize(at + 8);  // the second token's length is whole, its one byte is missing
  CHECK_THROWS_WITH(parse(bytes),
                    ("needs 1 more bytes at offset " + std::to_string(at + 8) + " (a string of 1 bytes)").c_str());
  std::vector<uint8_t> tiny = {'G', 'G'};
  CHECK_THROWS_WITH(parse(tiny), "test.gguf: truncated: header needs 2 more bytes at offset 0");
  CHECK_THROWS_WITH(parse({}), "truncated: header");
}

TEST("gguf: rejects a file with bad magic or an unknown version") {
  std::vector<uint8_t> bytes = small_model().build();
  std::memcpy(bytes.data(), "GGML", 4);
  CHECK_THROWS_WITH(parse(bytes), "test.gguf: bad magic \"GGML\" (not a GGUF file)");
  bytes[0] = 0;
  CHECK_THROWS_WITH(parse(bytes), "bad magic \"\\x00GML\"");
  for (uint32_t version : {0u, 1u, 4u, 0x03000000u}) {
    std::vector<uint8_t> v = small_model().build(version);
    try {
      parse(v);
      check::fail(__FILE__, __LINE__, "version " + std::to_string(version) + " was accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Unsupported);
      CHECK(std::strstr(e.what(), ("unsupported GGUF version " + std::to_string(version)).c_str()));
    }
  }
}

TEST("gguf: rejects huge counts before allocating") {
  const uint64_t huge = 1ull << 60;
  ByteWriter kv;
  kv.header(3, 0, huge);
  kv.bytes.resize(60, 0);
  CHECK_THROWS_WITH(parse(kv.bytes),
                    "test.gguf: header: metadata key count 1152921504606846976 is impossible");

  ByteWriter tensors;
  tensors.header(3, huge, 0);
  tensors.bytes.resize(60, 0);
  CHECK_THROWS_WITH(parse(tensors.bytes), "header: tensor count 1152921504606846976 is impossible");

  ByteWriter key;
  key.header(3, 0, 1);
  key.u64(huge);  // key length
  key.bytes.resize(60, 0);
  CHECK_THROWS_WITH(parse(key.bytes), "truncated: metadata key #0 needs 1152921504606846948 more bytes at offset 32 "
                                      "(a string of 1152921504606846976 bytes)");

  GgufBuilder value;
  ByteWriter long_string;
  long_string.u64(~uint64_t(0));
  value.add_raw("general.name", GgufValueType::STRING, long_string.bytes);
  CHECK_THROWS_WITH(parse(value.build()), "truncated: metadata key #0 (\"general.name\") needs ");
  CHECK_THROWS_WITH(parse(value.build()), "(a string of 18446744073709551615 bytes)");

  for (GgufValueType element : {GgufValueType::UINT8, GgufValueType::FLOAT64, GgufValueType::STRING,
                                GgufValueType::ARRAY}) {
    GgufBuilder array;
    ByteWriter header;
    header.u32(static_cast<uint32_t>(element));
    header.u64(huge);
    array.add_raw("tokenizer.ggml.scores", GgufValueType::ARRAY, header.bytes);
    CHECK_THROWS_WITH(parse(array.build()), "metadata key #0 (\"tokenizer.ggml.scores\"): ");
    CHECK_THROWS_WITH(parse(array.build()), "count 1152921504606846976 is impossible");
  }
}

TEST("gguf: rejects unknown value types and deeply nested arrays") {
  GgufBuilder unknown;
  unknown.add_raw("k", 13u, {0, 0, 0, 0});
  CHECK_THROWS_WITH(parse(unknown.build()), "metadata key #0 (\"k\"): unknown value type 13");

  GgufBuilder element;
  ByteWriter w;
  w.u32(99);
  w.u64(0);
  element.add_raw("k", GgufValueType::ARRAY, w.bytes);
  CHECK_THROWS_WITH(parse(element.build()), "unknown array element type 99");

  GgufBuilder deep;
  ByteWriter d;
  for (int i = 0; i < 10; i++) {
    d.u32(static_cast<uint32_t>(GgufValueType::ARRAY));
    d.u64(1);
  }
  d.u32(static_cast<uint32_t>(GgufValueType::UINT8));
  d.u64(0);
  deep.add_raw("deep", GgufValueType::ARRAY, d.bytes);
  CHECK_THROWS_WITH(parse(deep.build()), "metadata key #0 (\"deep\"): arrays nested deeper than");
}

TEST("gguf: rejects tensor data outside the file") {
  GgufBuilder b;
  b.add_tensor("blk.0.attn_q.weight", {8}, kF32, filled(32, 0));
  b.add_tensor_info("blk.0.attn_k.weight", {8}, kF32, 64);
  auto layout = b.build_with_layout();
  std::string expected = "test.gguf: tensor \"blk.0.attn_k.weight\" data [" + std::to_string(layout.data_start + 64) +
                         ", " + std::to_string(layout.data_start + 96) + ") lies outside the file (size " +
                         std::to_string(layout.bytes.size()) + ")";
  CHECK_THROWS_WITH(parse(layout.bytes), expected.c_str());

  GgufBuilder far;
  far.add_tensor_info("x", {8}, kF32, ~uint64_t(0) / 32 * 32);
  CHECK_THROWS_WITH(parse(far.build()), "tensor \"x\" data [beyond 2^64) lies outside the file");
}

TEST("gguf: rejects a misaligned tensor offset") {
  GgufBuilder b;
  b.add_tensor("a", {8}, kF32, filled(32, 0), 16);
  CHECK_THROWS_WITH(parse(b.build()), "tensor info #0 (\"a\"): data offset 16 is not a multiple of the alignment 32");
  GgufBuilder ok;
  ok.add_tensor("a", {8}, kF32, filled(32, 0), 16);
  auto f = parse(ok.build(3, 16));
  CHECK_EQ(f->find_tensor("a")->offset, uint64_t(16));
}

TEST("gguf: rejects overlapping tensors") {
  GgufBuilder b;
  b.add_tensor("a", {16}, kF32, filled(64, 0), 0);
  b.add_tensor("b", {8}, kF32, filled(32, 0), 32);
  CHECK_THROWS_WITH(parse(b.build()), "test.gguf: tensor \"b\" overlaps tensor \"a\"");
  GgufBuilder touching;  // ends meeting exactly are fine
  touching.add_tensor("a", {8}, kF32, filled(32, 0), 32);
  touching.add_tensor("b", {8}, kF32, filled(32, 0), 0);
  CHECK_EQ(parse(touching.build())->tensors().size(), size_t(2));
}

TEST("gguf: rejects duplicate keys and duplicate tensor names") {
  GgufBuilder keys;
  keys.add_u32("llama.block_count", 1);
  keys.add_string("general.name", "x");
  keys.add_u32("llama.block_count", 2);
  CHECK_THROWS_WITH(parse(keys.build()),
                    "metadata key #2 (\"llama.block_count\"): duplicate key (first seen as metadata key #0)");
  GgufBuilder names;
  names.add_tensor("w", {8}, kF32, filled(32, 0));
  names.add_tensor("w", {8}, kF32, filled(32, 0));
  CHECK_THROWS_WITH(parse(names.build()), "tensor info #1 (\"w\"): duplicate tensor name");
}

TEST("gguf: rejects a bad general.alignment") {
  for (uint32_t bad : {0u, 48u, 33u}) {
    GgufBuilder b;
    b.add_u32("general.alignment", bad);
    CHECK_THROWS_WITH(parse(b.build()), ("test.gguf: key \"general.alignment\" is " + std::to_string(bad) +
                                         ", not a power of two").c_str());
  }
  GgufBuilder wide;
  wide.add_u64("general.alignment", 64);
  CHECK_THROWS_WITH(parse(wide.build()), "key \"general.alignment\" has type u64, expected u32");
}

TEST("gguf: rejects bad tensor dimensions and element counts") {
  GgufBuilder none;
  none.add_tensor_info("t", {}, kF32, 0);
  CHECK_THROWS_WITH(parse(none.build()), "tensor info #0 (\"t\"): has 0 dimensions (1 to 4 allowed)");
  GgufBuilder five;
  five.add_tensor_info("t", {1, 1, 1, 1, 1}, kF32, 0);
  CHECK_THROWS_WITH(parse(five.build()), "has 5 dimensions");
  GgufBuilder zero;
  zero.add_tensor_info("t", {4, 0}, kF32, 0);
  CHECK_THROWS_WITH(parse(zero.build()), "tensor info #0 (\"t\"): dimension 1 has size 0");
  GgufBuilder negative;
  negative.add_tensor_info("t", {-4}, kF32, 0);
  CHECK_THROWS_WITH(parse(negative.build()), "dimension 0 has size 18446744073709551612 (too large)");
  GgufBuilder overflow;
  overflow.add_tensor_info("t", {1ll << 32, 1ll << 32}, kF32, 0);
  CHECK_THROWS_WITH(parse(overflow.build()), "tensor info #0 (\"t\"): element count overflows 64 bits");
  GgufBuilder bytes_overflow;  // 2^62 elements fit, 2^64 bytes do not
  bytes_overflow.add_tensor_info("t", {1ll << 31, 1ll << 31}, kF32, 0);
  CHECK_THROWS_WITH(parse(bytes_overflow.build()), "byte size overflows 64 bits");
  GgufBuilder row_overflow;  // one row of 2^62 values takes 2^64 bytes
  row_overflow.add_tensor_info("t", {1ll << 62}, kF32, 0);
  CHECK_THROWS_WITH(parse(row_overflow.build()), "tensor info #0 (\"t\"): byte size overflows 64 bits");
}

TEST("gguf: rejects unknown tensor types and partial Q8_0 blocks") {
  for (uint32_t type : {4u, 31u, 40u, 99u}) {
    GgufBuilder b;
    b.add_tensor_info("t", {32}, type, 0);
    CHECK_THROWS_WITH(parse(b.build()), ("has unknown tensor type " + std::to_string(type)).c_str());
  }
  GgufBuilder q;
  q.add_tensor("blk.0.attn_q.weight", {48, 2}, kQ8_0, filled(102, 0));
  CHECK_THROWS_WITH(parse(q.build()), "tensor info #0 (\"blk.0.attn_q.weight\"): type q8_0 needs rows that are a "
                                      "multiple of 32 values, but ne[0] is 48");
}

TEST("gguf: names hostile names printably and briefly") {
  GgufBuilder b;
  b.add_tensor("bad\n\"name\"" + std::string(200, 'x'), {8}, kF32, {}, 0);
  try {
    parse(b.build());
    check::fail(__FILE__, __LINE__, "accepted a tensor without data");
  } catch (const Error& e) {
    CHECK(std::strstr(e.what(), "tensor \"bad\\x0a\\\"name\\\"xxx"));
    CHECK(std::strstr(e.what(), "xxx...\""));
    CHECK(std::strlen(e.what()) < 300);
  }
}

TEST("gguf: opens a file from disk through a read-only mapping") {
  std::vector<uint8_t> bytes = small_model().build(2, 64);
  char path[] = "/tmp/ghostline_gguf_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  {
    auto f = GgufFile::open(path);
    CHECK(f->path() == path);
    CHECK_EQ(f->size(), bytes.size());
    CHECK_EQ(f->version(), uint32_t(2));
    CHECK_EQ(f->alignment(), uint64_t(64));
    const auto* t = f->find_tensor("token_embd.weight");
    CHECK(t != nullptr && t->data[0] == 1 && t->data[135] == uint8_t(136));
  }
  std::remove(path);
  try {
    GgufFile::open(path);
    check::fail(__FILE__, __LINE__, "opened a missing file");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Io);
    CHECK(std::strstr(e.what(), path));
  }
  CHECK_THROWS_WITH(GgufFile::open("/tmp"), "/tmp: not a regular file");
}

TEST("gguf: reads llama.cpp's stories260K Q8_0 file") {
  auto f = GgufFile::open(GHOSTLINE_TESTDATA "/models/stories260K-q8_0.gguf");
  CHECK_EQ(f->get_u64("llama.block_count"), uint64_t(5));
  CHECK(f->get_string("general.architecture") == "llama");
  CHECK_EQ(f->get_u64("llama.embedding_length"), uint64_t(64));
  const auto* down = f->find_tensor("blk.0.ffn_down.weight");
  const auto* q = f->find_tensor("blk.4.attn_q.weight");
  CHECK(down != nullptr && q != nullptr);
  if (!down || !q) return;
  CHECK_EQ(down->type, uint32_t(TensorType::F16));
  CHECK_EQ(down->ne[0], int64_t(172));
  CHECK_EQ(down->ne[1], int64_t(64));
  CHECK_EQ(down->n_bytes, uint64_t(172 * 64 * 2));
  CHECK_EQ(q->type, uint32_t(TensorType::Q8_0));
  CHECK_EQ(q->n_bytes, uint64_t(64 * 64 / 32 * 34));
  for (const auto& t : f->tensors()) {
    CHECK(t.data != nullptr);
    CHECK(t.data + t.n_bytes <= f->data() + f->size());
  }
}

TEST("gguf: reads llama.cpp's stories260K F32 file") {
  auto f = GgufFile::open(GHOSTLINE_TESTDATA "/models/stories260K-f32.gguf");
  CHECK_EQ(f->get_u64("llama.block_count"), uint64_t(5));
  CHECK(!f->tensors().empty());
  for (const auto& t : f->tensors()) CHECK_EQ(t.type, uint32_t(TensorType::F32));
  CHECK_EQ(f->find_tensor("token_embd.weight")->n_elements(), int64_t(64 * 512));
}

TEST("gguf: reads llama.cpp's vocabulary-only files") {
  auto spm = GgufFile::open(GHOSTLINE_TESTDATA "/vocab/ggml-vocab-llama-spm.gguf", {true});
  CHECK(spm->tensors().empty());
  CHECK(spm->get_string("tokenizer.ggml.model") == "llama");
  const GgufValue* tokens = spm->find("tokenizer.ggml.tokens");
  CHECK(tokens != nullptr && tokens->array_type == GgufValueType::STRING);
  if (tokens) {
    CHECK_EQ(tokens->array_strings.size(), size_t(32000));
    CHECK(tokens->array_strings[1] == "<s>");
  }
  const GgufValue* scores = spm->find("tokenizer.ggml.scores");
  CHECK(scores != nullptr && scores->array_type == GgufValueType::FLOAT32 && scores->array_count == 32000);

  auto bpe = GgufFile::open(GHOSTLINE_TESTDATA "/vocab/ggml-vocab-deepseek-coder.gguf", {true});
  CHECK(bpe->get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(bpe->get_string("tokenizer.ggml.pre") == "deepseek-coder");
  CHECK(bpe->find("tokenizer.ggml.merges") != nullptr);
}
