// The N-API binding: converts JavaScript values to the core's types and back,
// and runs loading and evaluation on libuv worker threads. No model logic here.
#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "cpu/cpu_backend.h"
#include "cpu/kernels.h"
#include "cpu/read_bandwidth.h"
#include "cpu/thread_pool.h"
#include "backend/make_backend.h"
#include "model/llama_model.h"
#include "runtime/context.h"

namespace {

using ghostline::ErrorCode;

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Invalid: return "GHOSTLINE_INVALID";
    case ErrorCode::Unsupported: return "GHOSTLINE_UNSUPPORTED";
    case ErrorCode::Io: return "GHOSTLINE_IO";
    case ErrorCode::Cancelled: return "ABORT_ERR";
    case ErrorCode::Backend: return "GHOSTLINE_BACKEND";
  }
  return "GHOSTLINE_ERROR";
}

// A failure carried from a worker thread to the JavaScript thread.
struct Failure {
  std::string message;
  std::string code = "GHOSTLINE_ERROR";
  bool abort = false;
};

Failure failure_from(const std::exception& e) {
  Failure f{e.what()};
  if (const auto* ge = dynamic_cast<const ghostline::Error*>(&e)) {
    f.code = error_code_name(ge->code());
    f.abort = ge->code() == ErrorCode::Cancelled;
  }
  return f;
}

Napi::Error to_js(Napi::Env env, const Failure& f) {
  Napi::Error err = Napi::Error::New(env, f.message);
  err.Set("code", Napi::String::New(env, f.code));
  if (f.abort) err.Set("name", Napi::String::New(env, "AbortError"));
  return err;
}

// Worker that runs `work` off the JavaScript thread and resolves with `done`.
template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = work_();
    } catch (const std::exception& e) {
      failure_ = failure_from(e);
      SetError(failure_.message);
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(done_(Env(), result_));
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(to_js(Env(), failure_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Result result_{};
  Failure failure_;
};

// What one loaded model owns; shared with in-flight workers so that free()
// during an evaluation cannot pull memory from under it.
struct Loaded {
  std::unique_ptr<ghostline::LlamaModel> model;
  std::unique_ptr<ghostline::Context> context;
  ghostline::CpuBackend* cpu = nullptr;  // the backend, when it is the CPU one
  std::string requested_backend;         // what the caller asked for
  std::string fallback_reason;           // why another backend runs instead; empty when none
  std::atomic<bool> cancel{false};
  std::atomic<bool> busy{false};
};

int64_t opt_int(const Napi::Object& o, const char* key, int64_t fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  return o.Get(key).As<Napi::Number>().Int64Value();
}

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod("info", &Model::Info), InstanceMethod("eval", &Model::Eval),
                        InstanceMethod("cancel", &Model::Cancel), InstanceMethod("truncate", &Model::Truncate),
                        InstanceMethod("tokens", &Model::Tokens), InstanceMethod("counters", &Model::Counters),
                        InstanceMethod("free", &Model::Free)});
  }

  Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {}
  void adopt(std::shared_ptr<Loaded> loaded) {
    path_ = loaded->model->file().path();
    loaded_ = std::move(loaded);
  }

 private:
  Loaded& loaded(Napi::Env env) {
    if (!loaded_) throw Napi::Error::New(env, path_ + ": the model has been freed");
    return *loaded_;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Loaded& l = loaded(env);
    const auto& hp = l.model->hparams();
    const auto& plan = l.context->plan();
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", l.model->file().path());
    o.Set("name", hp.name);
    o.Set("nVocab", double(hp.n_vocab));
    o.Set("nCtxTrain", double(hp.n_ctx_train));
    o.Set("dim", double(hp.dim));
    o.Set("nLayer", double(hp.n_layer));
    o.Set("nHead", double(hp.n_head));
    o.Set("nHeadKv", double(hp.n_head_kv));
    o.Set("headDim", double(hp.head_dim));
    o.Set("nFf", double(hp.n_ff));
    o.Set("tiedOutput", hp.tied_output);
    o.Set("nCtx", double(plan.n_ctx));
    o.Set("nBatch", double(plan.n_batch));
    o.Set("nSlots", double(plan.n_slots));
    o.Set("kvType", plan.kv_type == ghostline::TensorType::F16 ? "f16" : "f32");
    o.Set("fileBytes", double(l.model->file().size()));
    o.Set("weightBytes", double(l.model->weight_bytes_total()));
    o.Set("weightBytesPerToken", double(l.model->weight_bytes_per_token()));
    o.Set("bufferBytes", double(plan.total_bytes()));
    o.Set("backend", l.context->backend().name());
    o.Set("requestedBackend", l.requested_backend);
    o.Set("fallbackReason", l.fallback_reason);
    o.Set("device", l.context->backend().device());
    if (l.cpu) {
      o.Set("threads", double(l.cpu->n_threads()));
      o.Set("kernels", std::string(l.cpu->kernels().name));
    }
    return o;
  }

  // eval(slot, Int32Array tokens, allLogits) -> Promise<{logits, nRows, nEvaluated}>
  Napi::Value Eval(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Loaded& l = loaded(env);
    const int slot = info[0].As<Napi::Number>().Int32Value();
    Napi::Int32Array arr = info[1].As<Napi::Int32Array>();
    const bool all = info[2].ToBoolean();
    std::vector<int32_t> tokens(arr.Data(), arr.Data() + arr.ElementLength());
    if (l.busy.exchange(true)) {
      throw Napi::Error::New(env, "the model is already evaluating; wait for it or cancel it first");
    }
    l.cancel.store(false);  // set here, on the JS thread, so a cancel() right after eval() is never lost
    std::shared_ptr<Loaded> keep = loaded_;
    auto* w = new PromiseWorker<ghostline::EvalResult>(
        env,
        [keep, slot, tokens = std::move(tokens), all]() {
          struct Idle {
            std::atomic<bool>& busy;
            ~Idle() { busy.store(false); }
          } idle{keep->busy};
          return keep->context->eval(slot, tokens, all, &keep->cancel);
        },
        [](Napi::Env env, ghostline::EvalResult& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          Napi::Float32Array logits = Napi::Float32Array::New(env, r.logits.size());
          std::copy(r.logits.begin(), r.logits.end(), logits.Data());
          o.Set("logits", logits);
          o.Set("nRows", double(r.n_rows));
          o.Set("nEvaluated", double(r.n_evaluated));
          return o;
        });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (loaded_) loaded_->cancel.store(true);
    return info.Env().Undefined();
  }

  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Loaded& l = loaded(env);
    if (l.busy.load()) throw Napi::Error::New(env, "cannot truncate while the model is evaluating");
    try {
      l.context->truncate(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int64Value());
    } catch (const std::exception& e) {
      throw to_js(env, failure_from(e));
    }
    return env.Undefined();
  }

  Napi::Value Tokens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Loaded& l = loaded(env);
    try {
      const auto& seq = l.context->tokens(info[0].As<Napi::Number>().Int32Value());
      Napi::Int32Array out = Napi::Int32Array::New(env, seq.size());
      std::copy(seq.begin(), seq.end(), out.Data());
      return out;
    } catch (const std::exception& e) {
      throw to_js(env, failure_from(e));
    }
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto c = loaded(env).context->backend().counters();
    Napi::Object o = Napi::Object::New(env);
    o.Set("liveBuffers", double(c.live_buffers));
    o.Set("bufferBytes", double(c.buffer_bytes));
    o.Set("allocations", double(c.allocations));
    o.Set("submits", double(c.submits));
    o.Set("inFlight", double(c.in_flight));
    o.Set("requestsBegun", double(c.requests_begun));
    o.Set("requestsEnded", double(c.requests_ended));
    o.Set("launches", double(c.launches));
    o.Set("deviceUsedBytes", double(c.device_used_bytes));
    o.Set("deviceBudgetBytes", double(c.device_budget_bytes));
    o.Set("poolsPushed", double(c.pools_pushed));
    o.Set("poolsDrained", double(c.pools_drained));
    return o;
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (loaded_ && loaded_->busy.load()) {
      loaded_->cancel.store(true);  // the worker keeps its own reference and finishes
    }
    loaded_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Loaded> loaded_;
  std::string path_;
};

Napi::FunctionReference* model_constructor = nullptr;

// loadModel(path, {threads, nCtx, nBatch, nSlots}) -> Promise<Model>
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>();
  const Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  const int threads = static_cast<int>(opt_int(opts, "threads", 0));
  const std::string backend_name =
      opts.Has("backend") && opts.Get("backend").IsString() ? opts.Get("backend").As<Napi::String>().Utf8Value() : "cpu";
  ghostline::ContextParams params;
  params.n_ctx = opt_int(opts, "nCtx", 0);
  params.n_batch = opt_int(opts, "nBatch", params.n_batch);
  params.n_slots = static_cast<int>(opt_int(opts, "nSlots", 1));
  if (opts.Has("kvType") && !opts.Get("kvType").IsUndefined()) {
    const std::string kv = opts.Get("kvType").ToString().Utf8Value();
    if (kv != "f16" && kv != "f32") {
      throw Napi::TypeError::New(env, "kvType must be \"f16\" or \"f32\", not \"" + kv + "\"");
    }
    params.kv_type = kv == "f32" ? ghostline::TensorType::F32 : ghostline::TensorType::F16;
  }
  auto* w = new PromiseWorker<std::shared_ptr<Loaded>>(
      env,
      [path, threads, params, backend_name]() {
        auto l = std::make_shared<Loaded>();
        l->model = ghostline::LlamaModel::load(path);
        l->requested_backend = backend_name;
        ghostline::BackendChoice choice = ghostline::choose_backend(backend_name, threads);
        l->fallback_reason = choice.fallback_reason;
        try {
          l->cpu = dynamic_cast<ghostline::CpuBackend*>(choice.backend.get());
          l->context = std::make_unique<ghostline::Context>(*l->model, std::move(choice.backend), params);
        } catch (const ghostline::Error& e) {
          // A device that starts but cannot hold the model (out of memory, say) falls back too.
          if (e.code() != ErrorCode::Backend) throw;
          l->fallback_reason = e.what();
          auto cpu = std::make_unique<ghostline::CpuBackend>(threads);
          l->cpu = cpu.get();
          l->context = std::make_unique<ghostline::Context>(*l->model, std::move(cpu), params);
        }
        return l;
      },
      [](Napi::Env env, std::shared_ptr<Loaded>& l) -> Napi::Value {
        Napi::Object obj = model_constructor->New({});
        Model::Unwrap(obj)->adopt(std::move(l));
        return obj;
      });
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// cpuInfo() -> {kernels, physicalCores, available: [...]}
Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernels", std::string(ghostline::cpu::select_kernels().name));
  o.Set("physicalCores", double(ghostline::cpu::physical_core_count()));
  const ghostline::cpu::KernelTable* tables[8];
  const int n = ghostline::cpu::runnable_kernel_tables(tables, 8);
  Napi::Array names = Napi::Array::New(env, static_cast<size_t>(n));
  for (int i = 0; i < n; i++) names.Set(static_cast<uint32_t>(i), std::string(tables[i]->name));
  o.Set("available", names);
  return o;
}

// A read-bandwidth probe and the pool that reads it, shared with in-flight measurements.
struct Probe {
  explicit Probe(int threads, size_t bytes) : pool(threads), probe(pool, bytes) {}
  ghostline::cpu::ThreadPool pool;
  ghostline::cpu::ReadBandwidthProbe probe;
};

Napi::FunctionReference* probe_constructor = nullptr;

// probe.measure(passes) -> Promise<bytes per second>; probe.free()
class ReadProbe : public Napi::ObjectWrap<ReadProbe> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReadProbe",
                       {InstanceMethod("measure", &ReadProbe::Measure), InstanceMethod("free", &ReadProbe::Free)});
  }
  ReadProbe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReadProbe>(info) {}
  void adopt(std::shared_ptr<Probe> probe) { probe_ = std::move(probe); }

 private:
  Napi::Value Measure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!probe_) throw Napi::Error::New(env, "read-bandwidth probe: freed");
    const int passes = std::max(1, info[0].As<Napi::Number>().Int32Value());
    std::shared_ptr<Probe> probe = probe_;
    auto* w = new PromiseWorker<double>(
        env, [probe, passes]() { return probe->probe.measure(passes); },
        [](Napi::Env env, double& v) -> Napi::Value { return Napi::Number::New(env, v); });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Free(const Napi::CallbackInfo& info) {
    probe_.reset();  // a measurement in flight keeps its own reference
    return info.Env().Undefined();
  }
  std::shared_ptr<Probe> probe_;
};

// createReadProbe(threads, bytes) -> Promise<ReadProbe>: the buffer is mapped and written off the JavaScript thread.
Napi::Value CreateReadProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int threads = info[0].As<Napi::Number>().Int32Value();
  const size_t bytes = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  auto* w = new PromiseWorker<std::shared_ptr<Probe>>(
      env,
      [threads, bytes]() {
        return std::make_shared<Probe>(threads > 0 ? threads : ghostline::cpu::physical_core_count(), bytes);
      },
      [](Napi::Env env, std::shared_ptr<Probe>& probe) -> Napi::Value {
        Napi::Object o = probe_constructor->New({});
        ReadProbe::Unwrap(o)->adopt(std::move(probe));
        return o;
      });
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Model::Define(env);
  model_constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo));
  probe_constructor = new Napi::FunctionReference(Napi::Persistent(ReadProbe::Define(env)));
  exports.Set("createReadProbe", Napi::Function::New(env, CreateReadProbe));
  return exports;
}

}  // namespace

NODE_API_MODULE(ghostline, Init)
