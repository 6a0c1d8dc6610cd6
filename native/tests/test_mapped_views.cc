// The no-copy weight views a device with a buffer length cap (Metal's
// maxBufferLength) makes over the mapped file: planned on the host, so that
// what Metal binds is checked here without a Mac.
#include <algorithm>
#include <set>

#include "check.h"
#include "common/error.h"
#include "gpu/device_plan.h"
#include "llama_builder.h"

using namespace ghostline;
using namespace ghostline::test;

namespace {

constexpr uint64_t kPage = 4096;

uint64_t ceil_page(uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

struct Mapped {
  std::vector<uint8_t> bytes;
  std::unique_ptr<LlamaModel> model;
  gpu::DevicePlan dp;

  explicit Mapped(const LlamaShape& shape, gpu::WeightPlacement placement = gpu::WeightPlacement::MapFile) {
    bytes = build_llama(shape, 7);
    model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "views.gguf"));
    const BufferPlan plan = plan_buffers(model->hparams(), 64, 8, 1, TensorType::F16);
    dp = gpu::plan_device(*model, plan, placement);
  }
  const gpu::DeviceBufferSpec& weights() const { return dp.buffers[GL_BUF_WEIGHTS]; }
  uint64_t largest_tensor() const {
    uint64_t n = 0;
    for (const auto& r : weights().ranges) n = std::max(n, r.bytes);
    return n;
  }
};

// Tensors spanning several pages each, with boundaries inside pages.
LlamaShape wide_shape(bool tied = false) {
  LlamaShape s;
  s.dim = 256;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.n_ff = 480;
  s.n_vocab = 700;
  s.n_layer = 3;
  s.tied = tied;
  return s;
}

// Every view page-aligned, whole pages, within the cap and the file's last page;
// every tensor of the plan wholly inside the view its binding resolves to, at
// the very bytes the model reads.
void check_views(const Mapped& m, const gpu::MappedViews& v, uint64_t max_bytes) {
  const auto* base = static_cast<const uint8_t*>(m.weights().host_view);
  for (const auto& view : v.views) {
    CHECK_EQ(view.offset % kPage, uint64_t(0));
    CHECK_EQ(view.bytes % kPage, uint64_t(0));
    CHECK(view.bytes > 0 && view.bytes <= max_bytes);
    CHECK(view.offset + view.bytes <= ceil_page(m.weights().bytes));
  }
  std::set<const void*> seen;
  for (const auto& [data, place] : m.dp.weights) {
    seen.insert(data);
    const uint64_t n = tensor_row_bytes(static_cast<TensorType>(place.type), place.cols) * place.rows;
    const auto [index, inner] = v.locate(place.offset);
    CHECK(index < v.views.size());
    if (index >= v.views.size()) continue;
    const auto& view = v.views[index];
    CHECK(inner + n <= view.bytes);
    CHECK(base + view.offset + inner == data);
  }
  // One range per distinct tensor, none left out.
  CHECK_EQ(m.weights().ranges.size(), seen.size());
  CHECK_EQ(v.view_of.size(), seen.size());
}

}  // namespace

TEST("weight views: a small cap splits the mapped file into page-aligned views that hold every tensor whole") {
  Mapped m(wide_shape());
  const uint64_t max_bytes = 2 * ceil_page(m.largest_tensor()) + kPage;
  const gpu::MappedViews v = gpu::plan_mapped_views(m.weights(), kPage, max_bytes);
  std::printf("  file %llu bytes, largest tensor %llu, cap %llu: %zu views\n",
              (unsigned long long)m.weights().bytes, (unsigned long long)m.largest_tensor(),
              (unsigned long long)max_bytes, v.views.size());
  CHECK(v.views.size() > 2);
  check_views(m, v, max_bytes);
}

TEST("weight views: the cap is honoured when it is not a whole number of pages") {
  Mapped m(wide_shape());
  const uint64_t max_bytes = ceil_page(m.largest_tensor()) + kPage + 123;  // floors to whole pages
  const gpu::MappedViews v = gpu::plan_mapped_views(m.weights(), kPage, max_bytes);
  CHECK(v.views.size() > 2);
  check_views(m, v, max_bytes - 123);
}

TEST("weight views: a tied output shares the embedding's range") {
  Mapped m(wide_shape(true));
  CHECK_EQ(m.dp.weights.count(m.model->output.data), size_t(1));
  const gpu::MappedViews v = gpu::plan_mapped_views(m.weights(), kPage, 3 * ceil_page(m.largest_tensor()));
  check_views(m, v, 3 * ceil_page(m.largest_tensor()));
}

TEST("weight views: a cap above the file size gives one view") {
  Mapped m(wide_shape());
  const gpu::MappedViews v = gpu::plan_mapped_views(m.weights(), kPage, uint64_t(1) << 40);
  CHECK_EQ(v.views.size(), size_t(1));
  check_views(m, v, uint64_t(1) << 40);
}

TEST("weight views: a tensor wider than the cap is refused by name") {
  Mapped m(wide_shape());
  CHECK_THROWS_WITH(gpu::plan_mapped_views(m.weights(), kPage, ceil_page(m.largest_tensor()) - kPage), "spans");
  CHECK_THROWS_WITH(gpu::plan_mapped_views(m.weights(), kPage, ceil_page(m.largest_tensor()) - kPage), ".weight\"");
  CHECK_THROWS_WITH(gpu::plan_mapped_views(m.weights(), 3000, uint64_t(1) << 30), "not a power of two");
}

TEST("weight views: a binding at an offset that starts no tensor is refused") {
  Mapped m(wide_shape());
  const gpu::MappedViews v = gpu::plan_mapped_views(m.weights(), kPage, uint64_t(1) << 30);
  const uint64_t embd = m.dp.embedding.offset;
  CHECK_EQ(v.locate(embd).second, embd - v.views[0].offset);
  CHECK_THROWS_WITH(v.locate(embd + 1), "no weight view holds a tensor at offset");
}

TEST("weight views: the copied placement records no ranges, so CUDA's plan is unchanged") {
  Mapped copied(wide_shape(), gpu::WeightPlacement::CopySplitQ8);
  CHECK(copied.weights().ranges.empty());
  CHECK(copied.weights().host_view == nullptr);
  Mapped mapped(wide_shape());
  CHECK(!mapped.weights().ranges.empty());
  // Sorted and disjoint, as the planner requires.
  const auto& r = mapped.weights().ranges;
  for (size_t i = 1; i < r.size(); i++) CHECK(r[i - 1].offset + r[i - 1].bytes <= r[i].offset);
}
