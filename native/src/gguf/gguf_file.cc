#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/error.h"

// The format is little-endian and the reader copies fields straight from the bytes.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the GGUF reader assumes a little-endian host");

namespace ghostline {

namespace {

constexpr uint32_t kDefaultAlignment = 32;
// Arrays of arrays are skipped, not decoded; the limit keeps hostile nesting off the stack.
constexpr int kMaxArrayNesting = 4;
// Smallest encodings, used to bound counts by the bytes left before allocating.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // key length, value type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one ne, type, offset
constexpr uint64_t kArrayHeaderBytes = 4 + 8;              // element type, count

// Block geometry of every ggml type (ggml's numbering), so that tensors of types
// we do not run still get a bounded extent. {0, 0} marks numbers ggml retired.
struct BlockGeometry {
  uint32_t elems;
  uint32_t bytes;
};
constexpr BlockGeometry kGgmlBlocks[] = {
    {1, 4},     {1, 2},     {32, 18},   {32, 20},  {0, 0},    {0, 0},   {32, 22},  {32, 24},  // f32 .. q5_1
    {32, 34},   {32, 36},   {256, 84},  {256, 110}, {256, 144}, {256, 176}, {256, 210}, {256, 292},  // q8_0 .. q8_K
    {256, 66},  {256, 74},  {256, 98},  {256, 50}, {32, 18},  {256, 110}, {256, 82}, {256, 136},  // iq2_xxs .. iq4_xs
    {1, 1},     {1, 2},     {1, 4},     {1, 8},    {1, 8},    {256, 56}, {1, 2},    {0, 0},     // i8 .. bf16, 31
    {0, 0},     {0, 0},     {256, 54},  {256, 66}, {0, 0},    {0, 0},   {0, 0},    {32, 17},   // 32 .. mxfp4
};
constexpr uint32_t kGgmlTypeCount = sizeof(kGgmlBlocks) / sizeof(kGgmlBlocks[0]);

const BlockGeometry* block_geometry(uint32_t type) {
  if (type >= kGgmlTypeCount || kGgmlBlocks[type].elems == 0) return nullptr;
  return &kGgmlBlocks[type];
}

// Names and keys come from the file: show them printable and of bounded length.
std::string quoted(std::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

size_t value_type_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
      return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY:
      return 0;
  }
  return 0;
}

bool is_integer(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_signed(GgufValueType type) {
  return type == GgufValueType::INT8 || type == GgufValueType::INT16 || type == GgufValueType::INT32 ||
         type == GgufValueType::INT64;
}

// Reads fields from the buffer, checking every length against the bytes left.
// `what` names the item being read, for messages; it is formatted only on error.
class Reader {
 public:
  Reader(const uint8_t* base, size_t size, const std::string& path) : base_(base), size_(size), path_(path) {}

  void set_item(const char* kind, uint64_t index) {
    kind_ = kind;
    index_ = index;
    has_index_ = true;
    name_ = {};
    has_name_ = false;
  }
  void set_header() {
    kind_ = "header";
    has_index_ = false;
    has_name_ = false;
  }
  void set_name(std::string_view name) {
    name_ = name;
    has_name_ = true;
  }

  // "metadata key #3 (\"general.name\")"
  std::string item() const {
    std::string s = kind_;
    if (has_index_) s += " #" + std::to_string(index_);
    if (has_name_) s += " (" + quoted(name_) + ")";
    return s;
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(ErrorCode::Invalid, path_ + ": " + item() + ": " + message);
  }

  size_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  void need(uint64_t n) const {
    if (n > left()) {
      throw Error(ErrorCode::Invalid, path_ + ": truncated: " + item() + " needs " + std::to_string(n - left()) +
                                          " more bytes at offset " + std::to_string(pos_));
    }
  }

  const uint8_t* take(uint64_t n) {
    need(n);
    const uint8_t* p = base_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

  template <typename T>
  T read() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  uint32_t u32() { return read<uint32_t>(); }
  uint64_t u64() { return read<uint64_t>(); }

  std::string_view str() {
    uint64_t length = u64();
    if (length > left()) {
      throw Error(ErrorCode::Invalid, path_ + ": truncated: " + item() + " needs " + std::to_string(length - left()) +
                                          " more bytes at offset " + std::to_string(pos_) + " (a string of " +
                                          std::to_string(length) + " bytes)");
    }
    return {reinterpret_cast<const char*>(take(length)), static_cast<size_t>(length)};
  }

  // A count of elements of at least `min_bytes` each must fit in the bytes left.
  void check_count(uint64_t count, uint64_t min_bytes, const char* what) const {
    if (min_bytes > 0 && count > left() / min_bytes) {
      fail(std::string(what) + " " + std::to_string(count) + " is impossible: only " + std::to_string(left()) +
           " bytes are left at offset " + std::to_string(pos_) + " and each needs at least " +
           std::to_string(min_bytes));
    }
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
  const char* kind_ = "header";
  uint64_t index_ = 0;
  bool has_index_ = false;
  std::string_view name_;
  bool has_name_ = false;
};

GgufValueType read_value_type(Reader& r, const char* what) {
  uint32_t raw = r.u32();
  if (raw > static_cast<uint32_t>(GgufValueType::FLOAT64)) {
    r.fail(std::string("unknown ") + what + " " + std::to_string(raw));
  }
  return static_cast<GgufValueType>(raw);
}

void skip_array(Reader& r, int depth);

// Skips one array element of `type` (used below arrays of arrays only).
void skip_elements(Reader& r, GgufValueType type, uint64_t count, int depth) {
  if (type == GgufValueType::STRING) {
    r.check_count(count, 8, "string array count");
    for (uint64_t i = 0; i < count; i++) r.str();
  } else if (type == GgufValueType::ARRAY) {
    r.check_count(count, kArrayHeaderBytes, "nested array count");
    for (uint64_t i = 0; i < count; i++) skip_array(r, depth + 1);
  } else {
    uint64_t size = value_type_size(type);
    r.check_count(count, size, "array count");
    r.take(count * size);
  }
}

void skip_array(Reader& r, int depth) {
  if (depth > kMaxArrayNesting) r.fail("arrays nested deeper than " + std::to_string(kMaxArrayNesting));
  GgufValueType type = read_value_type(r, "array element type");
  uint64_t count = r.u64();
  skip_elements(r, type, count, depth);
}

void read_scalar(Reader& r, GgufValue& v) {
  auto set_signed = [&](int64_t x) {
    v.i64 = x;
    v.u64 = static_cast<uint64_t>(x);
  };
  auto set_unsigned = [&](uint64_t x) {
    v.u64 = x;
    v.i64 = static_cast<int64_t>(x);
  };
  switch (v.type) {
    case GgufValueType::UINT8: set_unsigned(r.read<uint8_t>()); break;
    case GgufValueType::INT8: set_signed(r.read<int8_t>()); break;
    case GgufValueType::UINT16: set_unsigned(r.read<uint16_t>()); break;
    case GgufValueType::INT16: set_signed(r.read<int16_t>()); break;
    case GgufValueType::UINT32: set_unsigned(r.read<uint32_t>()); break;
    case GgufValueType::INT32: set_signed(r.read<int32_t>()); break;
    case GgufValueType::UINT64: set_unsigned(r.read<uint64_t>()); break;
    case GgufValueType::INT64: set_signed(r.read<int64_t>()); break;
    case GgufValueType::FLOAT32: v.f64 = r.read<float>(); break;
    case GgufValueType::FLOAT64: v.f64 = r.read<double>(); break;
    case GgufValueType::BOOL: set_unsigned(r.read<uint8_t>() != 0); break;
    case GgufValueType::STRING: v.str = r.str(); break;
    case GgufValueType::ARRAY: break;
  }
}

void read_value(Reader& r, GgufValue& v) {
  v.type = read_value_type(r, "value type");
  if (v.type != GgufValueType::ARRAY) {
    read_scalar(r, v);
    return;
  }
  v.array_type = read_value_type(r, "array element type");
  v.array_count = r.u64();
  if (v.array_type == GgufValueType::STRING) {
    r.check_count(v.array_count, 8, "string array count");
    v.array_strings.reserve(static_cast<size_t>(v.array_count));
    for (uint64_t i = 0; i < v.array_count; i++) v.array_strings.push_back(r.str());
  } else if (v.array_type == GgufValueType::ARRAY) {
    skip_elements(r, GgufValueType::ARRAY, v.array_count, 1);
  } else {
    uint64_t size = value_type_size(v.array_type);
    r.check_count(v.array_count, size, "array count");
    v.array_data = r.take(v.array_count * size);
  }
}

std::string join_errno(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

const char* gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "u8";
    case GgufValueType::INT8: return "i8";
    case GgufValueType::UINT16: return "u16";
    case GgufValueType::INT16: return "i16";
    case GgufValueType::UINT32: return "u32";
    case GgufValueType::INT32: return "i32";
    case GgufValueType::FLOAT32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "u64";
    case GgufValueType::INT64: return "i64";
    case GgufValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path, const GgufOpenOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, join_errno(path, "cannot open"));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    std::string message = join_errno(path, "cannot stat");
    ::close(fd);
    throw Error(ErrorCode::Io, message);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::Io, path + ": not a regular file");
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  // mmap refuses an empty range; an empty file then fails in parse() as truncated.
  if (file->size_ > 0) {
    void* mapping = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      std::string message = join_errno(path, "cannot map");
      ::close(fd);
      throw Error(ErrorCode::Io, message);
    }
    file->mapping_ = mapping;
    file->base_ = static_cast<const uint8_t*>(mapping);
  }
  ::close(fd);  // the mapping keeps the file's pages
  file->parse(options);
  return file;
}

void GgufFile::drop_resident(const void* p, size_t n) const {
#if defined(__linux__)
  if (mapping_ == nullptr || n == 0) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  const auto lo = reinterpret_cast<uintptr_t>(base_), hi = lo + size_;
  // A private, never-written file mapping: dropped pages come back from the file unchanged.
  if (begin < end && begin >= lo && end <= hi) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
#else
  (void)p;
  (void)n;
#endif
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* data, size_t size, const std::string& name,
                                                const GgufOpenOptions& options) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = name;
  file->base_ = data;
  file->size_ = data ? size : 0;
  file->parse(options);
  return file;
}

GgufFile::~GgufFile() {
  if (mapping_) munmap(mapping_, size_);
}

void GgufFile::parse(const GgufOpenOptions& options) {
  // Both modes validate everything; a file with no tensors needs no data section in either.
  (void)options;
  Reader r(base_, size_, path_);

  // Header.
  r.set_header();
  r.need(4);
  const uint8_t* magic = r.take(4);
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    throw Error(ErrorCode::Invalid,
                path_ + ": bad magic " + quoted({reinterpret_cast<const char*>(magic), 4}) + " (not a GGUF file)");
  }
  version_ = r.u32();
  if (version_ != 2 && version_ != 3) {
    std::string hint;
    if (version_ == 0x02000000 || version_ == 0x03000000) hint = " (a big-endian file?)";
    throw Error(ErrorCode::Unsupported, path_ + ": unsupported GGUF version " + std::to_string(version_) + hint +
                                            "; versions 2 and 3 are read");
  }
  uint64_t n_tensors = r.u64();
  uint64_t n_kv = r.u64();
  r.check_count(n_kv, kMinKvBytes, "metadata key count");
  r.check_count(n_tensors, kMinTensorInfoBytes, "tensor count");

  // Metadata.
  for (uint64_t i = 0; i < n_kv; i++) {
    r.set_item("metadata key", i);
    std::string_view key = r.str();
    r.set_name(key);
    auto seen = kv_index_.find(key);
    if (seen != kv_index_.end()) {
      r.fail("duplicate key (first seen as metadata key #" + std::to_string(seen->second) + ")");
    }
    GgufKv kv;
    kv.key.assign(key.data(), key.size());
    read_value(r, kv.value);
    kvs_.push_back(std::move(kv));
    kv_index_.emplace(key, kvs_.size() - 1);
  }

  // From here on look keys up by the strings the file object owns, not by the caller's bytes.
  kv_index_.clear();
  for (size_t i = 0; i < kvs_.size(); i++) kv_index_.emplace(kvs_[i].key, i);

  alignment_ = kDefaultAlignment;
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufValueType::UINT32) {
      throw Error(ErrorCode::Invalid, path_ + ": key \"general.alignment\" has type " +
                                          gguf_value_type_name(a->type) + ", expected u32");
    }
    if (a->u64 == 0 || (a->u64 & (a->u64 - 1)) != 0) {
      throw Error(ErrorCode::Invalid, path_ + ": key \"general.alignment\" is " + std::to_string(a->u64) +
                                          ", not a power of two");
    }
    alignment_ = a->u64;
  }

  // Tensor infos. Recheck the count now that the metadata has been consumed.
  r.set_header();
  r.check_count(n_tensors, kMinTensorInfoBytes, "tensor count");
  tensors_.reserve(static_cast<size_t>(n_tensors));
  // Every tensor's extent, also for types we do not run, for the bounds and overlap checks.
  struct Extent {
    uint64_t offset;
    uint64_t n_bytes;
  };
  std::vector<Extent> tensor_extents;
  tensor_extents.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; i++) {
    r.set_item("tensor info", i);
    std::string_view name = r.str();
    r.set_name(name);
    if (tensor_index_.count(name)) r.fail("duplicate tensor name");
    GgufTensor t;
    t.name.assign(name.data(), name.size());
    t.n_dims = r.u32();
    if (t.n_dims < 1 || t.n_dims > 4) r.fail("has " + std::to_string(t.n_dims) + " dimensions (1 to 4 allowed)");
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; d++) {
      uint64_t ne = r.u64();
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail("dimension " + std::to_string(d) + " has size " + std::to_string(ne) +
               (ne == 0 ? " (must be at least 1)" : " (too large)"));
      }
      t.ne[d] = static_cast<int64_t>(ne);
      if (__builtin_mul_overflow(n_elements, t.ne[d], &n_elements)) {
        r.fail("element count overflows 64 bits");
      }
    }
    t.type = r.u32();
    t.offset = r.u64();

    const BlockGeometry* block = block_geometry(t.type);
    if (!block) r.fail("has unknown tensor type " + std::to_string(t.type));
    if (t.ne[0] % block->elems != 0) {
      r.fail("type " + tensor_type_name(t.type) + " needs rows that are a multiple of " +
             std::to_string(block->elems) + " values, but ne[0] is " + std::to_string(t.ne[0]));
    }
    // Bytes: rows * blocks per row * block bytes, any product of which may overflow.
    uint64_t rows = static_cast<uint64_t>(n_elements / t.ne[0]);
    uint64_t row_bytes = 0, n_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(t.ne[0] / block->elems), block->bytes, &row_bytes) ||
        __builtin_mul_overflow(rows, row_bytes, &n_bytes)) {
      r.fail("byte size overflows 64 bits");
    }
    if (t.offset % alignment_ != 0) {
      r.fail("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(alignment_));
    }
    tensor_extents.push_back({t.offset, n_bytes});
    if (tensor_type_supported(t.type)) t.n_bytes = n_bytes;
    tensors_.push_back(std::move(t));
    tensor_index_.emplace(name, tensors_.size() - 1);
  }

  tensor_index_.clear();
  for (size_t i = 0; i < tensors_.size(); i++) tensor_index_.emplace(tensors_[i].name, i);

  // The data section starts at the next multiple of the alignment.
  data_offset_ = (static_cast<uint64_t>(r.pos()) + alignment_ - 1) / alignment_ * alignment_;

  // Extents: inside the file, and no two overlapping.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  for (size_t i = 0; i < tensors_.size(); i++) {
    const Extent& e = tensor_extents[i];
    uint64_t start = 0, end = 0;
    bool overflow = __builtin_add_overflow(data_offset_, e.offset, &start) ||
                    __builtin_add_overflow(start, e.n_bytes, &end);
    if (overflow || end > size_) {
      throw Error(ErrorCode::Invalid,
                  path_ + ": tensor " + quoted(tensors_[i].name) + " data [" +
                      (overflow ? std::string("beyond 2^64") : std::to_string(start) + ", " + std::to_string(end)) +
                      ") lies outside the file (size " + std::to_string(size_) + ")");
    }
    if (tensors_[i].n_bytes > 0) tensors_[i].data = base_ + start;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensor_extents[a].offset < tensor_extents[b].offset; });
  for (size_t k = 1; k < order.size(); k++) {
    const Extent& prev = tensor_extents[order[k - 1]];
    const Extent& cur = tensor_extents[order[k]];
    if (cur.offset < prev.offset + prev.n_bytes) {
      throw Error(ErrorCode::Invalid, path_ + ": tensor " + quoted(tensors_[order[k]].name) + " overlaps tensor " +
                                          quoted(tensors_[order[k - 1]].name));
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

[[noreturn]] void throw_key(const std::string& path, std::string_view key, const std::string& message) {
  throw Error(ErrorCode::Invalid, path + ": key " + quoted(key) + " " + message);
}

const GgufValue& require(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) throw_key(f.path(), key, "is missing");
  return *v;
}

void expect_integer(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (!is_integer(v.type)) {
    throw_key(f.path(), key, std::string("has type ") + gguf_value_type_name(v.type) + ", expected an integer");
  }
}

uint64_t as_u64(const GgufFile& f, std::string_view key, const GgufValue& v) {
  expect_integer(f, key, v);
  if (is_signed(v.type) && v.i64 < 0) {
    throw_key(f.path(), key, "is " + std::to_string(v.i64) + ", expected a non-negative integer");
  }
  return v.u64;
}

int64_t as_i64(const GgufFile& f, std::string_view key, const GgufValue& v) {
  expect_integer(f, key, v);
  if (!is_signed(v.type) && v.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw_key(f.path(), key, "is " + std::to_string(v.u64) + ", too large for a signed 64-bit integer");
  }
  return v.i64;
}

double as_f64(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (v.type != GgufValueType::FLOAT32 && v.type != GgufValueType::FLOAT64) {
    throw_key(f.path(), key, std::string("has type ") + gguf_value_type_name(v.type) + ", expected a float");
  }
  return v.f64;
}

std::string as_string(const GgufFile& f, std::string_view key, const GgufValue& v) {
  if (v.type != GgufValueType::STRING) {
    throw_key(f.path(), key, std::string("has type ") + gguf_value_type_name(v.type) + ", expected a string");
  }
  return std::string(v.str);
}

}  // namespace

uint64_t GgufFile::get_u64(std::string_view key) const { return as_u64(*this, key, require(*this, key)); }

uint64_t GgufFile::get_u64(std::string_view key, uint64_t fallback) const {
  const GgufValue* v = find(key);
  return v ? as_u64(*this, key, *v) : fallback;
}

int64_t GgufFile::get_i64(std::string_view key, int64_t fallback) const {
  const GgufValue* v = find(key);
  return v ? as_i64(*this, key, *v) : fallback;
}

double GgufFile::get_f64(std::string_view key) const { return as_f64(*this, key, require(*this, key)); }

double GgufFile::get_f64(std::string_view key, double fallback) const {
  const GgufValue* v = find(key);
  return v ? as_f64(*this, key, *v) : fallback;
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufValueType::BOOL) {
    throw_key(path_, key, std::string("has type ") + gguf_value_type_name(v->type) + ", expected a bool");
  }
  return v->u64 != 0;
}

std::string GgufFile::get_string(std::string_view key) const { return as_string(*this, key, require(*this, key)); }

std::string GgufFile::get_string(std::string_view key, const std::string& fallback) const {
  const GgufValue* v = find(key);
  return v ? as_string(*this, key, *v) : fallback;
}

}  // namespace ghostline
